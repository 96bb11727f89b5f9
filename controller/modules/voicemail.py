"""voicemail — leave a message in a box, or log in to a box to listen (Kazoo's cf_voicemail).

Data: `id` (the box; absent: the box whose mailbox number the callflow pattern captured, e.g.
`^\\*98(\\d+)$`, else for `check` the caller is asked for the mailbox number), `action`
(`compose`, the default, or `check`), `max_message_length` (seconds; overrides the box's),
`interdigit_timeout` (ms, for mailbox numbers and PINs), `single_mailbox_login` and
`callerid_match_login` (for `check`, see `voicemail_check.py`).

`compose` (see `voicemail_compose.py`) records a message; when the box's owner calls their own
box from one of their devices and the box has `check_if_owner` (the default), they are logged in
to listen instead, as Kazoo does. A box that cannot be found continues to `_`. Callers and owners
press Kazoo's keys (`voicemail_keys.py`): the main menu and messages in `voicemail_check.py` and
`voicemail_listen.py`, the settings in `voicemail_config.py`.

The recordings are files on the FreeSWITCH host, under `CONTROLLER_VOICEMAIL_DIR`
(`<dir>/<account>/<box>/<message>.wav`); their metadata (caller, time, length, path, folder) is
kept in Redis (`store/voicemail.py`).
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import voicemail_boxes as boxes
from controller.modules import voicemail_check, voicemail_compose

log = logging.getLogger(__name__)


def handle(data: dict[str, Any], call: Call) -> Next:
    box = boxes.find_box(call, data)
    if data.get("action") == "check":
        return voicemail_check.check(call, data, box)
    if box is None:
        log.warning("call %s: voicemail box %r not found", call.uuid, data.get("id") or call.capture_group)
        return DEFAULT_CHILD
    owner = boxes.caller_owner(call)
    if owner and owner == box.get("owner_id") and box.get("check_if_owner", True) is not False:
        log.info("call %s: the owner of box %s calls it: logging in", call.uuid, box["id"])
        return voicemail_check.check(call, data, box)
    return voicemail_compose.compose(call, data, box)
