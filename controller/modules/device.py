"""device — ring one device (Kazoo's cf_device).

Data: `id` (the device), `timeout` (seconds, default 20), `delay` (seconds before it rings,
default 0), `can_call_self` (default false: a device calling itself is not rung).

The device follows its forwarding (its own `call_forward`, or its owner's): the forward number
rings instead of it or beside it, with Kazoo's `require_keypress` confirmation; with `failover`
the number rings when the phone is not registered (`forwarding`). On do not disturb it is not
rung; with users logged in on it (`hotdesk`), the first one's settings are its owner's.

The outcome is `user`'s: answered stops the flow; a failure takes the child named after the
hangup cause, then the SIP code, else `_`; a missing, disabled or undialable device continues to
`_` at once. The dial string and the bridge are in `bridging`.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging, forwarding


def handle(data: dict[str, Any], call: Call) -> Next:
    device = call.services.devices.find(call.account_id, str(data.get("id", "")))
    if device is None or not bridging.is_enabled(device):
        return DEFAULT_CHILD
    realm = str(call.services.accounts.get(call.account_id).get("realm") or "")
    owner_id = next(iter(bridging.owner_ids(device)), "")  # a hot desk's user, else its owner
    owner = call.services.users.find(call.account_id, owner_id) if owner_id else None
    planned = forwarding.plan(call, [device], {owner_id: owner} if owner else {}, data, realm=realm, source="device")
    if not planned.legs:
        return DEFAULT_CHILD
    return forwarding.ring(call, planned, "simultaneous", data.get("fail_on_single_reject") is True)
