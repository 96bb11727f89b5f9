"""hotdesk — log a user in on the phone they call from, or out of it (Kazoo's cf_hotdesk), behind
the feature codes `*11` (login), `*12` (logout) and `*13` (toggle); `bridge` rings the devices a
user is logged in on.

Data: `action` (`login`, `logout`, `toggle`, `bridge`), `id` (the user; without it the caller keys
in the user's `hotdesk.id`, three tries; a `logout` without it logs out the user logged in on the
calling phone when there is exactly one), `interdigit_timeout` (ms, 2000), `timeout` (seconds a
`bridge` rings, 20).

The user's `hotdesk` object (Kazoo's): `enabled`, `id`, `require_pin` and `pin`,
`keep_logged_in_elsewhere`. Logging in adds the user to the calling device's `hotdesk.users`
(Kazoo's shape, `{"<user id>": {}}`), after taking them out of every other device unless
`keep_logged_in_elsewhere`; from the next call on, the device rings as theirs for `user`,
`ring_group` and `device` (their call forwarding and do not disturb apply to it), and no longer
as its owner's (`bridging.owner_ids`, Kazoo's `attributes/owned` view). Logging out takes the
user off every device they are logged in on (with `keep_logged_in_elsewhere`: off the calling
device only). `toggle` logs out a user logged in anywhere, else logs them in.

The PIN is caller input: digits only, compared in constant time, three tries, then "could not be
completed" and nothing changes. Unlike Kazoo (whose check is commented out), a user whose
`hotdesk.enabled` is not true cannot log in; as in Kazoo, such a user's `bridge` rings nothing.
Prompts are spoken (flite) with Kazoo's words. Login and logout continue at `_` (none: the call
ends); `bridge` ends as `user` does (answered: the flow stops; failed: the hangup cause's child,
then the SIP code's, else `_`); a user not found continues at `_`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging, calling, forwarding, pins
from controller.modules.prompts import Collect, Prompt, collect, play

log = logging.getLogger(__name__)

Doc = dict[str, Any]
TRIES = 3  # Kazoo's max_login_attempts
ID_DIGITS = PIN_DIGITS = 15  # the longest id and PIN the user document takes (Kazoo's schema)
DIGITS = re.compile(r"[0-9]+")

ENTER_ID = "Please enter your hot desk I D, followed by the pound key."
ENTER_PIN = "Please enter your PIN, followed by the pound key."
INVALID = "Invalid entry."
ABORT = "Hot desking could not be completed."
LOGGED_IN = "You are now logged in."
LOGGED_OUT = "You are now logged out."
GOODBYE = "Goodbye."


def handle(data: dict[str, Any], call: Call) -> Next:
    action = str(data.get("action") or "")
    if action not in ("login", "logout", "toggle", "bridge"):
        log.info("call %s: hotdesk action %r unknown", call.uuid, action)
        return DEFAULT_CHILD
    how = Collect(max_digits=ID_DIGITS, interdigit_ms=int(data.get("interdigit_timeout") or 2000))
    user = profile(call, data, action, how)
    if user is None:
        return DEFAULT_CHILD
    logged_in_on = devices_of(call, str(user["id"]))
    if action == "bridge":
        return bridge(call, data, user, logged_in_on)
    if action == "login" or (action == "toggle" and not logged_in_on):
        login(call, user, logged_in_on, how)
    else:
        logout(call, user, logged_in_on)
    return DEFAULT_CHILD


def settings(user: Doc) -> Doc:
    found = user.get("hotdesk")
    return found if isinstance(found, dict) else {}


def profile(call: Call, data: dict[str, Any], action: str, how: Collect) -> Doc | None:
    """The user the node names, else the one the caller keys the hot desk id of."""
    user_id = str(data.get("id") or "")
    if not user_id and action == "logout":
        device = calling.device(call)
        owners = bridging.owner_ids(device) if device is not None else []
        user_id = owners[0] if len(owners) == 1 else ""
    if user_id:
        user = call.services.users.find(call.account_id, user_id)
        if user is None:
            log.info("call %s: hotdesk user %r not found", call.uuid, user_id)
            play(call, Prompt(text=ABORT))
        return user
    call.channel.execute("answer")
    for _ in range(TRIES):
        digits = collect(call, Prompt(text=ENTER_ID), how, "hotdesk_id")
        found = by_hotdesk_id(call, digits) if DIGITS.fullmatch(digits) else None
        if found is not None:
            return found
        play(call, Prompt(text=INVALID))
    play(call, Prompt(text=ABORT))
    return None


def by_hotdesk_id(call: Call, hotdesk_id: str) -> Doc | None:
    """The one user of the account with this `hotdesk.id` (Kazoo's `attributes/hotdesk_id`)."""
    found = [u for u in call.services.users.all(call.account_id) if settings(u).get("id") == hotdesk_id]
    return found[0] if len(found) == 1 else None


def devices_of(call: Call, user_id: str) -> list[Doc]:
    """The devices the user is logged in on (Kazoo's `attributes/hotdesk_users`)."""
    return [d for d in call.services.devices.all(call.account_id)
            if user_id in ((d.get("hotdesk") or {}).get("users") or {})]


def login(call: Call, user: Doc, logged_in_on: list[Doc], how: Collect) -> None:
    wanted = settings(user)
    call.channel.execute("answer")
    device = calling.device(call)
    if device is None or wanted.get("enabled") is not True or not pin_accepted(call, wanted, how):
        log.info("call %s: hotdesk login of %r refused", call.uuid, user["id"])
        play(call, Prompt(text=ABORT), Prompt(text=GOODBYE))
        return
    user_id = str(user["id"])
    if wanted.get("keep_logged_in_elsewhere") is not True:
        for other in logged_in_on:
            if other["id"] != device["id"]:
                set_logged_in(call, other, user_id, False)
    set_logged_in(call, device, user_id, True)
    log.info("call %s: user %r logged in on device %r", call.uuid, user_id, device["id"])
    play(call, Prompt(text=LOGGED_IN), Prompt(text=GOODBYE))


def pin_accepted(call: Call, wanted: Doc, how: Collect) -> bool:
    """No PIN required, or the caller keyed the user's PIN in within three tries (a user who
    requires one and has none is never let in)."""
    if wanted.get("require_pin") is not True:
        return True
    pin = str(wanted.get("pin") or "")
    entry = Collect(max_digits=PIN_DIGITS, interdigit_ms=how.interdigit_ms)
    for _ in range(TRIES):
        digits = collect(call, Prompt(text=ENTER_PIN), entry, "hotdesk_pin")
        if DIGITS.fullmatch(digits) and pins.is_same(digits, pin):
            return True
        play(call, Prompt(text=INVALID))
    return False


def logout(call: Call, user: Doc, logged_in_on: list[Doc]) -> None:
    call.channel.execute("answer")
    user_id = str(user["id"])
    leaving = logged_in_on
    if settings(user).get("keep_logged_in_elsewhere") is True:
        device = calling.device(call)
        leaving = [d for d in logged_in_on if device is not None and d["id"] == device["id"]]
    for device in leaving:
        set_logged_in(call, device, user_id, False)
    log.info("call %s: user %r logged out of %d devices", call.uuid, user_id, len(leaving))
    play(call, Prompt(text=LOGGED_OUT), Prompt(text=GOODBYE))


def set_logged_in(call: Call, device: Doc, user_id: str, present: bool) -> None:
    """Add the user to the device's `hotdesk.users`, or take them off, in one transaction."""

    def change(doc: Doc) -> Doc:
        found = doc.get("hotdesk")
        hotdesk: Doc = found if isinstance(found, dict) else {}
        users = dict(hotdesk.get("users") or {})
        if present:
            users[user_id] = {}
        else:
            users.pop(user_id, None)
        return {**doc, "hotdesk": {**hotdesk, "users": users}}

    call.services.devices.update(call.account_id, str(device["id"]), change)


def bridge(call: Call, data: dict[str, Any], user: Doc, logged_in_on: list[Doc]) -> Next:
    """Ring the devices the user is logged in on, as `user` rings a user's devices."""
    if settings(user).get("enabled") is not True:
        return DEFAULT_CHILD
    realm = str(call.services.account(call.account_id).get("realm") or "")
    devices = [d for d in logged_in_on if bridging.is_enabled(d)]
    planned = forwarding.plan(call, devices, {str(user["id"]): user}, data, realm=realm, source="hotdesk")
    if not planned.legs:
        return DEFAULT_CHILD
    return forwarding.ring(call, planned, "simultaneous", False)
