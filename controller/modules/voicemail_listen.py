"""Listening to the messages of one folder of a box (Kazoo's cf_voicemail play_messages and
message_menu), oldest first.

Each message: `vm-message_number` and its number, the recording, `vm-received` and when it was
left, then `vm-message_menu` and Kazoo's keys: `1` keep it (saved; the next one), `2` hear it
again, `3` forward it to another box (`voicemail_forward.py`; then saved, the next one), `4` the
previous message, `6` the next one (the last one plays again), `7` delete it (the next one), `9`
call its caller back (`voicemail_callback.py`), `0` save it and go back to the main menu. Another
key, or none, is `menu-invalid_entry` and the menu again; three of those in a row go back to the
main menu. A new message that was heard and left alone stays new, as in Kazoo.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import Branch
from controller.modules import voicemail_callback, voicemail_forward
from controller.modules import voicemail_keys as keys
from controller.modules import voicemail_prompts as spoken
from controller.modules.prompts import Prompt
from controller.modules.voicemail_greetings import one_key
from controller.modules.voicemail_prompts import collect, play

log = logging.getLogger(__name__)

MESSAGE_NUMBER = "voicemail/vm-message_number.wav"
RECEIVED = "voicemail/vm-received.wav"
MESSAGE_MENU = Prompt(file="voicemail/vm-message_menu.wav")
INVALID = Prompt(file="voicemail/menu-invalid_entry.wav")
NO_MORE = Prompt(file="voicemail/vm-no_more_messages.wav")
SAVED = Prompt(file="voicemail/vm-saved.wav")
DELETED = Prompt(file="voicemail/vm-deleted.wav")
INVALID_ROUNDS = 3


def listen(call: Call, box: Mapping[str, Any], folder: str, data: Mapping[str, Any]) -> Branch | None:
    """Play the folder's messages; a flow to run instead (a call back), or None for the main menu."""
    messages = call.services.messages.all(call.account_id, box["id"], folder)
    index = deleted = 0
    while index < len(messages):
        message = messages[index]
        choice = choose(call, message, deleted + index + 1, data)  # numbered as Kazoo does
        if choice in (keys.KEEP, keys.RETURN_MAIN, keys.FORWARD):
            if choice == keys.FORWARD:
                voicemail_forward.forward(call, data, message, box)
            move(call, box, message, "saved", SAVED)
            if choice == keys.RETURN_MAIN:
                return None
            index += 1
        elif choice == keys.DELETE:
            move(call, box, message, "deleted", DELETED)
            messages.pop(index)
            deleted += 1
        elif choice == keys.PREV:
            index = max(0, index - 1)
        elif choice == keys.NEXT:
            index = min(index + 1, len(messages) - 1)
        elif choice == keys.CALLBACK:
            branch = voicemail_callback.callback(call, message)
            if branch is not None:
                return branch
        elif choice != keys.REPLAY:
            return None  # no valid key in three rounds
    play(call, NO_MORE)
    return None


def choose(call: Call, message: Mapping[str, Any], number: int, data: Mapping[str, Any]) -> str:
    """Play the message and read the key for it; "" after three rounds without a valid one."""
    timestamp = float(message.get("timestamp", 0))
    received = [*spoken.steps(call, RECEIVED), spoken.date_time(call, timestamp)]
    intro = f"{spoken.SPOKEN['vm-received']} {spoken.date_text(timestamp)}." if spoken.is_spoken(call) else ""
    call.channel.execute_all([
        *spoken.steps(call, MESSAGE_NUMBER), spoken.number(call, number),
        ("playback", str(message["media_path"])), *([] if intro else received),
    ])
    valid = (keys.KEEP, keys.REPLAY, keys.FORWARD, keys.PREV, keys.NEXT, keys.DELETE, keys.CALLBACK,
             keys.RETURN_MAIN)
    for _ in range(INVALID_ROUNDS):
        choice = collect(call, MESSAGE_MENU, one_key(data), "vm_choice", intro)
        if choice in valid:
            return choice
        play(call, INVALID)
        intro = ""
    return ""


def move(call: Call, box: Mapping[str, Any], message: dict[str, Any], folder: str, prompt: Prompt) -> None:
    call.services.messages.move(call.account_id, box["id"], message["media_id"], folder)
    message["folder"] = folder
    play(call, prompt)
