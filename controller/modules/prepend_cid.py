"""prepend_cid — put a prefix in front of the caller ID (Kazoo's cf_prepend_cid), e.g. "Sales:"
so the callee knows which number was dialled.

Data: `caller_id_name_prefix`, `caller_id_number_prefix`, `action` (`prepend`, the default, or
`reset` to restore the original caller ID). The caller's own text is never put in the command:
the value is built with FreeSWITCH's `${caller_id_name}` expansion of the channel's variable
(the only `${` that reaches the wire, written here, not taken from the caller).
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.esl.safety import inert
from controller.flow import DEFAULT_CHILD, Next


def values(data: dict[str, Any]) -> dict[str, str]:
    if data.get("action") == "reset":
        return {"effective_caller_id_name": "${caller_id_name}", "effective_caller_id_number": "${caller_id_number}"}
    found = {}
    if data.get("caller_id_name_prefix"):
        found["effective_caller_id_name"] = inert(data["caller_id_name_prefix"]) + "${caller_id_name}"
    if data.get("caller_id_number_prefix"):
        found["effective_caller_id_number"] = inert(data["caller_id_number_prefix"]) + "${caller_id_number}"
    return found


def handle(data: dict[str, Any], call: Call) -> Next:
    for name, value in values(data).items():
        # `set`, not multiset: the value must keep its one intended ${...} expansion.
        call.channel.execute("set", f"{name}={value}")
    return DEFAULT_CHILD
