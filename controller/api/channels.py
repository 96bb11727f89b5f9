"""`/v2/accounts/{id}/channels`: the account's calls in progress (Kazoo's cb_channels), and
`PUT /channels/{uuid}` with Kazoo's actions `hangup` and `transfer` (blind, to `target`).

The list comes from the `serve` role's memory (controller/esl/livecalls.py), asked over its socket
(controller/roles.py: Peers.channels): the app factory's caller puts that function in
`app.extensions["live_channels"]`; without it (an API running on its own, outside `controller
run`) the list answers 503. An action goes to FreeSWITCH as `uuid_kill` or `uuid_transfer` over an
inbound event socket connection of its own to each of `CONTROLLER_FREESWITCH` in turn
(controller/esl/commands.py), only for a call the account has in progress. As Kazoo's, a transfer
moves the channel's other leg when it is bridged (the channel named stays the transferor), else
the channel itself; the target runs through the account's callflows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app

from controller.api.auth import reachable, require_write
from controller.api.body import request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, invalid, not_found
from controller.api.paging import paged
from controller.esl import commands

bp = Blueprint("channels", __name__, url_prefix="/v2/accounts/<aid>/channels")
ACTIONS = ("hangup", "transfer")
Source = Callable[[str], list[dict[str, Any]]]


def blueprints() -> list[Blueprint]:
    return [bp]


def _channels(aid: str) -> list[dict[str, Any]]:
    source: Source | None = current_app.extensions.get("live_channels")
    if source is None:
        raise ApiError(503, "service unavailable", {"channels": {
            "unavailable": "calls in progress are known to the serve role of `controller run`"}})
    try:
        return source(aid)
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
    try:
        if action == "hangup":
            command = commands.hangup_command(uuid)
        else:
            target = data.get("target")
            if not isinstance(target, str) or not target:
                raise invalid("target", "required", "No target destination specified")
            other = str(channel.get("other_leg") or "")
            leg = other if other and data.get("leg", "bleg") != "self" else uuid
            command = commands.transfer_command(leg, target)
    except ValueError as exc:
        raise invalid("target", "pattern", str(exc)) from None
    try:
        commands.run(ctx().services.settings.freeswitch, command)
    except commands.CommandRefusedError as exc:
        raise ApiError(404, "bad identifier", {"uuid": {"not_found": str(exc)}}) from None
    except OSError as exc:
        raise ApiError(503, "service unavailable", {"freeswitch": {"unavailable": str(exc)}}) from None
    return reply(f"{action} initiated", status=202)
