"""What the voicemail menus say: FreeSWITCH's sound files named after Kazoo's prompts
(`voicemail/vm-<prompt>.wav` under its sound folder), or, on a FreeSWITCH without sound files
(`CONTROLLER_VOICEMAIL_PROMPTS=tts`, as the lab box), the same words spoken by mod_flite through
`speak` (prompts.py). FreeSWITCH's `play_and_get_digits` reads no key after a prompt it could not
open, so without sound files the menus work only spoken. FreeSWITCH's `say` (numbers, dates) needs
sound files too: spoken, they are said in words.
"""

from __future__ import annotations

import time

from controller.call import Call
from controller.modules import prompts
from controller.modules.prompts import Collect, Prompt, Step

# Kazoo's wording (its en-us prompts), one per file the menus play.
SPOKEN = {
    "fault-can_not_be_completed_as_dialed": "Your call cannot be completed as dialed.",
    "menu-invalid_entry": "Invalid entry.",
    "vm-abort": "Goodbye.",
    "vm-deleted": "Message deleted.",
    "vm-enter_forward_id": "Please enter the mailbox number to forward this message to, followed by the pound key.",
    "vm-enter_id": "Please enter your mailbox number, followed by the pound key.",
    "vm-enter_new_pin": "Please enter your new password, followed by the pound key.",
    "vm-enter_new_pin_confirm": "Please enter your new password again to confirm, followed by the pound key.",
    "vm-enter_pass": "Please enter your password, followed by the pound key.",
    "vm-fail_auth": "Login incorrect.",
    "vm-forward_abort": "Unable to forward the message.",
    "vm-forward_confirmed": "Your message has been forwarded.",
    "vm-goodbye": "Goodbye.",
    "vm-mailbox_full": "The mailbox you are trying to reach is full.",
    "vm-main_menu": "To listen to new messages, press 1. To listen to saved messages, press 2. "
                    "For mailbox settings, press 5. To exit, press pound.",
    "vm-message_menu": "To keep this message, press 1. To replay it, press 2. To forward it, press 3. "
                       "For the previous message, press 4. For the next message, press 6. "
                       "To delete it, press 7. To call back the caller, press 9. "
                       "To return to the main menu, press 0.",
    "vm-message_number": "Message number",
    "vm-new": "new, and",
    "vm-no_more_messages": "No more messages.",
    "vm-not_available": "is not available.",
    "vm-person": "The person at extension",
    "vm-pin_invalid": "The password is invalid.",
    "vm-pin_set": "Your password has been changed.",
    "vm-received": "Received",
    "vm-record_greeting": "Record your greeting after the tone.",
    "vm-record_message": "Please leave your message after the tone. When you are done, hang up or press pound.",
    "vm-record_name": "Record your name after the tone.",
    "vm-record_temp_greeting": "Record your temporary greeting after the tone.",
    "vm-review_recording": "To keep this recording, press 1. To listen to it, press 2. To record again, press 3.",
    "vm-saved": "saved.",
    "vm-settings_menu": "To record your unavailable greeting, press 1. To record your name, press 2. "
                        "To change your password, press 3. To record a temporary greeting, press 4. "
                        "To delete the temporary greeting, press 5. To return to the main menu, press 0.",
    "vm-thank_you": "Thank you.",
    "vm-you_have": "You have",
}


def is_spoken(call: Call) -> bool:
    return bool(call.services.settings.voicemail_prompts == "tts")


def prompt(call: Call, file: str | Prompt) -> Prompt:
    """The prompt of a sound file (`voicemail/<name>.wav`), spoken when the settings say so."""
    file = file.file if isinstance(file, Prompt) else file
    name = file.rsplit("/", 1)[-1].removesuffix(".wav")
    if is_spoken(call) and name in SPOKEN:
        return Prompt(text=SPOKEN[name])
    return Prompt(file=file)


def steps(call: Call, *files: str | Prompt) -> list[Step]:
    """The applications that play these prompts one after the other."""
    return [step for file in files for step in prompt(call, file).steps()]


def number(call: Call, value: int | str, method: str = "PRONOUNCED") -> Step:
    """FreeSWITCH's `say` of a number (ITERATED: digit by digit), or the number spoken."""
    if is_spoken(call):
        return Prompt(text=" ".join(str(value)) if method == "ITERATED" else str(value)).steps()[0]
    return "say", f"en NUMBER {method} {value}"


def date_time(call: Call, timestamp: float) -> Step:
    """FreeSWITCH's `say` of a time, or it spoken (UTC)."""
    if is_spoken(call):
        return Prompt(text=date_text(timestamp)).steps()[0]
    return "say", f"en SHORT_DATE_TIME PRONOUNCED {int(timestamp)}"


def date_text(timestamp: float) -> str:
    return time.strftime("%B %d at %H %M", time.gmtime(timestamp))


def counts_text(new: int, saved: int) -> str:
    """The message counts in words, said before the main menu in the same prompt."""
    return f"{SPOKEN['vm-you_have']} {new} {SPOKEN['vm-new']} {saved} {SPOKEN['vm-saved']}"


def collect(call: Call, asked: Prompt, how: Collect, variable: str = "collected_digits", intro: str = "") -> str:
    """prompts.collect with the prompt as the settings say. Spoken, it is the prompt of
    `play_and_get_digits` itself, in FreeSWITCH's `tts://engine|voice|text` file format quoted as
    one argument (its argument splitter keeps a quoted run whole, and `inert` leaves no quote in
    the text), so that a key pressed while it is said is read, as with a recorded prompt (a
    `speak` before the collection would swallow it). `intro`: words said first, in the same
    prompt (what Kazoo plays before a menu, such as the message counts)."""
    chosen = prompt(call, asked)
    if chosen.text:
        _, spoken = prompts.speak(f"{intro} {chosen.text}".strip())
        chosen = Prompt(file=f"'tts://{spoken}'")
    return prompts.collect(call, chosen, how, variable)


def play(call: Call, *played: Prompt) -> None:
    """prompts.play with each prompt as the settings say."""
    prompts.play(call, *(prompt(call, p) for p in played))
