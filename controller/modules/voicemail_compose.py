"""Leaving a voicemail message (the `compose` action of the `voicemail` module).

A full box (`max_message_count` new and saved messages, 0: no limit) plays a notice (`*` during
it logs in), enqueues a `voicemail_full` notification for the owner and ends the call. Otherwise: answer, the greeting
(the box's temporary greeting `media.temporary_unavailable` while it has one, else its
`media.unavailable`, a path or a Kazoo media id, else "the person at extension <mailbox> is not
available"; none with `skip_greeting`), the instructions (none with `skip_instructions`), a
beep, then `record` up to the maximum length (any key or 5 s of silence end it).

Kazoo's keys while the greeting plays (any key stops it): `*` logs in to the box (the `check`
action), `0` rings the operator (the account's callflow for the box's `operator_number`, else
for `0`; none: the message is recorded), any other key skips to the beep. After the recording
(Kazoo's review, `vm-review_recording`): `1` keep it, `2` hear it, `3` record it again, `0` keep
it and ring the operator; no choice keeps it too. Then `vm-saved` and `vm-thank_you`.

Once FreeSWITCH has recorded, the call counts as *voicemail left* (no missed-call alert), even
when the message is discarded for being shorter than `min_message_length` — as Kazoo does: the
caller reached voicemail. When FreeSWITCH could not record at all (it could not open the file:
no record_ms on the completion), nothing was left and the missed-call alert stays due. A message
is stored and its `voicemail_to_email` job enqueued (`voicemail_notify.py`) once the caller kept
it, or at once when the caller hangs up after recording or during the review: a caller hanging
up loses nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.errors import ChannelGoneError
from controller.esl.safety import multiset
from controller.flow import Branch, Next
from controller.modules import media_refs, prompts, voicemail_check, voicemail_notify
from controller.modules import voicemail_boxes as boxes
from controller.modules import voicemail_greetings as greetings
from controller.modules import voicemail_keys as keys
from controller.modules import voicemail_prompts as spoken
from controller.modules.play import media_path

log = logging.getLogger(__name__)

BEEP = "tone_stream://%(500,0,800)"
PERSON_AT = "voicemail/vm-person.wav"
NOT_AVAILABLE = "voicemail/vm-not_available.wav"
INSTRUCTIONS = "voicemail/vm-record_message.wav"
SAVED = prompts.Prompt(file="voicemail/vm-saved.wav")
THANK_YOU = prompts.Prompt(file="voicemail/vm-thank_you.wav")
FULL = "voicemail/vm-mailbox_full.wav"
SILENCE = ("200", "5")  # record's silence threshold and seconds of silence that end a message
ANY_KEY = "1234567890*#"  # Kazoo's ?ANY_DIGIT
RECORD_TRIES = 5  # `3` (record again) this many times: the last try is kept


def compose(call: Call, data: Mapping[str, Any], box: dict[str, Any]) -> Next:
    if voicemail_notify.is_full(call, box):
        counts = call.services.messages.counts(call.account_id, box["id"])
        log.info("call %s: voicemail box %s is full", call.uuid, box["id"])
        voicemail_notify.notify(call, box, "voicemail_full", {
            **voicemail_notify.counts_data(counts), "max_messages": int(box.get("max_message_count", 100))})
        if greet(call, spoken.steps(call, FULL)) == keys.LOGIN:  # Kazoo lets the owner log in here too
            return voicemail_check.check(call, data, box)
        return None
    key = greet(call, greeting(call, box, unavailable(call, box)))
    if key == keys.LOGIN:
        log.info("call %s: the caller logs in to box %s", call.uuid, box["id"])
        return voicemail_check.check(call, data, box)
    flow = operator(call, box)
    if key == keys.OPERATOR and flow is not None:
        return flow
    for attempt in range(1, RECORD_TRIES + 1):
        answer = record_message(call, data, box, flow, last=attempt == RECORD_TRIES)
        if answer != "record":
            return answer if isinstance(answer, Branch) else None
    return None


def greet(call: Call, steps: list[tuple[str, str]]) -> str:
    """Answer and play the greeting and instructions until the caller presses a key (any key
    stops a playback, its `playback_terminator_used`); the key, or "" when none was pressed."""
    call.channel.execute_all([("answer", ""), multiset({"playback_terminators": ANY_KEY,
                                                        "playback_terminator_used": ""})])
    for app, arg in steps:
        key = call.channel.execute(app, arg).get("variable_playback_terminator_used", "")
        if key:
            return key
    return ""


def operator(call: Call, box: Mapping[str, Any]) -> Branch | None:
    """The operator's flow: the account's callflow for the box's `operator_number`, else for
    `0` (Kazoo's cf_util:get_operator_callflow; never the `no_match` route)."""
    number = str(box.get("operator_number") or keys.OPERATOR)
    services = call.services
    route = services.matcher.match(call.account_id, number, is_internal=False, views=services.cache)
    return Branch(flow=dict(route.callflow.get("flow") or {}), name=route.callflow_id) if route else None


def record_message(call: Call, data: Mapping[str, Any], box: dict[str, Any], flow: Branch | None,
                   last: bool) -> str | Branch | None:
    """Record one message and review it: "record" to record again (unless `last`), the
    operator's flow, or None."""
    media_id = uuid.uuid4().hex
    where = boxes.folder(call, box)
    path = f"{where}/{media_id}.wav"
    maximum = int(data.get("max_message_length") or box.get("max_message_length", 500))
    event = call.channel.execute_all([
        multiset({"playback_terminators": ANY_KEY}),
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
    recording = {"media_id": media_id, "length": int(seconds), "media_path": path}
    if call.channel.is_gone:
        voicemail_notify.keep(call, box, recording)
        return None
    try:
        choice = greetings.review(call, path, flow)
    except ChannelGoneError:
        voicemail_notify.keep(call, box, recording)
        raise
    if choice == "record" and not last:
        boxes.discard(path)
        return "record"
    voicemail_notify.keep(call, box, recording)
    spoken.play(call, SAVED, *(() if isinstance(choice, Branch) else (THANK_YOU,)))
    return choice if isinstance(choice, Branch) else None


def unavailable(call: Call, box: Mapping[str, Any]) -> str:
    """What `playback` takes for the box's own greeting (`media.temporary_unavailable` while set,
    else `media.unavailable`: a path, or a Kazoo media id, as cf_voicemail resolves it with
    kz_media_util:media_path); "" for none."""
    media = box.get("media") or {}
    media = media_refs.resolve(call, media.get("temporary_unavailable") or media.get("unavailable"))
    return media_path(media) if isinstance(media, str) else ""


def greeting(call: Call, box: Mapping[str, Any], recorded: str) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []
    if box.get("skip_greeting") is not True:
        if recorded:
            steps.append(("playback", recorded))
        else:
            steps += [*spoken.steps(call, PERSON_AT), spoken.number(call, str(box.get("mailbox", "")), "ITERATED"),
                      *spoken.steps(call, NOT_AVAILABLE)]
    if box.get("skip_instructions") is not True:
        steps += spoken.steps(call, INSTRUCTIONS)
    return steps
