"""user — ring every enabled device of a user (Kazoo's cf_user).

Data: `id` (the user), `timeout` (seconds, default 20), `delay` (seconds before the devices ring,
default 0), `strategy` (`simultaneous`, the default, or `single`: one device after another),
`can_call_self` (default false: the user's own calling device is not rung).
When the call is answered the flow stops there; when it fails the child named after the hangup
cause (then the SIP code) is taken, else `_` (typically voicemail). No device: `_` at once.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging

log = logging.getLogger(__name__)


def handle(data: dict[str, Any], call: Call) -> Next:
    user_id = str(data.get("id", ""))
    account, user, devices = call.services.ringing_context(call.account_id, user_id)
    if user is None or user.get("enabled", True) is False:
        log.info("call %s: user %r missing or disabled", call.uuid, user_id)
        return DEFAULT_CHILD
    legs = bridging.legs_for(call, str(account.get("realm") or ""), bridging.owned_by(devices, user_id), data)
    if not legs:
        log.info("call %s: user %r has no device to ring", call.uuid, user_id)
        return DEFAULT_CHILD
    return bridging.bridge(call, legs, str(data.get("strategy", "simultaneous")))
