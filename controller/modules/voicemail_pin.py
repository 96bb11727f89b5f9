"""Changing a box's PIN from the phone (Kazoo's cf_voicemail change_pin).

The new PIN is asked twice (`vm-enter_new_pin`, then `vm-enter_new_pin_confirm`), each up to
six digits (Kazoo's `max_pin_length`) ended by `#` or a pause. It is kept when both entries are
the same, not empty, and the box with it passes the vmbox schema (digits only, 4 to 15 of them;
Kazoo's schema says 4 to 6, and six is all that can be typed here): `vm-pin_set`. Otherwise
`vm-pin_invalid` and the owner tries again, three times in all; then the PIN stays as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.errors import DocumentError
from controller.modules import voicemail_boxes as boxes
from controller.modules.prompts import Collect, Prompt
from controller.modules.voicemail_prompts import collect, play

log = logging.getLogger(__name__)

MAX_PIN_LENGTH = 6
TRIES = 3
ENTER_NEW = Prompt(file="voicemail/vm-enter_new_pin.wav")
CONFIRM_NEW = Prompt(file="voicemail/vm-enter_new_pin_confirm.wav")
PIN_SET = Prompt(file="voicemail/vm-pin_set.wav")
PIN_INVALID = Prompt(file="voicemail/vm-pin_invalid.wav")


def change_pin(call: Call, box: dict[str, Any], data: Mapping[str, Any]) -> bool:
    """Ask for a new PIN until one is set (True) or the tries are spent (False)."""
    how = Collect(max_digits=MAX_PIN_LENGTH, timeout_ms=5000, interdigit_ms=int(data.get("interdigit_timeout", 2000)))
    for attempt in range(1, TRIES + 1):
        pin = collect(call, ENTER_NEW, how, "vm_new_pin")
        confirmed = collect(call, CONFIRM_NEW, how, "vm_new_pin")
        if pin and pin == confirmed and _saved(call, box, pin):
            log.info("call %s: PIN of voicemail box %s changed", call.uuid, box["id"])
            play(call, PIN_SET)
            return True
        log.info("call %s: new PIN for box %s refused (attempt %d)", call.uuid, box["id"], attempt)
        play(call, PIN_INVALID)
    return False


def _saved(call: Call, box: dict[str, Any], pin: str) -> bool:
    try:
        boxes.update_box(call, box, {"pin": pin})
    except DocumentError as exc:
        log.info("call %s: PIN refused by the vmbox schema: %s", call.uuid, exc.reason)
        return False
    return True
