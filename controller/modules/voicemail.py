"""voicemail — leave a message in a box, or log in to a box to listen (Kazoo's cf_voicemail).

Data: `id` (the box; absent: the box whose mailbox number the callflow pattern captured, e.g.
`^\\*98(\\d+)$`, else for `check` the caller is asked for the mailbox number), `action`
(`compose`, the default, or `check`), `max_message_length` (seconds; overrides the box's),
`interdigit_timeout` (ms, for mailbox numbers and PINs), `single_mailbox_login` and
`callerid_match_login` (for `check`, see `voicemail_check.py`).

`compose` (see `voicemail_compose.py`) records a message; when the box's owner calls their own
box from one of their devices and the box has `check_if_owner` (the default), they are logged in
to listen instead, as Kazoo does. A box that cannot be found continues to `_`.

The recordings are files on the FreeSWITCH host, under `CONTROLLER_VOICEMAIL_DIR`
(`<dir>/<account>/<box>/<message>.wav`); their metadata (caller, time, length, path, folder) is
kept in Redis (`store/voicemail.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging, voicemail_check, voicemail_compose

log = logging.getLogger(__name__)


def find_box(call: Call, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The box the node names, or the one whose mailbox number the callflow pattern captured."""
    if data.get("id"):
        return call.services.vmboxes.find(call.account_id, str(data["id"]))
    if call.capture_group:
        return box_by_mailbox(call, call.capture_group)
    return None


def box_by_mailbox(call: Call, mailbox: str) -> dict[str, Any] | None:
    return next((b for b in call.services.vmboxes.all(call.account_id) if b.get("mailbox") == mailbox), None)


def caller_owner(call: Call) -> str | None:
    """The user who owns the device placing the call (None for inbound callers)."""
    username = bridging.calling_username(call)
    device = call.services.calling_device(call.account_id, username) if username else None
    return str(device["owner_id"]) if device and device.get("owner_id") else None


def handle(data: dict[str, Any], call: Call) -> Next:
    box = find_box(call, data)
    if data.get("action") == "check":
        return voicemail_check.check(call, data, box)
    if box is None:
        log.warning("call %s: voicemail box %r not found", call.uuid, data.get("id") or call.capture_group)
        return DEFAULT_CHILD
    owner = caller_owner(call)
    if owner and owner == box.get("owner_id") and box.get("check_if_owner", True) is not False:
        log.info("call %s: the owner of box %s calls it: logging in", call.uuid, box["id"])
        return voicemail_check.check(call, data, box)
    return voicemail_compose.compose(call, data, box)
