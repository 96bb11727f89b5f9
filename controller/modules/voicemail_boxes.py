"""Finding voicemail boxes for the `voicemail` module: by the node's id, by the mailbox number a
callflow pattern captured or a caller typed, and the owner of the device placing the call."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import multiset, one_line
from controller.modules import bridging

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


def boxes_of(call: Call, owner: str) -> list[dict[str, Any]]:
    return [b for b in call.services.vmboxes.all(call.account_id) if b.get("owner_id") == owner]


def update_box(call: Call, box: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Write `changes` to the box's stored document (read again, so that an edit made meanwhile
    through the API is kept) and to `box`; a value None removes the field. The store checks the
    document against its schema (DocumentError: nothing is changed), as Kazoo validates the
    vmbox."""
    fresh = call.services.vmboxes.find(call.account_id, str(box["id"])) or dict(box)
    updated = _changed(fresh, changes)
    call.services.vmboxes.save(call.account_id, updated)
    box.clear()
    box.update(updated)


def _changed(doc: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    changed = {**doc, **{k: v for k, v in changes.items() if v is not None}}
    return {k: v for k, v in changed.items() if changes.get(k, "") is not None}


def with_media(box: Mapping[str, Any], name: str, value: str | None) -> dict[str, Any]:
    """The box's `media` with one entry set (None: removed)."""
    media = {k: v for k, v in (box.get("media") or {}).items() if k != name}
    return media if value is None else {**media, name: value}


def caller_owner(call: Call) -> str | None:
    """The user who owns the device placing the call (None for inbound callers)."""
    username = bridging.calling_username(call)
    device = call.services.calling_device(call.account_id, username) if username else None
    return str(device["owner_id"]) if device and device.get("owner_id") else None


def folder(call: Call, box: Mapping[str, Any]) -> str:
    """Where FreeSWITCH writes the box's recordings: `<voicemail_dir>/<account>/<box>` (both ids
    are letters, digits, `_` and `-` by their schemas)."""
    return f"{call.services.settings.voicemail_dir}/{call.account_id}/{box['id']}"


def recording(folder: str, path: str, seconds: int, silence: tuple[str, str]) -> list[tuple[str, str]]:
    """The steps that record `path`: FreeSWITCH's `record` does not create missing folders (it
    fails with "Error Opening File", hangs the caller up with DESTINATION_OUT_OF_ORDER and sets
    no record_ms), so its own `mkdir` makes the box's folder first, wherever FreeSWITCH runs and
    with its permissions; record_ms is cleared so that `recorded_ms` never reads an earlier
    recording's."""
    return [
        multiset({"record_ms": "", "record_seconds": ""}),
        ("mkdir", one_line(folder)),
        ("record", f"{one_line(path)} {seconds} {silence[0]} {silence[1]}"),
    ]


def recorded_ms(event: Mapping[str, str]) -> int | None:
    """The recording's length from the `record` app's completion (record_ms, else
    record_seconds), or None when FreeSWITCH recorded nothing (the file could not be opened)."""
    for name, scale in (("variable_record_ms", 1), ("variable_record_seconds", 1000)):
        value = event.get(name, "")
        if value.isdigit():
            return int(value) * scale
    return None


def discard(path: str) -> None:
    """Remove the recording of a message that is not kept, where this process can reach it (the
    voicemail folder is shared with FreeSWITCH, as the mail sender's attachments need); a file
    out of reach is left, with a line in the log."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("recording %s of a discarded message left: %s", path, exc)
