"""group_pickup — answer a call ringing a device, a user's devices or a group's (Kazoo's
cf_group_pickup).

Data: `device_id`, else `user_id`, else `group_id` (whose ringing calls may be picked up: the
most restrictive present wins); `approved_device_id`, else `approved_user_id`, else
`approved_group_id` (who may pick up: the calling device is that device, one of that user's, or a
member of that group; none of them: anyone of the account).

The ringing legs are found in FreeSWITCH's own channel list (`pickup`): unanswered legs to the
target devices, the oldest first. The caller is answered and bridged to the call that rang there
with FreeSWITCH's `intercept` (with `intercept_unanswered_only` and `intercept_unbridged_only`, as
Kazoo's `Unbridged-Only`): the ringing phones stop (PICKED_OFF) and the two talk until one hangs
up. No target device: Kazoo's `pickup-no_users` prompt; nothing ringing: `pickup-no_channels`;
a caller not approved hears "you have no permission to intercept this call". The flow stops
there in every case, as in Kazoo.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import Next
from controller.modules import pickup

log = logging.getLogger(__name__)

NO_USERS = "pickup/pickup-no_users.wav"
NO_CHANNELS = "pickup/pickup-no_channels.wav"
NO_PERMISSION = "flite|kal|you have no permission to intercept this call"


def handle(data: dict[str, Any], call: Call) -> Next:
    context = pickup.Context(call)
    pick_up(data, call, context)
    return None


def pick_up(data: Mapping[str, Any], call: Call, context: pickup.Context) -> None:
    if not context.is_approved(data, default=True):
        log.info("call %s: not approved to pick up", call.uuid)
        call.channel.execute_all([("answer", ""), ("speak", NO_PERMISSION)])
        return
    devices = context.targets(data)
    if not devices:
        pickup.say_no(call, NO_USERS)
        return
    presences = context.presences(devices)
    own = pickup.owned(call)
    callers = pickup.found_in_channels(call, lambda rows: pickup.ringing_callers(rows, presences, call.uuid, own))
    if not callers or not pickup.intercept(call, callers[0], unanswered_only=True):
        pickup.say_no(call, NO_CHANNELS)
