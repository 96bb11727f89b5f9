"""`/v2/accounts/{id}/channels`: the account's calls in progress (Kazoo's cb_channels), and
`PUT /channels/{uuid}` with Kazoo's actions `hangup` and `transfer` (blind, to `target`).

The list comes from the `serve` role's memory (controller/esl/livecalls.py), asked over its socket
(controller/roles.py: Peers): the app factory's caller puts the Peers in
`app.extensions["peers"]`; without them (an API running on its own, outside `controller run`)
these routes answer 503. `hangup` goes to FreeSWITCH as `uuid_kill` over an inbound event socket
connection of its own to each of `CONTROLLER_FREESWITCH` in turn (controller/esl/commands.py),
only for a call the account has in progress. `transfer` is asked of the serve role, which drives
the call: the channels listed are the callers' legs, so the channel named goes to `target`
(`uuid_transfer` into the controller's context, where the target runs through the account's
callflows as a new call; whoever it was bridged to is hung up), and the role then lets go of the
call's old connection, whose flow would otherwise go on. `"leg": "bleg"` moves its other leg
instead, as Kazoo's cb_channels moves the transferee, which ends the caller's leg (its
hangup_after_bridge).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from controller.api.auth import reachable, require_write
from controller.api.body import request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, invalid, not_found
from controller.api.paging import paged
from controller.esl import commands
from controller.roles import Peers

bp = Blueprint("channels", __name__, url_prefix="/v2/accounts/<aid>/channels")
ACTIONS = ("hangup", "transfer")


def blueprints() -> list[Blueprint]:
    return [bp]


def _peers() -> Peers:
    peers: Peers | None = current_app.extensions.get("peers")
    if peers is None:
        raise ApiError(503, "service unavailable", {"channels": {
            "unavailable": "calls in progress are known to the serve role of `controller run`"}})
    return peers


def _channels(aid: str) -> list[dict[str, Any]]:
    try:
        return _peers().channels(aid)
    except OSError as exc:
        raise ApiError(503, "service unavailable", {"channels": {"unavailable": f"serve did not answer: {exc}"}}) \
            from None


def _channel(aid: str, uuid: str) -> dict[str, Any]:
    found = next((c for c in _channels(aid) if c.get("uuid") == uuid), None)
    if found is None:
        raise not_found("channel", uuid)
    return found


@bp.get("")
def list_channels(aid: str) -> Response:
    reachable(aid)
    return paged(_channels(aid), key=lambda c: str(c.get("uuid")), presorted=True)


@bp.get("/<uuid>")
def get_channel(aid: str, uuid: str) -> Response:
    reachable(aid)
    return reply(_channel(aid, uuid))


@bp.put("/<uuid>")
@bp.post("/<uuid>")
def act(aid: str, uuid: str) -> Response:
    reachable(aid)
    require_write()
    data = request_data()
    action = data.get("action")
    if action not in ACTIONS:
        raise invalid("action", "enum", f"action must be one of {', '.join(ACTIONS)}")
    channel = _channel(aid, uuid)
    target = data.get("target")
    if action == "transfer" and (not isinstance(target, str) or not target):
        raise invalid("target", "required", "No target destination specified")
    other = str(channel.get("other_leg") or "")
    try:
        if action == "hangup":
            command = commands.hangup_command(uuid)
        elif other and data.get("leg") == "bleg":
            command = commands.transfer_command(other, str(target))
        else:
            commands.transfer_command(uuid, str(target))  # checked here, sent by the serve role
            return _transfer(aid, uuid, str(target))
    except ValueError as exc:
        raise invalid("target", "pattern", str(exc)) from None
    try:
        commands.run(ctx().services.settings.freeswitch, command)
    except commands.CommandRefusedError as exc:
        raise ApiError(404, "bad identifier", {"uuid": {"not_found": str(exc)}}) from None
    except OSError as exc:
        raise ApiError(503, "service unavailable", {"freeswitch": {"unavailable": str(exc)}}) from None
    return reply(f"{action} initiated", status=202)


def _transfer(aid: str, uuid: str, target: str) -> Response:
    try:
        answer = _peers().transfer(aid, uuid, target)
    except OSError as exc:
        raise ApiError(503, "service unavailable", {"channels": {"unavailable": f"serve did not answer: {exc}"}}) \
            from None
    if not answer.startswith("+OK"):
        raise ApiError(404 if "no such channel" in answer.lower() else 503, "transfer failed",
                       {"uuid": {"transfer": answer.removeprefix("-ERR ").strip()[:200]}})
    return reply("transfer initiated", status=202)
