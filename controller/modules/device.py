"""device — ring one device (Kazoo's cf_device).

Data: `id` (the device), `timeout` (seconds, default 20), `delay` (seconds before it rings,
default 0), `can_call_self` (default false: a device calling itself is not rung).

The outcome is `user`'s: answered stops the flow; a failure takes the child named after the
hangup cause, then the SIP code, else `_`; a missing, disabled or undialable device continues to
`_` at once. The dial string and the bridge are in `bridging`.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging


def handle(data: dict[str, Any], call: Call) -> Next:
    device = call.services.devices.find(call.account_id, str(data.get("id", "")))
    if device is None or not bridging.is_enabled(device):
        return DEFAULT_CHILD
    realm = str(call.services.accounts.get(call.account_id).get("realm") or "")
    return bridging.ring(call, [device], realm, data)
