"""call_forward — switch the caller's call forwarding from their phone (Kazoo's cf_call_forward),
behind the feature codes Kazoo ships: `*72` activate (`^\\*72([0-9]*)$`: digits dialled after
the code are the number), `*73` deactivate, `*74` toggle, `*56` update the number (`^\\*56([0-9]*)$`).

Data: `action`:
- `activate`: forwarding on, to the captured number, else to a number the caller keys in;
- `deactivate`: forwarding off (the number is kept);
- `update`: a new number (captured or keyed in), forwarding left as it was;
- `toggle`: off when on; on when off, to the stored number, else as `activate`;
- `menu`: "press 1 to switch it on or off, 2 to change the number", again after each choice,
  until the caller presses nothing.

Whose forwarding: the calling device's user (the one logged in on it, see `hotdesk`), else the
device's own `call_forward`; only `enabled` and `number` change, the other fields stay (Kazoo's
update_callfwd). `user`, `device` and `ring_group` read the stored document for each call, so
the next call follows the change (`forwarding`). A caller from outside the account, or an
unknown action, hears "call forwarding is not available" and the call stops. Otherwise the flow
continues at `_` (none: the call ends).

The number keyed in is caller input: digits only, 3 to 20 of them (Kazoo's
`min_callfwd_number_length`, `max_callfwd_number_length`), the first within 8 s, each next within
`interdigit_timeout` (ms, 2000), `#` ends it early; anything else is asked again, three tries,
then nothing changes. A captured number is taken when it is a telephone number (digits, an
optional `+`). Prompts are spoken (flite), with Kazoo's words.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

from controller.call import Call
from controller.errors import ChannelGoneError
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import calling
from controller.modules.prompts import Collect, Prompt, collect, play

log = logging.getLogger(__name__)

MIN_DIGITS, MAX_DIGITS = 3, 20
FIRST_DIGIT_MS = 8000  # Kazoo's callfwd_number_timeout
TRIES = 3
MENU_ROUNDS = 10  # Kazoo's menu loops until no key; a bound all the same
TOGGLE_KEY, NUMBER_KEY = "1", "2"  # Kazoo's keys.menu_toggle_option, keys.menu_change_number
KEYED = re.compile(rf"[0-9]{{{MIN_DIGITS},{MAX_DIGITS}}}")
CAPTURED = re.compile(r"\+?[0-9]{1,32}")  # the stored number's own pattern (store/schemas/user.json)

NOT_AVAILABLE = "Call forwarding is not available."
ENTER_NUMBER = "Please enter the number to forward your calls to, followed by the pound key."
SAVED = "Saved."
FORWARDED_TO = "Your calls are now forwarded to {number}."
DISABLED = "Call forwarding is now disabled."
ENABLED_MENU = "Call forwarding is enabled. To disable it, press 1. To change the number, press 2."
DISABLED_MENU = "Call forwarding is disabled. To enable it, press 1. To change the number, press 2."


@dataclasses.dataclass(frozen=True)
class Forward:
    """The two fields a feature code changes."""

    enabled: bool
    number: str


Outcome = tuple[Forward, list[str]]  # the forwarding wanted, and what to say once it is saved


class NoNumberError(Exception):
    """The caller keyed no usable number in: nothing is saved."""


def handle(data: dict[str, Any], call: Call) -> Next:
    holder = calling.settings_holder(call)
    action = str(data.get("action") or "")
    if holder is None or action not in ACTIONS:
        log.info("call %s: call forwarding not available (action %r)", call.uuid, action)
        play(call, Prompt(text=NOT_AVAILABLE))
        return None
    store, doc = holder
    call.channel.execute("answer")
    current = read(doc)
    how = Collect(max_digits=MAX_DIGITS, min_digits=1, timeout_ms=FIRST_DIGIT_MS,
                  interdigit_ms=int(data.get("interdigit_timeout") or 2000))
    try:
        wanted, said = ACTIONS[action](current, call, how)
    except NoNumberError:
        log.info("call %s: no forward number keyed in; forwarding unchanged", call.uuid)
        return None
    # Saved before it is said: a caller who hangs up on the confirmation keeps the change.
    if wanted != current:
        store.update(call.account_id, str(doc["id"]), lambda stored: write(stored, wanted))
        log.info("call %s: call forwarding of %s %r now %s", call.uuid, store.kind, doc["id"], wanted)
    play(call, *(Prompt(text=text) for text in said))
    return DEFAULT_CHILD


def read(doc: dict[str, Any]) -> Forward:
    forward = doc.get("call_forward")
    forward = forward if isinstance(forward, dict) else {}
    number = str(forward.get("number") or "")
    return Forward(forward.get("enabled") is True, number if CAPTURED.fullmatch(number) else "")


def write(doc: dict[str, Any], wanted: Forward) -> dict[str, Any]:
    """The stored document with `enabled` and `number` set, its other forwarding fields kept."""
    forward = doc.get("call_forward")
    changed = {**(forward if isinstance(forward, dict) else {}), "enabled": wanted.enabled}
    if wanted.number:
        changed["number"] = wanted.number
    return {**doc, "call_forward": changed}


def captured(call: Call) -> str:
    found = (call.capture_group or "").strip()
    return found if CAPTURED.fullmatch(found) else ""


def activate(current: Forward, call: Call, how: Collect) -> Outcome:
    updated, said = update(current, call, how)
    return dataclasses.replace(updated, enabled=True), [*said, forwarded_to(updated.number)]


def deactivate(current: Forward, call: Call, how: Collect) -> Outcome:
    return dataclasses.replace(current, enabled=False), [DISABLED]


def update(current: Forward, call: Call, how: Collect) -> Outcome:
    number = captured(call)
    if number:
        return dataclasses.replace(current, number=number), []
    return dataclasses.replace(current, number=keyed_number(call, how)), [SAVED]


def toggle(current: Forward, call: Call, how: Collect) -> Outcome:
    if current.enabled:
        return deactivate(current, call, how)
    if current.number:
        return dataclasses.replace(current, enabled=True), [forwarded_to(current.number)]
    return activate(current, call, how)


def menu(current: Forward, call: Call, how: Collect) -> Outcome:
    """Kazoo's menu: each choice is said at once; what was chosen is saved when the caller
    presses nothing, or hangs up."""
    choice = dataclasses.replace(how, max_digits=1, terminators="")
    try:
        for _ in range(MENU_ROUNDS):
            key = collect(call, Prompt(text=ENABLED_MENU if current.enabled else DISABLED_MENU), choice, "cf_menu_key")
            if key not in (TOGGLE_KEY, NUMBER_KEY):
                if not key:
                    break
                continue
            try:
                current, said = (toggle if key == TOGGLE_KEY else update)(current, call, how)
            except NoNumberError:
                continue  # no number keyed in: nothing changed, the menu again
            play(call, *(Prompt(text=text) for text in said))
    except ChannelGoneError:
        log.info("call %s: caller left the call forwarding menu", call.uuid)
    return current, []


def forwarded_to(number: str) -> str:
    return FORWARDED_TO.format(number=" ".join(number))


def keyed_number(call: Call, how: Collect) -> str:
    """A number the caller keys in (digits only, 3 to 20); NoNumberError after three bad tries."""
    for _ in range(TRIES):
        digits = collect(call, Prompt(text=ENTER_NUMBER), how, "cf_number")
        if KEYED.fullmatch(digits):
            return digits
        log.info("call %s: forward number refused (%d keys)", call.uuid, len(digits))
    raise NoNumberError


ACTIONS = {"activate": activate, "deactivate": deactivate, "update": update, "toggle": toggle, "menu": menu}
