"""`/v2/accounts/{id}/conferences/{conference}/participants`: who is in a conference room now
and what to do to one of them (Kazoo's cb_conferences participants), asked of mod_conference over
each FreeSWITCH's inbound event socket: `conference <room> json_list`, and `conference <room>
mute|unmute|deaf|undeaf|kick <participant id>` for `PUT .../participants/{participant id}` with
`{"data": {"action": "mute"}}`. The room is the conference's name in FreeSWITCH
(modules/conferencing.py); the participant id is checked to be a number and the action one of
the list before anything reaches FreeSWITCH."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable, require_write
from controller.api.body import request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import invalid, not_found
from controller.api.switch import ask_each
from controller.modules import conferencing
from controller.store.documents import Documents

ACTIONS = ("mute", "unmute", "deaf", "undeaf", "kick")
bp = Blueprint("conference_participants", __name__, url_prefix="/v2/accounts/<aid>/conferences/<cid>/participants")


def blueprints() -> list[Blueprint]:
    return [bp]


def _room(aid: str, cid: str) -> str:
    reachable(aid)
    if Documents(ctx().services.rds, "conferences").find(aid, cid) is None:
        raise not_found("conference", cid)
    return conferencing.room(aid, cid)


def _shape(member: dict[str, Any]) -> dict[str, Any]:
    flags = member.get("flags") or {}
    return {"participant_id": member.get("id"), "call_id": member.get("uuid", ""),
            "caller_id_name": member.get("caller_id_name", ""), "caller_id_number": member.get("caller_id_number", ""),
            "is_moderator": flags.get("is_moderator") is True, "mute": flags.get("can_speak") is False,
            "deaf": flags.get("can_hear") is False, "duration": member.get("join_time", 0)}


def participants(room: str) -> list[dict[str, Any]]:
    """The callers in the room on every FreeSWITCH (a room not there answers in plain text)."""
    found = []
    for [answer] in ask_each(f"conference {room} json_list"):
        try:
            conferences = json.loads(answer)
        except ValueError:
            continue
        for conference in conferences if isinstance(conferences, list) else []:
            found += [_shape(m) for m in conference.get("members") or [] if m.get("type") == "caller"]
    return found


def _one(room: str, pid: str) -> dict[str, Any]:
    found = next((p for p in participants(room) if str(p["participant_id"]) == pid), None)
    if found is None:
        raise not_found("participant", pid)
    return found


@bp.get("")
def list_participants(aid: str, cid: str) -> Response:
    return reply(participants(_room(aid, cid)))


@bp.get("/<pid>")
def get_participant(aid: str, cid: str, pid: str) -> Response:
    return reply(_one(_room(aid, cid), pid))


@bp.route("/<pid>", methods=["PUT", "POST"])
def act(aid: str, cid: str, pid: str) -> Response:
    room = _room(aid, cid)
    require_write()
    action = request_data().get("action")
    if action not in ACTIONS:
        raise invalid("action", "enum", f"action must be one of {', '.join(ACTIONS)}")
    participant = _one(room, pid)
    answers = ask_each(f"conference {room} {action} {int(participant['participant_id'])}")
    if not any(answer.startswith("+OK") for [answer] in answers):
        raise not_found("participant", pid)  # (it left meanwhile)
    return reply({"action": action, "participant_id": participant["participant_id"]}, 202)
