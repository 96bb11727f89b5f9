"""intercept_feature — a feature code taking over a call of the extension or device it captured
(Kazoo's cf_intercept_feature).

Data: `type` (`extension`: the callflow of the captured number, searched along its `_` children
for a `user` or `device` node; `device`: the device with that SIP username; `user` is Kazoo's
unfinished kind and finds nothing) and `intercept`'s `approved_*` restrictions. With a
restriction, `intercept` decides with it; without, the caller may take only their own calls (the
target user is the calling device's owner, or the target device has the same owner). A target not
found plays Kazoo's `park-no_caller`; a caller not allowed, `intercept-no_channels`.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import Next
from controller.modules import feature_targets, intercept, pickup

log = logging.getLogger(__name__)

NOT_FOUND = "park/park-no_caller.wav"


def handle(data: dict[str, Any], call: Call) -> Next:
    context = pickup.Context(call)
    kind = str(data.get("type") or "extension")
    target = feature_targets.find(call, context, kind, call.capture_group or "", endpoints=False)
    if target is None:
        log.info("call %s: no %s %r to intercept", call.uuid, kind, call.capture_group)
        pickup.say_no(call, NOT_FOUND)
        return None
    restrictions = {key: data[key] for key in pickup.APPROVALS if data.get(key)}
    if not restrictions and not intercept.is_own(target, context):
        pickup.say_no(call, intercept.NO_CHANNELS)
        return None
    intercept.take_over({**restrictions, **target}, call, context)
    return None
