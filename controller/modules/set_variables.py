"""set_variables — set custom channel variables (Kazoo's cf_set_variables).

Data: `custom_application_vars` (Kazoo's form: each set as the channel variable `cav_<name>`,
as Kazoo's ecallmgr names them) and/or `custom_channel_vars` (set under their own names); values
are strings, numbers or booleans (written `true`/`false`); `export` (default false: also hand
the variables to every leg bridged later).

Set: one `multiset` for all of them (values on one line, without `${`). Export: one FreeSWITCH
`export` per variable (it takes one), all sent in one write and waited for once. Names that are
not plain identifiers are dropped: they would split the `multiset` argument. So are the variables
FreeSWITCH runs commands or reads files by (`api_hangup_hook`, `execute_on_answer`, `sound_prefix`,
...: controller/esl/hooks.py), which the schema refuses when the callflow is saved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl import hooks
from controller.esl.safety import inert
from controller.flow import DEFAULT_CHILD, Next

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
# The data's objects and the prefix of the channel variables each becomes.
FIELDS = (("custom_application_vars", "cav_"), ("custom_channel_vars", ""))


def variables(data: Mapping[str, Any]) -> dict[str, str]:
    """The variables a node sets, as the channel will hold them."""
    found = {}
    for field, prefix in FIELDS:
        for name, value in (data.get(field) or {}).items():
            if not _NAME.fullmatch(str(name)):
                log.warning("set_variables: variable name %r refused", name)
            elif hooks.is_hook(prefix + str(name)):
                log.warning("set_variables: variable %r refused: FreeSWITCH runs commands or reads files by it",
                            name)
            else:
                found[prefix + str(name)] = inert(_text(value))
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def handle(data: dict[str, Any], call: Call) -> Next:
    found = variables(data)
    if found and data.get("export") is True:
        call.channel.execute_all([("export", f"{name}={value}") for name, value in found.items()])
    else:
        call.channel.set_variables(found)
    return DEFAULT_CHILD
