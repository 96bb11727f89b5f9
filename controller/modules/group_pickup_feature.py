"""group_pickup_feature — a feature code (`*8` + an extension) picking up the call that rings
there (Kazoo's cf_group_pickup_feature).

Data: `type` (`extension`, the default: the callflow of the number the code captured is searched,
depth first along its `_` children, for the first `user`, `device`, `ring_group` or `page_group`
node, whose user, device, or first endpoint is the target; `device`: the device with that SIP
username; `user` and `group` are Kazoo's unfinished kinds and find nothing), and `group_pickup`'s
`approved_*` restrictions. Then it runs as `group_pickup` with that target; a target not found
plays Kazoo's `park-no_caller` and the call stops.

    {"patterns": ["^\\\\*8([0-9]+)$"], "flow": {"module": "group_pickup_feature", "data": {"type": "extension"}}}
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import Next
from controller.modules import feature_targets, group_pickup, pickup

log = logging.getLogger(__name__)

NOT_FOUND = "park/park-no_caller.wav"


def handle(data: dict[str, Any], call: Call) -> Next:
    kind = str(data.get("type") or "extension")
    context = pickup.Context(call)
    target = feature_targets.find(call, context, kind, call.capture_group or "")
    if target is None:
        log.info("call %s: no %s %r to pick up from", call.uuid, kind, call.capture_group)
        pickup.say_no(call, NOT_FOUND)
        return None
    group_pickup.pick_up({**data, **target}, call, context)
    return None
