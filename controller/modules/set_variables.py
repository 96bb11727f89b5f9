"""set_variables — set custom channel variables (Kazoo's cf_set_variables). Data:
`custom_channel_vars` (object name -> value), set in one `multiset`."""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next


def handle(data: dict[str, Any], call: Call) -> Next:
    variables = data.get("custom_channel_vars") or {}
    call.channel.set_variables({str(k): _text(v) for k, v in variables.items()})
    return DEFAULT_CHILD


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
