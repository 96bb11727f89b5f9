"""set_cid — set the caller ID the callee is shown (Kazoo's cf_set_cid).

Data: `caller_id_name`, `caller_id_number`; an absent or empty one keeps what is shown now.

FreeSWITCH presents `effective_caller_id_name` / `effective_caller_id_number` to the legs a
bridge creates; both are set in one `multiset`, each value on one line and without `${`. What the
call presents is also kept in the call's key-value store (as Kazoo keeps `rewrite_cid_*`), so
that `prepend_cid` with `apply_to: current` builds on it; `presented` and `present` below are the
two modules' shared view of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import inert
from controller.flow import DEFAULT_CHILD, Next

# Channel variable -> the caller's own value in the channel data.
FIELDS = {
    "effective_caller_id_name": "Caller-Caller-ID-Name",
    "effective_caller_id_number": "Caller-Caller-ID-Number",
}
_DATA_KEYS = {"effective_caller_id_name": "caller_id_name", "effective_caller_id_number": "caller_id_number"}


def variables(data: Mapping[str, Any]) -> dict[str, str]:
    """The effective caller ID variables a set_cid node sets."""
    return {var: inert(data[key]) for var, key in _DATA_KEYS.items() if data.get(key)}


def presented(call: Call, variable: str) -> str:
    """What the call presents now for one field: the last value set, else the caller's own."""
    kept = call.kvs.get(variable)
    return str(kept) if kept is not None else call.header(FIELDS[variable])


def present(call: Call, values: Mapping[str, str | None]) -> None:
    """Set (a value) or restore the caller's own (None) caller ID fields, in one `multiset`."""
    for variable, value in values.items():
        call.kvs[variable] = value
    if values:
        call.channel.set_variables({variable: value or "" for variable, value in values.items()})


def handle(data: dict[str, Any], call: Call) -> Next:
    present(call, variables(data))
    return DEFAULT_CHILD
