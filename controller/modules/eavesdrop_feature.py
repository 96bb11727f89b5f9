"""eavesdrop_feature — a feature code listening in on the call of the extension it captured
(Kazoo's cf_eavesdrop_feature).

Data: `approved_device_id`, else `approved_user_id`, else `approved_group_id` (who may use the
code; none: nobody) and `group_id` (only a user or device of this group may be listened to;
none: anyone of the account). The captured number's callflow is searched along its `_` children
for a `user` or `device` node, the target; then it runs as `eavesdrop` on that target for the
calling device. Refused: Kazoo's `eavesdrop-no_channels`.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import Next
from controller.modules import eavesdrop, feature_targets, pickup

log = logging.getLogger(__name__)


def handle(data: dict[str, Any], call: Call) -> Next:
    context = pickup.Context(call)
    target = feature_targets.find(call, context, "extension", call.capture_group or "", endpoints=False)
    allowed = context.is_approved(data, default=False)
    group_id = str(data.get("group_id") or "")
    if allowed and group_id:
        members = (context.groups.get(group_id) or {}).get("endpoints")
        allowed = target is not None and isinstance(members, dict) and next(iter(target.values())) in members
    if not allowed or not context.caller_id:
        log.info("call %s: not approved to eavesdrop on %r", call.uuid, call.capture_group)
        pickup.say_no(call, eavesdrop.NO_PERMISSION)
        return None
    return eavesdrop.handle({**(target or {}), "approved_device_id": context.caller_id}, call)
