"""The box owner's recordings made from the phone (the settings menu of Kazoo's cf_voicemail):
the unavailable greeting, the temporary greeting and the recorded name, each reviewed before it
is kept; and the review itself, which also follows a caller's message.

Review (Kazoo's review_recording, `vm-review_recording`): `1` keep it, `2` hear it, `3` record it
again, `0` the operator (after a caller's message only); after four rounds with no choice the
recording is taken as it is (a message is kept, a greeting discarded, as Kazoo does).

A greeting is recorded to a new file in the box's folder (`<kind>-<random>.wav`) and set only
once kept, so a discarded try never replaces the greeting callers hear; the file it replaces is
removed when it was one of these. Kept: the box's `media.unavailable` or
`media.temporary_unavailable` (the temporary greeting, when set, is what callers hear instead of
the other: Kazoo's order), and the name in the owner's user document (`media.name`), or the
box's when it has no owner, as Kazoo keeps it.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import Branch
from controller.modules import voicemail_boxes as boxes
from controller.modules import voicemail_keys as keys
from controller.modules import voicemail_prompts as spoken
from controller.modules.prompts import Collect, Prompt
from controller.modules.voicemail_prompts import collect, play

log = logging.getLogger(__name__)

BEEP = "tone_stream://%(500,0,800)"
REVIEW = Prompt(file="voicemail/vm-review_recording.wav")
RECORD_GREETING = Prompt(file="voicemail/vm-record_greeting.wav")
RECORD_TEMPORARY = Prompt(file="voicemail/vm-record_temp_greeting.wav")
RECORD_NAME = Prompt(file="voicemail/vm-record_name.wav")
SAVED = Prompt(file="voicemail/vm-saved.wav")
DELETED = Prompt(file="voicemail/vm-deleted.wav")
REVIEW_ROUNDS = 4
RECORD_TRIES = 3  # records in a row (`3` again and again) before the try is given up
LONGEST = 60  # seconds of a greeting or name
SHORTEST_MS = 1000
SILENCE = ("200", "3")


def one_key(data: Mapping[str, Any] | None = None) -> Collect:
    """One menu key, `#` among them (no terminator)."""
    interdigit = int((data or {}).get("interdigit_timeout", 2000))
    return Collect(max_digits=1, timeout_ms=5000, interdigit_ms=interdigit, terminators="")


def review(call: Call, path: str, operator: Branch | None = None) -> str | Branch:
    """The caller's choice for a recording: "save", "record" (again), "none" (no choice), or the
    operator's flow (`0`, only when `operator` is given)."""
    for _ in range(REVIEW_ROUNDS):
        choice = collect(call, REVIEW, one_key(), "vm_review")
        if choice == keys.LISTEN:
            play(call, Prompt(file=path))
        elif choice == keys.SAVE:
            return "save"
        elif choice == keys.RECORD:
            return "record"
        elif choice == keys.OPERATOR and operator is not None:
            return operator
    return "none"


def record(call: Call, box: Mapping[str, Any], kind: str, prompt: Prompt) -> str | None:
    """Record a greeting or name, reviewed; the new file's path once the owner kept it."""
    where = boxes.folder(call, box)
    for _ in range(RECORD_TRIES):
        path = f"{where}/{kind}-{uuid.uuid4().hex[:12]}.wav"
        event = call.channel.execute_all([
            *spoken.steps(call, prompt), ("playback", BEEP), *boxes.recording(where, path, LONGEST, SILENCE),
        ])
        milliseconds = boxes.recorded_ms(event)
        if milliseconds is None:
            log.warning("call %s: FreeSWITCH could not record %s", call.uuid, path)
            return None
        choice = review(call, path)
        if choice == "save" and milliseconds >= SHORTEST_MS:
            return path
        boxes.discard(path)
        if choice != "record":
            break
    play(call, DELETED)
    return None


def record_unavailable(call: Call, box: dict[str, Any], temporary: bool = False) -> None:
    """Record the greeting callers hear (or the temporary one, which takes its place)."""
    name = "temporary_unavailable" if temporary else "unavailable"
    path = record(call, box, name, RECORD_TEMPORARY if temporary else RECORD_GREETING)
    if path is None:
        return
    old = (box.get("media") or {}).get(name)
    boxes.update_box(call, box, {"media": boxes.with_media(box, name, path)})
    forget(call, box, old)
    play(call, SAVED)


def delete_temporary(call: Call, box: dict[str, Any]) -> None:
    """Callers hear the unavailable greeting again (Kazoo's del_temporary_unavailable)."""
    old = (box.get("media") or {}).get("temporary_unavailable")
    if not old:
        return
    boxes.update_box(call, box, {"media": boxes.with_media(box, "temporary_unavailable", None)})
    forget(call, box, old)
    play(call, SAVED)


def record_name(call: Call, box: dict[str, Any]) -> None:
    """Record the owner's name: on the owner's user document, else on the box."""
    path = record(call, box, "name", RECORD_NAME)
    if path is None:
        return
    users, owner_id = call.services.users, str(box.get("owner_id") or "")
    owner = users.find(call.account_id, owner_id) if owner_id else None
    if owner is not None:
        old = (owner.get("media") or {}).get("name")
        users.save(call.account_id, {**owner, "media": boxes.with_media(owner, "name", path)})
    else:
        old = (box.get("media") or {}).get("name")
        boxes.update_box(call, box, {"media": boxes.with_media(box, "name", path)})
    forget(call, box, old)
    play(call, SAVED)


def forget(call: Call, box: Mapping[str, Any], path: object) -> None:
    """Remove a replaced recording when it is one this module made in the box's folder (a media
    id, an uploaded file or a URL is left alone)."""
    if not isinstance(path, str) or os.path.dirname(path) != boxes.folder(call, box):
        return
    if os.path.basename(path).split("-")[0] in ("unavailable", "temporary_unavailable", "name"):
        boxes.discard(path)
