"""Listening to a voicemail box (the `check` action of the `voicemail` module).

Login: the box is the node's (or the one the callflow pattern captured); with
`callerid_match_login` the box of the user whose device is calling; with `single_mailbox_login`
the caller's only box; otherwise the caller types the mailbox number. The PIN is then asked,
unless the owner calls from their own device and the box does not `require_pin`. Three failed
logins end the call.

Then the main menu, after the counts of new and saved messages: `1` new messages, `2` saved
messages, `5` record the greeting callers hear, `#` goodbye. Each message is played with its
time and caller, then: `1` replay, `2` save, `7` delete, `6` next, `0` back to the main menu (a new
message that was heard and left alone stays new, as in Kazoo).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import Next
from controller.modules import voicemail_boxes as boxes
from controller.modules.prompts import Collect, Prompt, collect, play

log = logging.getLogger(__name__)

LOGIN_ATTEMPTS = 3
MENU_ROUNDS = 20  # the main menu is left after this many choices (a caller gone silent)
ENTER_ID = Prompt(file="voicemail/vm-enter_id.wav")
ENTER_PIN = Prompt(file="voicemail/vm-enter_pass.wav")
FAILED = Prompt(file="voicemail/vm-fail_auth.wav")
ABORT = Prompt(file="voicemail/vm-abort.wav")
GOODBYE = Prompt(file="voicemail/vm-goodbye.wav")
MAIN_MENU = Prompt(file="voicemail/vm-main_menu.wav")
MESSAGE_MENU = Prompt(file="voicemail/vm-message_menu.wav")
NO_MORE = Prompt(file="voicemail/vm-no_more_messages.wav")
RECORD_GREETING = Prompt(file="voicemail/vm-record_greeting.wav")
SAVED = Prompt(file="voicemail/vm-saved.wav")
DELETED = Prompt(file="voicemail/vm-deleted.wav")


def digits(data: Mapping[str, Any]) -> Collect:
    return Collect(max_digits=30, timeout_ms=5000, interdigit_ms=int(data.get("interdigit_timeout", 2000)))


def check(call: Call, data: Mapping[str, Any], box: dict[str, Any] | None) -> Next:
    call.channel.execute("answer")
    owner = boxes.caller_owner(call)
    box = box or _preselected(call, data, owner)
    box = login(call, data, box, owner)
    if box is None:
        play(call, ABORT)
        return None
    main_menu(call, box)
    play(call, GOODBYE)
    return None


def _preselected(call: Call, data: Mapping[str, Any], owner: str | None) -> dict[str, Any] | None:
    if owner is None or not (data.get("callerid_match_login") or data.get("single_mailbox_login")):
        return None
    owned = boxes.boxes_of(call, owner)
    return owned[0] if len(owned) == 1 or (owned and data.get("callerid_match_login")) else None


def login(call: Call, data: Mapping[str, Any], box: dict[str, Any] | None, owner: str | None) -> dict[str, Any] | None:
    """The box once the caller proved they may open it; None after the last failed attempt."""
    if box is not None and owner and owner == box.get("owner_id") and box.get("require_pin") is not True:
        return box
    for attempt in range(1, LOGIN_ATTEMPTS + 1):
        chosen = box
        if chosen is None:
            mailbox = collect(call, ENTER_ID, digits(data), "vm_mailbox")
            chosen = boxes.box_by_mailbox(call, mailbox)
        pin = collect(call, ENTER_PIN, digits(data), "vm_pin")
        if chosen is not None and pin and pin == str(chosen.get("pin", "")):
            return chosen
        log.info("call %s: voicemail login attempt %d failed", call.uuid, attempt)
        play(call, FAILED)
    return None


def main_menu(call: Call, box: dict[str, Any]) -> None:
    one_key = Collect(max_digits=1, timeout_ms=5000)
    for _ in range(MENU_ROUNDS):
        say_counts(call, box)
        choice = collect(call, MAIN_MENU, one_key, "vm_choice")
        if choice == "1":
            listen(call, box, "new")
        elif choice == "2":
            listen(call, box, "saved")
        elif choice == "5":
            record_greeting(call, box)
        elif choice in ("#", ""):
            return


def say_counts(call: Call, box: Mapping[str, Any]) -> None:
    counts = call.services.messages.counts(call.account_id, box["id"])
    call.channel.execute_all([
        ("playback", "voicemail/vm-you_have.wav"), ("say", f"en NUMBER PRONOUNCED {counts['new']}"),
        ("playback", "voicemail/vm-new.wav"), ("say", f"en NUMBER PRONOUNCED {counts['saved']}"),
        ("playback", "voicemail/vm-saved.wav"),
    ])


def listen(call: Call, box: Mapping[str, Any], folder: str) -> None:
    store, aid = call.services.messages, call.account_id
    one_key = Collect(max_digits=1, timeout_ms=5000)
    for message in store.all(aid, box["id"], folder):
        while True:
            call.channel.execute_all([
                ("say", f"en SHORT_DATE_TIME PRONOUNCED {int(message.get('timestamp', 0))}"),
                ("playback", str(message["media_path"])),
            ])
            choice = collect(call, MESSAGE_MENU, one_key, "vm_choice")
            if choice != "1":
                break
        if choice == "2":
            store.move(aid, box["id"], message["media_id"], "saved")
            play(call, SAVED)
        elif choice == "7":
            store.move(aid, box["id"], message["media_id"], "deleted")
            play(call, DELETED)
        elif choice == "0":
            return
    play(call, NO_MORE)


def record_greeting(call: Call, box: dict[str, Any]) -> None:
    """Record the greeting callers hear (`media.unavailable` of the box)."""
    where = boxes.folder(call, box)
    path = f"{where}/unavailable.wav"
    event = call.channel.execute_all([
        ("playback", RECORD_GREETING.file), ("playback", "tone_stream://%(500,0,800)"),
        *boxes.recording(where, path, 60, ("200", "3")),
    ])
    if (boxes.recorded_ms(event) or 0) >= 1000:
        box["media"] = {**(box.get("media") or {}), "unavailable": path}
        call.services.vmboxes.save(call.account_id, box)
        play(call, SAVED)
