"""Forwarding a message to another box of the account (`3` after a message; Kazoo's
cf_voicemail forward_message with its default `vm_message_forward_type`, `only_forward`: the
message as it is, without a comment recorded before it).

The owner types the other box's number (`vm-enter_forward_id`); the box being checked, or a
number no box has, is `menu-invalid_entry`, three tries, then `vm-forward_abort`. A full box takes
no forward (`vm-mailbox_full`). The recording is copied into the other box's folder (each box
owns its files: deleting one copy leaves the other), the copy becomes a new message there, with
the original caller and time, and its owner gets the `voicemail_to_email` notification as for a
message left by a caller (`vm-forward_confirmed`). The message heard is then saved, as Kazoo
does.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import one_line
from controller.modules import voicemail_boxes as boxes
from controller.modules import voicemail_notify
from controller.modules.prompts import Collect, Prompt
from controller.modules.voicemail_prompts import collect, play

log = logging.getLogger(__name__)

TRIES = 3
ENTER_FORWARD_ID = Prompt(file="voicemail/vm-enter_forward_id.wav")
INVALID = Prompt(file="voicemail/menu-invalid_entry.wav")
ABORT = Prompt(file="voicemail/vm-forward_abort.wav")
CONFIRMED = Prompt(file="voicemail/vm-forward_confirmed.wav")
FULL = Prompt(file="voicemail/vm-mailbox_full.wav")
COPIED = ("caller_id_name", "caller_id_number", "call_id", "timestamp", "length")


def forward(call: Call, data: Mapping[str, Any], message: Mapping[str, Any], source: Mapping[str, Any]) -> bool:
    """Copy `message` into a box the owner names; True once it is there."""
    target = destination(call, data, source)
    if target is None:
        play(call, ABORT)
        return False
    if voicemail_notify.is_full(call, target):
        play(call, FULL)
        return False
    media_id = uuid.uuid4().hex
    path = copy_recording(call, str(message.get("media_path") or ""), target, media_id)
    if path is None:
        play(call, ABORT)
        return False
    copy = {**{k: message[k] for k in COPIED if k in message}, "media_id": media_id, "media_path": path}
    voicemail_notify.keep(call, target, copy, forwarded=True)
    log.info("call %s: message %s of box %s forwarded to box %s", call.uuid, message.get("media_id"),
             source["id"], target["id"])
    play(call, CONFIRMED)
    return True


def destination(call: Call, data: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any] | None:
    how = Collect(max_digits=15, timeout_ms=5000, interdigit_ms=int(data.get("interdigit_timeout", 2000)))
    for _ in range(TRIES):
        number = collect(call, ENTER_FORWARD_ID, how, "vm_forward_to")
        box = boxes.box_by_mailbox(call, number) if number else None
        if box is not None and box["id"] != source["id"]:
            return box
        play(call, INVALID)
    return None


def copy_recording(call: Call, path: str, target: Mapping[str, Any], media_id: str) -> str | None:
    """Copy a recording of the voicemail folder into the target box's folder (which FreeSWITCH's
    `mkdir` makes, as before a `record`, so that it owns it); None when the recording is not in
    the folder or cannot be copied (logged)."""
    root = os.path.realpath(call.services.settings.voicemail_dir)
    source = os.path.realpath(path) if path else ""
    if not source or os.path.commonpath([source, root]) != root or not os.path.isfile(source):
        log.warning("call %s: recording %r cannot be forwarded: not a file of %s", call.uuid, path, root)
        return None
    folder = boxes.folder(call, target)
    copied = f"{folder}/{media_id}{os.path.splitext(source)[1] or '.wav'}"
    call.channel.execute("mkdir", one_line(folder))  # made by FreeSWITCH: it records there later
    try:
        shutil.copyfile(source, copied)
    except OSError as exc:
        log.warning("call %s: recording %s not copied to %s: %s", call.uuid, source, copied, exc)
        return None
    return copied
