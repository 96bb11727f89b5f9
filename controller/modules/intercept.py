"""intercept — take over a call of a device or of a user's devices, ringing or answered (Kazoo's
cf_intercept).

Data: `device_id`, else `user_id`, else `group_id` (whose calls: the most restrictive present
wins); `approved_device_id`, else `approved_user_id`, else `approved_group_id` (who may take them,
as `group_pickup`). With none of those, the caller may take the call when the target is their
own (the calling device's owner is `user_id`, or owns `device_id` too) or when the calling
device, or its owner, is a member of `group_id` (Kazoo's maybe_same_user / maybe_same_group).

The call is found in FreeSWITCH's channel list as for `group_pickup`, answered or not (Kazoo's
`Unanswered-Only` and `Unbridged-Only` false), and taken with FreeSWITCH's `intercept`: the caller
is connected to the other party and the device's leg is hung up (PICKED_OFF). Nothing to take:
Kazoo's `intercept-no_channels`; no device: `intercept-no_users`; not allowed:
`intercept-no_channels` as well. The flow stops there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import Next
from controller.modules import pickup

log = logging.getLogger(__name__)

NO_USERS = "intercept/intercept-no_users.wav"
NO_CHANNELS = "intercept/intercept-no_channels.wav"


def handle(data: dict[str, Any], call: Call) -> Next:
    take_over(data, call, pickup.Context(call))
    return None


def take_over(data: Mapping[str, Any], call: Call, context: pickup.Context) -> None:
    approved = context.is_approved(data, default=False) if has_approvals(data) else is_own(data, context)
    if not approved:
        log.info("call %s: not allowed to intercept", call.uuid)
        pickup.say_no(call, NO_CHANNELS)
        return
    devices = context.targets(data)
    if not devices:
        pickup.say_no(call, NO_USERS)
        return
    states = pickup.UNANSWERED | pickup.TALKING
    presences = context.presences(devices)
    own = pickup.owned(call)
    callers = pickup.found_in_channels(call, lambda rows: pickup.callers(rows, presences, call.uuid, states, own))
    if not callers or not pickup.intercept(call, callers[0], unanswered_only=False):
        pickup.say_no(call, NO_CHANNELS)


def has_approvals(data: Mapping[str, Any]) -> bool:
    return any(data.get(key) for key in pickup.APPROVALS)


def is_own(data: Mapping[str, Any], context: pickup.Context) -> bool:
    """Kazoo's maybe_same_user orelse maybe_same_group, for a caller without approvals."""
    owner = context.caller_owner
    if not context.caller_id:
        return False
    if data.get("user_id"):
        if owner and owner == str(data["user_id"]):
            return True
    elif data.get("device_id"):
        target = context.devices.get(str(data["device_id"])) or {}
        if owner and owner == str(target.get("owner_id") or ""):
            return True
    members = (context.groups.get(str(data.get("group_id") or "")) or {}).get("endpoints")
    if not isinstance(members, dict):
        return False
    spec_of = {k: (v or {}).get("type") if isinstance(v, dict) else None for k, v in members.items()}
    return spec_of.get(context.caller_id) == "device" or (bool(owner) and spec_of.get(owner) == "user")
