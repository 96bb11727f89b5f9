"""eavesdrop — listen in on a call of a device or of a user's devices (Kazoo's cf_eavesdrop), for
training and supervision.

Data: `device_id`, else `user_id` (whose call); `approved_device_id`, else `approved_user_id`,
else `approved_group_id` (who may listen: the calling device is that device, one of that user's,
or a member of that group). Without any of them nobody may: the caller hears Kazoo's
`eavesdrop-no_channels` and the call stops.

The device's leg is found in FreeSWITCH's channel list (`pickup`): a call to the device answered
there, else a call its phone placed (authenticated as it), else one ringing there. The caller,
answered, joins it with FreeSWITCH's `eavesdrop <uuid>` with `eavesdrop_enable_dtmf` (Kazoo's
`Enable-DTMF`): the caller listens to both sides; pressing 2 speaks to the device's side only
(whisper), 1 to the other side only, 3 to both (barge), 0 listens again. It lasts until the
caller or the call hangs up. No device: Kazoo's `pickup-no_users`; no call:
`pickup-no_channels`. The flow stops there.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.esl.safety import multiset
from controller.flow import Next
from controller.modules import pickup

log = logging.getLogger(__name__)

NO_USERS = "pickup/pickup-no_users.wav"
NO_CHANNELS = "pickup/pickup-no_channels.wav"
NO_PERMISSION = "eavesdrop/eavesdrop-no_channels.wav"


def handle(data: dict[str, Any], call: Call) -> Next:
    context = pickup.Context(call)
    if not context.is_approved(data, default=False):
        log.info("call %s: not approved to eavesdrop", call.uuid)
        pickup.say_no(call, NO_PERMISSION)
        return None
    devices = context.targets({k: data[k] for k in ("device_id", "user_id") if k in data})
    if not devices:
        pickup.say_no(call, NO_USERS)
        return None
    presences, usernames = context.presences(devices), context.usernames(devices)
    own = pickup.owned(call)
    legs = pickup.found_in_channels(call, lambda rows: (
        pickup.device_legs(rows, presences, call.uuid, pickup.TALKING, own)
        or pickup.placed_legs(call, rows, usernames, pickup.TALKING, own)
        or pickup.device_legs(rows, presences, call.uuid, pickup.UNANSWERED, own)))
    if not legs:
        pickup.say_no(call, NO_CHANNELS)
        return None
    listen(call, legs[0])
    return None


def listen(call: Call, uuid: str) -> None:
    if not pickup.UUID.fullmatch(uuid):
        raise ValueError("not a channel uuid")
    log.info("call %s: eavesdropping on %s", call.uuid, uuid)
    setup = multiset({"eavesdrop_enable_dtmf": "true"})
    call.channel.execute_all([setup, ("answer", ""), ("eavesdrop", uuid)], pickup.CALL_LENGTH)
