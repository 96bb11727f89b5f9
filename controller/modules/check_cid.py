"""check_cid — route by the caller's number (Kazoo's cf_check_cid).

Data: `regex` (RE2, default `.*`), `use_absolute_mode` (false), `caller_id` {`external` {`name`,
`number`}}, `user_id`.

The caller ID number is tested against `regex` (a search, as Erlang's re:run). No match: the
`nomatch` child, else `_`. A match: with `use_absolute_mode` the child named after the caller's
number itself, else the `match` child; when that child exists and the node gives a whole new
identity (`caller_id.external.name` and `.number` and `user_id`, as Kazoo requires all three),
the caller ID shown from now on is that one (made inert: tenant text) and the call's owner
becomes `user_id`; when it does not exist the flow continues at `_`. A regex RE2 refuses counts
as no match (logged).
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.callflows.patterns import PatternError, compile_pattern
from controller.esl.safety import inert
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import set_cid

log = logging.getLogger(__name__)

MATCH, NOMATCH = "match", "nomatch"


def matches(regex: str, number: str) -> bool:
    try:
        return compile_pattern(regex).search(number) is not None
    except PatternError as exc:
        log.warning("check_cid regex %r refused: %s", regex, exc)
        return False


def handle(data: dict[str, Any], call: Call) -> Next:
    number = call.caller_id_number
    if not matches(str(data.get("regex") or ".*"), number):
        return NOMATCH if NOMATCH in call.children else DEFAULT_CHILD
    child = number if data.get("use_absolute_mode") else MATCH
    if child not in call.children:
        return DEFAULT_CHILD
    update_identity(data, call)
    return child


def update_identity(data: dict[str, Any], call: Call) -> None:
    external = ((data.get("caller_id") or {}).get("external") or {})
    name, number, owner = external.get("name"), external.get("number"), data.get("user_id")
    if not (name and number and owner):
        return
    call.kvs["owner_id"] = str(owner)
    set_cid.present(call, {"effective_caller_id_name": inert(name), "effective_caller_id_number": inert(number)})
