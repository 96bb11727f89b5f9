"""device — ring one device (Kazoo's cf_device).

Data: `id` (the device), `timeout` (seconds, default 20), `delay` (default 0), `can_call_self`
(default false). Outcome as for `user`: answered stops the flow; a failure takes the child named
after the cause or SIP code, else `_`.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging


def handle(data: dict[str, Any], call: Call) -> Next:
    device = call.services.devices.find(call.account_id, str(data.get("id", "")))
    if device is None or device.get("enabled", True) is False:
        return DEFAULT_CHILD
    realm = str(call.services.accounts.get(call.account_id).get("realm") or "")
    legs = bridging.legs_for(call, realm, [device], data)
    if not legs:
        return DEFAULT_CHILD
    return bridging.bridge(call, legs)
