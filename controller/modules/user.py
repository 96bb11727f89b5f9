"""user — ring every enabled device of a user (Kazoo's cf_user).

Data: `id` (the user), `timeout` (seconds each device rings, default 20), `delay` (seconds before
the devices start ringing, default 0), `strategy` (`simultaneous`, the default: all at once;
`single`: one after another), `can_call_self` (default false: the device placing the call is not
rung), `fail_on_single_reject` (one device rejecting stops them all).

Each device follows its forwarding (the user's `call_forward`, or the device's own): the forward
number rings instead of it or beside it, with Kazoo's `require_keypress` confirmation
(`forwarding`). A device on do not disturb (its own or the user's) is not rung, nor its
forward; the user's devices include those they are logged in on (`hotdesk`), and not the devices
of theirs another user is logged in on.

Answered: the flow stops there (the call ends with the bridge). Failed: the child named after the
hangup cause is taken (ALLOTTED_TIMEOUT also tries Kazoo's NO_ANSWER), then the one named after
the SIP code, else `_` (typically voicemail). A missing or disabled user, or one with no device to
ring, continues to `_` at once. The dial string and the bridge are in `bridging`.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging, forwarding

log = logging.getLogger(__name__)


def handle(data: dict[str, Any], call: Call) -> Next:
    user_id = str(data.get("id", ""))
    account, user, devices = call.services.ringing_context(call.account_id, user_id)
    if not bridging.is_enabled(user):
        log.info("call %s: user %r missing or disabled", call.uuid, user_id)
        return DEFAULT_CHILD
    realm = str(account.get("realm") or "")
    owned = bridging.owned_by(devices, user_id)
    planned = forwarding.plan(call, owned, {user_id: user}, data, realm=realm, source="user")
    if not planned.legs:
        log.info("call %s: user %r has no device to ring", call.uuid, user_id)
        return DEFAULT_CHILD
    strategy = str(data.get("strategy", "simultaneous"))
    return forwarding.ring(call, planned, strategy, data.get("fail_on_single_reject") is True)
