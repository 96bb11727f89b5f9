"""conference_feature — join the conference whose id the dialled number carries (Kazoo's
cf_conference_feature): a callflow pattern such as `^\\*5([A-Za-z0-9_-]+)$` or Kazoo's `(.{32})`
captures the conferences document's id, and the caller joins that room as the `conference`
module would (its PIN, member or moderator, tones, welcome prompt: the node's data is
`conference`'s, `id` taken from the capture). Useful for WebRTC clients, whose dial string is
easily built.

The capture is caller-controlled: it names a document only when it is a valid document id
(1..64 letters, digits, `_` or `-`); anything else, or a room that does not exist, continues to
the `_` child. Without a capture group the node's own `id`, else Kazoo's conference service,
applies. In the room the caller has FreeSWITCH's caller controls of the `default` profile (its
conference.conf.xml: 0 mute, * deaf and mute, # leave, 1 to 9 volume and energy).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import conference

log = logging.getLogger(__name__)

DOCUMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def handle(data: dict[str, Any], call: Call) -> Next:
    captured = call.capture_group
    if captured is None:
        return conference.handle(data, call)
    if not DOCUMENT_ID.fullmatch(captured):
        log.info("call %s: captured %r is no conference id, continuing", call.uuid, captured)
        return DEFAULT_CHILD
    log.info("call %s: joining captured conference %s", call.uuid, captured)
    return conference.handle({**data, "id": captured}, call)
