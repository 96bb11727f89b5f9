"""Leaving a voicemail message (the `compose` action of the `voicemail` module).

A full box (`max_message_count` new and saved messages, 0: no limit) plays a notice, enqueues a
`voicemail_full` notification for the owner and ends the call. Otherwise: answer, the greeting
(the box's `media.unavailable`, a path or a Kazoo media id, else "the person at extension
<mailbox> is not available"; none with `skip_greeting`), the instructions (none with
`skip_instructions`), a beep, then `record` up to the maximum length (`#` or 5 s of silence end
it).

Once FreeSWITCH has recorded, the call counts as *voicemail left* (no missed-call alert), even
when the message is discarded for being shorter than `min_message_length` — as Kazoo does: the
caller reached voicemail. When FreeSWITCH could not record at all (it could not open the file:
no record_ms on the completion), nothing was left and the missed-call alert stays due. A kept
message is stored and a `voicemail_to_email` job is enqueued for the owner (and the box's
`notify_email_addresses`) before anything else is sent to FreeSWITCH, so a caller hanging up
right after recording loses nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import multiset
from controller.flow import Next
from controller.modules import media_refs, prompts
from controller.modules import voicemail_boxes as boxes
from controller.modules.play import media_path
from controller.notify.calldata import call_data, instance_of
from controller.notify.job import make_job

log = logging.getLogger(__name__)

BEEP = "tone_stream://%(500,0,800)"
PERSON_AT = "voicemail/vm-person.wav"
NOT_AVAILABLE = "voicemail/vm-not_available.wav"
INSTRUCTIONS = "voicemail/vm-record_message.wav"
SAVED = "voicemail/vm-saved.wav"
GOODBYE = "voicemail/vm-goodbye.wav"
FULL = "voicemail/vm-mailbox_full.wav"
SILENCE = ("200", "5")  # record's silence threshold and seconds of silence that end a message


def compose(call: Call, data: Mapping[str, Any], box: dict[str, Any]) -> Next:
    counts = call.services.messages.counts(call.account_id, box["id"])
    limit = int(box.get("max_message_count", 100))
    if limit and counts["new"] + counts["saved"] >= limit:
        log.info("call %s: voicemail box %s is full", call.uuid, box["id"])
        notify(call, box, "voicemail_full", {**counts_data(counts), "max_messages": limit})
        call.channel.execute_all([("answer", ""), ("playback", FULL)])
        return None
    call.channel.execute_all([("answer", ""), *greeting(box, unavailable(call, box))])
    media_id = uuid.uuid4().hex
    where = boxes.folder(call, box)
    path = f"{where}/{media_id}.wav"
    maximum = int(data.get("max_message_length") or box.get("max_message_length", 500))
    event = call.channel.execute_all([
        multiset({"playback_terminators": "#"}),
        ("playback", BEEP),
        *boxes.recording(where, path, maximum, SILENCE),
    ])
    milliseconds = boxes.recorded_ms(event)
    if milliseconds is None:
        log.error("call %s: voicemail for box %s not recorded: FreeSWITCH could not write %s "
                  "(the caller is treated as not having reached voicemail)", call.uuid, box["id"], path)
        return None
    call.mark_voicemail_left()
    seconds = milliseconds / 1000
    if seconds < int(box.get("min_message_length", 3)):
        log.info("call %s: %.1f s message discarded (shorter than the minimum)", call.uuid, seconds)
        boxes.discard(path)
        return None
    keep(call, box, {"media_id": media_id, "length": int(seconds), "media_path": path})
    prompts.play(call, prompts.Prompt(file=SAVED), prompts.Prompt(file=GOODBYE))
    return None


def unavailable(call: Call, box: Mapping[str, Any]) -> str:
    """What `playback` takes for the box's own greeting (`media.unavailable`: a path, or a Kazoo
    media id, as cf_voicemail resolves it with kz_media_util:media_path); "" for none."""
    media = media_refs.resolve(call, (box.get("media") or {}).get("unavailable"))
    return media_path(media) if isinstance(media, str) else ""


def greeting(box: Mapping[str, Any], recorded: str) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []
    if box.get("skip_greeting") is not True:
        if recorded:
            steps.append(("playback", recorded))
        else:
            steps += [("playback", PERSON_AT), ("say", f"en NUMBER ITERATED {box.get('mailbox', '')}"),
                      ("playback", NOT_AVAILABLE)]
    if box.get("skip_instructions") is not True:
        steps.append(("playback", INSTRUCTIONS))
    return steps


def keep(call: Call, box: dict[str, Any], recording: dict[str, Any]) -> None:
    message = call.services.messages.add(call.account_id, box["id"], {
        **recording,
        "timestamp": time.time(),
        "caller_id_name": call.caller_id_name,
        "caller_id_number": call.caller_id_number,
        "call_id": call.uuid,
    })
    counts = call.services.messages.counts(call.account_id, box["id"])
    notify(call, box, "voicemail_to_email", {
        **counts_data(counts),
        "message_id": message["media_id"],
        "length": message["length"],
        "timestamp": message["timestamp"],
        "media_path": message["media_path"],
    })


def counts_data(counts: Mapping[str, int]) -> dict[str, int]:
    return {"new_count": counts["new"], "saved_count": counts["saved"]}


def notify(call: Call, box: Mapping[str, Any], kind: str, voicemail: dict[str, Any]) -> None:
    recipients: list[dict[str, Any]] = []
    if box.get("owner_id"):
        recipients.append({"type": "user", "id": str(box["owner_id"])})
    extra = [str(a) for a in box.get("notify_email_addresses") or []]
    if extra:
        recipients.append({"type": "email", "id": extra})
    about = {"box_id": str(box["id"]), "mailbox": str(box.get("mailbox", "")), **voicemail}
    if box.get("name"):
        about["box_name"] = str(box["name"])
    job = make_job(kind, call.account_id, call_data(call), instance=instance_of(call),
                   recipients=recipients, data={"voicemail": about})
    call.services.queue.enqueue(job)
