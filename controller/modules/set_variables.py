"""set_variables — set custom channel variables (Kazoo's cf_set_variables).

Data: `custom_application_vars` (Kazoo's form: each set as the channel variable `cav_<name>`,
as Kazoo's ecallmgr names them) and/or `custom_channel_vars` (each set as `ecallmgr_<name>`, as
Kazoo's ecallmgr sets custom channel variables); values are strings, numbers or booleans
(written `true`/`false`); `export` (default false: also hand the variables to every leg bridged
later).

Never under a callflow's own name: FreeSWITCH acts on some variables by name whatever their
value (`api_hangup_hook=system ...` runs a shell command at the hangup, `execute_on_answer`,
`group_confirm_file`, `campon_fallback_exten`, `sound_prefix`, ...: controller/esl/hooks.py
lists those known), and a real FreeSWITCH ran a tenant's when they were set as written. With the
prefix no name a tenant writes is one FreeSWITCH knows.

Set: one `multiset` for all of them (values on one line, without `${`). Export: one FreeSWITCH
`export` per variable (it takes one), all sent in one write and waited for once. Names that are
not plain identifiers are dropped: they would split the `multiset` argument.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import inert
from controller.flow import DEFAULT_CHILD, Next

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
# The data's objects and the prefix of the channel variables each becomes.
FIELDS = (("custom_application_vars", "cav_"), ("custom_channel_vars", "ecallmgr_"))


def variables(data: Mapping[str, Any]) -> dict[str, str]:
    """The variables a node sets, as the channel will hold them."""
    found = {}
    for field, prefix in FIELDS:
        for name, value in (data.get(field) or {}).items():
            if _NAME.fullmatch(str(name)):
                found[prefix + str(name)] = inert(_text(value))
            else:
                log.warning("set_variables: variable name %r refused", name)
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
