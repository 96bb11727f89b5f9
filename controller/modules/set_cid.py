"""set_cid — set the caller ID shown to the callee (Kazoo's cf_set_cid). Data:
`caller_id_name`, `caller_id_number` (either may be absent)."""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next


def handle(data: dict[str, Any], call: Call) -> Next:
    variables = {}
    if data.get("caller_id_name"):
        variables["effective_caller_id_name"] = str(data["caller_id_name"])
    if data.get("caller_id_number"):
        variables["effective_caller_id_number"] = str(data["caller_id_number"])
    call.channel.set_variables(variables)
    return DEFAULT_CHILD
