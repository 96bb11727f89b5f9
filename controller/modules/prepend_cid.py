"""prepend_cid — put a prefix before the caller ID the callee is shown (Kazoo's
cf_prepend_cid), e.g. "Sales:" so the callee knows which number was dialled.

Data: `caller_id_name_prefix`, `caller_id_number_prefix`; `action`: `prepend` (the default) or
`reset` (restore the caller's own caller ID: both effective variables are unset); `apply_to`:
`current` (the default, as in Kazoo: prefix what an earlier set_cid or prepend_cid left, so
prefixes add up) or `original` (prefix the caller's own caller ID, replacing an earlier prefix).

The value is composed here, as Kazoo composes it, and set with `multiset` as inert text: not with
`set name=Prefix ${caller_id_name}`, because FreeSWITCH expands an app argument twice there —
once when it runs any app (switch_core_session_exec) and again in `set`/`multiset` (mod_dptools'
base_set) — so a caller ID name such as `${system(...)}` would be expanded by the second pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import inert
from controller.flow import DEFAULT_CHILD, Next
from controller.modules.set_cid import FIELDS, present, presented

PREFIXES = {
    "effective_caller_id_name": "caller_id_name_prefix",
    "effective_caller_id_number": "caller_id_number_prefix",
}


def values(data: Mapping[str, Any], own: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str | None]:
    """The effective caller ID variables to change, from the caller's `own` caller ID or the one
    presented now (`current`), both keyed by variable; None restores the caller's own."""
    if data.get("action") == "reset":
        return dict.fromkeys(PREFIXES)
    base = own if data.get("apply_to") == "original" else current
    return {variable: inert(data[key]) + inert(base[variable]) for variable, key in PREFIXES.items() if data.get(key)}


def handle(data: dict[str, Any], call: Call) -> Next:
    own = {variable: call.header(header) for variable, header in FIELDS.items()}
    current = {variable: presented(call, variable) for variable in FIELDS}
    present(call, values(data, own, current))
    return DEFAULT_CHILD
