"""`/v2/accounts/{id}/parked_calls`: the calls parked in the account's lot now (Kazoo's
cb_parked_calls), as FreeSWITCH's mod_valet_parking holds them (`valet_info <lot>`, then each
parked channel's `uuid_dump <uuid> json` for its caller): right after a controller restart too,
since nothing of it is remembered by the controller. Kazoo's shape: `{"slots": {"<slot>":
{"Call-ID", "CID-Name", "CID-Number", "Parked-At" (epoch seconds), "Node"}}}`.

The channel itself is asked, not `show channels`: that reads FreeSWITCH's core database, which
is written in the background: on a real FreeSWITCH it was seen to give no caller ID for a call
parked a second before."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.switch import unavailable
from controller.config import EslEndpoint
from controller.esl import inbound_api
from controller.modules import parking

bp = Blueprint("parked_calls", __name__, url_prefix="/v2/accounts/<aid>/parked_calls")


def blueprints() -> list[Blueprint]:
    return [bp]


def channel(dump: str) -> dict[str, Any]:
    """A `uuid_dump <uuid> json` answer ({} for a channel gone meanwhile: `-ERR ...`)."""
    try:
        found = json.loads(dump)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def slot(uuid: str, dump: dict[str, Any]) -> dict[str, Any]:
    created = str(dump.get("Caller-Channel-Created-Time") or "")
    return {"Call-ID": uuid, "CID-Name": dump.get("Caller-Caller-ID-Name", ""),
            "CID-Number": dump.get("Caller-Caller-ID-Number", ""),
            "Parked-At": int(created) // 1_000_000 if created.isdigit() else None,
            "Node": dump.get("FreeSWITCH-Hostname", "")}


def parked_on(endpoint: EslEndpoint, lot: str) -> dict[str, dict[str, Any]]:
    [valet] = inbound_api.ask(endpoint, f"valet_info {lot}")
    taken = parking.parked(valet)
    if not taken:
        return {}
    dumps = inbound_api.ask(endpoint, *(f"uuid_dump {inbound_api.token(u)} json" for u in taken.values()))
    return {number: slot(uuid, channel(dump)) for (number, uuid), dump in zip(taken.items(), dumps, strict=True)}


def slots(aid: str) -> dict[str, dict[str, Any]]:
    """Every FreeSWITCH's parked calls of the account; 503 only when none answers."""
    endpoints = ctx().services.settings.freeswitch
    if not endpoints:
        raise unavailable("no FreeSWITCH configured (CONTROLLER_FREESWITCH)")
    found: dict[str, dict[str, Any]] = {}
    failure = None
    for endpoint in endpoints:
        try:
            found.update(parked_on(endpoint, parking.lot(aid)))
        except inbound_api.FreeswitchUnavailableError as exc:
            failure = exc
    if failure is not None and len(endpoints) == 1:
        raise unavailable(str(failure))
    return dict(sorted(found.items(), key=lambda item: int(item[0]) if item[0].isdigit() else 0))


@bp.get("")
def list_parked(aid: str) -> Response:
    reachable(aid)
    return reply({"slots": slots(aid)})
