"""Listening to a voicemail box (the `check` action of the `voicemail` module).

Login: the box is the node's (or the one the callflow pattern captured); with
`callerid_match_login` the box of the user whose device is calling; with `single_mailbox_login`
the caller's only box; otherwise the caller types the mailbox number. The PIN is then asked,
unless the owner calls from their own device and the box does not `require_pin`. Three failed
logins end the call.

Then the main menu with Kazoo's keys (cf_voicemail's `#keys{}` defaults, `voicemail_keys.py`),
after the counts of new and saved messages: `1` new messages, `2` saved messages
(`voicemail_listen.py`), `5` the settings menu (`voicemail_config.py`; not for a box that is
`not_configurable`), `#` goodbye. Four rounds without a valid key end it too. When it ends the
flow goes on at the node's `_` child, as Kazoo continues; a call back (`9` after a message) runs
the callflow for the caller's number instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Branch, Next
from controller.modules import pins, voicemail_config, voicemail_listen
from controller.modules import voicemail_boxes as boxes
from controller.modules import voicemail_greetings as greetings
from controller.modules import voicemail_keys as keys
from controller.modules import voicemail_prompts as spoken
from controller.modules.prompts import Collect, Prompt
from controller.modules.voicemail_prompts import collect, play

log = logging.getLogger(__name__)

LOGIN_ATTEMPTS = 3
INVALID_ROUNDS = 4  # main menu rounds without a valid key before it ends (Kazoo's)
ENTER_ID = Prompt(file="voicemail/vm-enter_id.wav")
ENTER_PIN = Prompt(file="voicemail/vm-enter_pass.wav")
FAILED = Prompt(file="voicemail/vm-fail_auth.wav")
ABORT = Prompt(file="voicemail/vm-abort.wav")
GOODBYE = Prompt(file="voicemail/vm-goodbye.wav")
MAIN_MENU = Prompt(file="voicemail/vm-main_menu.wav")


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
    branch = main_menu(call, box, data)
    if branch is not None:
        return branch
    play(call, GOODBYE)
    return DEFAULT_CHILD


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
        if chosen is not None and pin and pins.is_same(pin, str(chosen.get("pin", ""))):
            return chosen
        log.info("call %s: voicemail login attempt %d failed", call.uuid, attempt)
        play(call, FAILED)
    return None


def main_menu(call: Call, box: dict[str, Any], data: Mapping[str, Any]) -> Branch | None:
    """Until the owner leaves; the flow of a call back when they chose one."""
    invalid = 0
    while invalid < INVALID_ROUNDS:
        counts = say_counts(call, box)
        choice = collect(call, MAIN_MENU, greetings.one_key(data), "vm_choice", counts)
        if choice == keys.EXIT:
            return None
        if choice in (keys.HEAR_NEW, keys.HEAR_SAVED):
            branch = voicemail_listen.listen(call, box, "new" if choice == keys.HEAR_NEW else "saved", data)
            if branch is not None:
                return branch
        elif choice == keys.CONFIGURE and box.get("not_configurable") is not True:
            voicemail_config.config_menu(call, box, data)
        else:
            invalid += 1
            continue
        invalid = 0
    return None


def say_counts(call: Call, box: Mapping[str, Any]) -> str:
    """Play the counts of new and saved messages; spoken prompts: their words, for the menu's
    prompt to say first (a key pressed during a `speak` of their own would be lost)."""
    counts = call.services.messages.counts(call.account_id, box["id"])
    if spoken.is_spoken(call):
        return spoken.counts_text(counts["new"], counts["saved"])
    call.channel.execute_all([
        *spoken.steps(call, "voicemail/vm-you_have.wav"), spoken.number(call, counts["new"]),
        *spoken.steps(call, "voicemail/vm-new.wav"), spoken.number(call, counts["saved"]),
        *spoken.steps(call, "voicemail/vm-saved.wav"),
    ])
    return ""
