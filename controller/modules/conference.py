"""conference — put the caller in a conference room (Kazoo's cf_conference), on FreeSWITCH's
mod_conference.

Data: `id` (a conferences document of the account; without it, Kazoo's conference service: the
caller enters the room's conference number, then its PIN), `moderator` (the caller joins as a
moderator without a PIN), `play_entry_tone` / `play_exit_tone` (true, false or a tone or media
path, over the document's), `welcome_prompt` {`play`, `media_id`}.

A room with PINs asks for one (`conference/conf-pin.wav`, three tries, `conference/conf-bad-pin.wav`
after a wrong one); a moderator PIN makes the caller a moderator. Members join muted unless the
document's `member.join_muted` is false (Kazoo's default), moderators unmuted; `join_deaf`,
`max_participants` (`max_members`), `wait_for_moderator`, `play_name` (the caller says their name,
which the room hears instead of the entry tone) as the document says (conferencing.py). The caller
stays in the room until they hang up or are kicked; then the flow stops.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.esl.safety import multiset
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import conferencing, media_refs
from controller.modules.prompts import Collect, Prompt, collect, file_prompt
from controller.store.documents import Documents

log = logging.getLogger(__name__)

TRIES = 3
ENTER_NUMBER = "conference/conf-enter_conf_number.wav"
ENTER_PIN = "conference/conf-pin.wav"
BAD_PIN = "conference/conf-bad-pin.wav"
SAY_NAME = "conference/conf-say_name.wav"
NAME_SECONDS = 3


def handle(data: dict[str, Any], call: Call) -> Next:
    call.channel.execute("answer")
    found = find(data, call)
    if found is None:
        return DEFAULT_CHILD
    doc, role = found
    if role is None and data.get("moderator") is True:
        role = "moderator"
    if role is None:
        role = "member" if not conferencing.needs_pin(doc) else ask_pin(call, doc)
    if role is None:
        return None
    welcome(data, call)
    join(call, doc, role == "moderator", data)
    return None


def find(data: dict[str, Any], call: Call) -> tuple[dict[str, Any], str | None] | None:
    conference_id = str(data.get("id") or "")
    if conference_id:
        doc = call.services.document(call.account_id, "conferences", conference_id)
        if doc is None:
            log.info("call %s: no conference %r", call.uuid, conference_id)
            return None
        return doc, None
    docs = Documents(call.services.rds, "conferences").all(call.account_id)
    for _ in range(TRIES):
        number = collect(call, Prompt(file=ENTER_NUMBER), Collect(max_digits=16))
        found = conferencing.by_number(docs, number) if number else None
        if found is not None:
            return found
    return None


def ask_pin(call: Call, doc: dict[str, Any]) -> str | None:
    prompt = Prompt(file=ENTER_PIN)
    for _ in range(TRIES):
        role = conferencing.role_of(doc, collect(call, prompt, Collect(max_digits=16)))
        if role is not None:
            return role
        prompt = Prompt(file=BAD_PIN)
    return None


def welcome(data: dict[str, Any], call: Call) -> None:
    spec = data.get("welcome_prompt") or {}
    if spec.get("play", True) is False or not spec.get("media_id"):
        return
    steps = file_prompt(media_refs.resolve(call, spec["media_id"])).steps()
    if steps:
        call.channel.execute_all(steps)


def join(call: Call, doc: dict[str, Any], moderator: bool, data: dict[str, Any]) -> None:
    joining = conferencing.joining(call.account_id, doc, moderator, data)
    steps = [multiset(dict(joining.variables))] if joining.variables else []
    if doc.get("play_name") is True:
        # (the call's UUID is FreeSWITCH's own; `set` expands the recordings folder)
        name = f"${{recordings_dir}}/conference_name_{call.uuid}.wav"
        steps += [("playback", SAY_NAME), ("record", f"{name} {NAME_SECONDS} 200 2"),
                  ("set", f"conference_enter_sound={name}")]
    call.mark_conferenced()
    call.channel.execute_all([*steps, ("conference", joining.argument())], None)
