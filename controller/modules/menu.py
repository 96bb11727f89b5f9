"""menu — an IVR menu: a greeting, the caller presses digits, the matching child runs (Kazoo's
cf_menu).

Data: `id` names a stored menu document (Kazoo's form, `/v2/accounts/{id}/menus`): its settings
apply, the node's own data filling only what the document leaves out (Kazoo takes the node's
`interdigit_timeout` that way); a menu that does not exist leaves the node's own data. The
settings, stored or inline:
`media.greeting` (a recorded greeting) or `media.greeting_tts` (`text`, `voice`),
`retries` (3 tries in all), `timeout` (ms to wait for the first digit after the greeting, 10000),
`interdigit_timeout` (ms, 2000), `max_extension_length` (4), `hunt` (default true: the caller may
dial an extension, i.e. a number of one of the account's callflows), `hunt_allow` / `hunt_deny`
(RE2 patterns an extension must / must not match), `media.invalid_media`, `media.timeout_media`,
`media.exit_media`, `media.transfer_media` (each a media reference, `true` for the built-in
prompt, `false` for none), `suppress_media` (no `invalid_media`). A media reference may be a
Kazoo media id (media_refs.py): the stored media's file, or for the greeting its spoken text.

Each try plays the greeting and collects up to `max_extension_length` digits (`#` ends the entry).
- Digits that are a child key: that child (after `transfer_media`, when set).
- Nothing pressed: the `timeout` child when the node has one, else `timeout_media` and a new try.
- Digits that are no child: hunted as an extension when allowed (the flow branches into that
  callflow, after `transfer_media`), else `invalid_media` and a new try.
- Tries exhausted: `exit_media`, then the `max_retries` child when the node has one, else the
  `_` child (the flow ends when there is none).

The greeting, recorded or spoken (FreeSWITCH's `tts://` file format), is `play_and_get_digits`'
own prompt: the first digit interrupts it and counts.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from controller.call import Call
from controller.callflows.patterns import PatternError, compile_pattern
from controller.flow import DEFAULT_CHILD, Branch, Next
from controller.modules.media_refs import resolve_prompts
from controller.modules.prompts import Collect, Prompt, collect, file_prompt, play, tts_prompt

log = logging.getLogger(__name__)

TIMEOUT_CHILD = "timeout"
MAX_RETRIES_CHILD = "max_retries"
# FreeSWITCH's standard sounds (sounds/en/us/callie), relative to its sound_prefix.
BUILT_IN = {
    "invalid_media": "ivr/ivr-that_was_an_invalid_entry.wav",
    "timeout_media": "ivr/ivr-please_try_again.wav",
    "exit_media": "ivr/ivr-no_more_tries.wav",
    "transfer_media": "ivr/ivr-hold_connect_call.wav",
}
DEFAULT_ON = ("invalid_media", "timeout_media", "exit_media")


@dataclasses.dataclass(frozen=True)
class Menu:
    greeting: Prompt
    collect: Collect
    retries: int
    media: dict[str, Any]

    def prompt(self, name: str) -> Prompt:
        """One of the menu's other prompts: its own media, the built-in one, or none."""
        value = self.media.get(name, name in DEFAULT_ON)
        if value is True:
            value = BUILT_IN[name]
        return file_prompt(value) if isinstance(value, str) else Prompt()


def stored(data: dict[str, Any], call: Call) -> dict[str, Any]:
    """The menu's settings: the stored document `data.id` names over the node's own data."""
    menu_id = data.get("id")
    if not isinstance(menu_id, str) or not menu_id:
        return data
    doc = call.services.document(call.account_id, "menus", menu_id)
    if doc is None:
        log.warning("call %s: no menu %r in the account; the node's own data applies", call.uuid, menu_id)
        return data
    return {**data, **doc}


def settings(data: dict[str, Any]) -> Menu:
    media = dict(data.get("media") or {})
    if data.get("suppress_media") is True:
        media["invalid_media"] = False
    greeting = file_prompt(media.get("greeting")) if media.get("greeting") else tts_prompt(media.get("greeting_tts"))
    return Menu(
        greeting=greeting,
        collect=Collect(
            max_digits=int(data.get("max_extension_length", 4)),
            timeout_ms=int(data.get("timeout", 10000)),
            interdigit_ms=int(data.get("interdigit_timeout", 2000)),
        ),
        retries=max(1, int(data.get("retries", 3))),
        media=media,
    )


def handle(data: dict[str, Any], call: Call) -> Next:
    data = resolve_prompts(call, stored(data, call))
    menu = settings(data)
    call.channel.execute("answer")
    for attempt in range(1, menu.retries + 1):
        digits = collect(call, menu.greeting, menu.collect, "menu_digits")
        if not digits:
            if TIMEOUT_CHILD in call.children:
                return TIMEOUT_CHILD
            log.info("call %s: menu try %d, nothing pressed", call.uuid, attempt)
            play(call, menu.prompt("timeout_media"))
            continue
        if digits in call.children and digits != DEFAULT_CHILD:
            play(call, menu.prompt("transfer_media"))
            return digits
        branch = hunt(call, digits, data) if data.get("hunt", True) is not False else None
        if branch is not None:
            play(call, menu.prompt("transfer_media"))
            return branch
        log.info("call %s: menu try %d, invalid entry %r", call.uuid, attempt, digits)
        play(call, menu.prompt("invalid_media"))
    play(call, menu.prompt("exit_media"))
    return MAX_RETRIES_CHILD if MAX_RETRIES_CHILD in call.children else DEFAULT_CHILD


def hunt(call: Call, digits: str, data: dict[str, Any]) -> Branch | None:
    """The account's callflow for an extension the caller dialled, if the menu allows it."""
    if not is_huntable(digits, data.get("hunt_allow"), data.get("hunt_deny")):
        log.info("call %s: menu hunt for %r not allowed", call.uuid, digits)
        return None
    route = call.services.matcher.match(call.account_id, digits, is_internal=False)
    if route is None or route.reason == "no_match" or not isinstance(route.callflow.get("flow"), dict):
        return None
    log.info("call %s: menu hunts %r to callflow %s", call.uuid, digits, route.callflow_id)
    return Branch(flow=route.callflow["flow"], name=route.callflow_id)


def is_huntable(digits: str, allow: object, deny: object) -> bool:
    try:
        if isinstance(allow, str) and allow and compile_pattern(allow).search(digits) is None:
            return False
        return not (isinstance(deny, str) and deny and compile_pattern(deny).search(digits) is not None)
    except PatternError:
        log.warning("menu hunt pattern refused; hunting disabled for this entry")
        return False
