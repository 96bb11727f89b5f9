"""The settings menu of a voicemail box (`5` in the main menu; Kazoo's cf_voicemail config_menu).

`vm-settings_menu`, then: `1` record the unavailable greeting, `2` record the name, `3` change
the PIN, `4` record a temporary greeting (callers hear it instead of the other until it is
deleted), `5` delete the temporary greeting (then back to the main menu, as Kazoo does), `0` back
to the main menu. Three rounds without a valid key also go back. A box that is
`not_configurable` has no settings menu: `5` in its main menu is an invalid key.

Kazoo's `6` (announcement-only mode) is not offered: boxes here always take messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.modules import voicemail_greetings as greetings
from controller.modules import voicemail_keys as keys
from controller.modules import voicemail_pin
from controller.modules.prompts import Prompt
from controller.modules.voicemail_prompts import collect

SETTINGS_MENU = Prompt(file="voicemail/vm-settings_menu.wav")
INVALID_ROUNDS = 3


def config_menu(call: Call, box: dict[str, Any], data: Mapping[str, Any]) -> None:
    """Until the owner goes back to the main menu."""
    invalid = 0
    while invalid < INVALID_ROUNDS:
        choice = collect(call, SETTINGS_MENU, greetings.one_key(data), "vm_choice")
        if choice == keys.REC_UNAVAILABLE:
            greetings.record_unavailable(call, box)
        elif choice == keys.REC_NAME:
            greetings.record_name(call, box)
        elif choice == keys.SET_PIN:
            voicemail_pin.change_pin(call, box, data)
        elif choice == keys.REC_TEMPORARY_UNAVAILABLE:
            greetings.record_unavailable(call, box, temporary=True)
        elif choice == keys.DEL_TEMPORARY_UNAVAILABLE:
            greetings.delete_temporary(call, box)
            return
        elif choice == keys.RETURN_MAIN:
            return
        else:
            invalid += 1
            continue
        invalid = 0
