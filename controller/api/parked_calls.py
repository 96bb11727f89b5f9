"""`/v2/accounts/{id}/parked_calls`: the calls parked in the account's lot now (Kazoo's
cb_parked_calls), as FreeSWITCH's mod_valet_parking holds them (`valet_info <lot>`, the callers
from `show channels as json`): right after a controller restart too, since nothing of it is
remembered by the controller. Kazoo's shape: `{"slots": {"<slot>": {"Call-ID", "CID-Name",
"CID-Number", "Parked-At" (epoch seconds), "Node"}}}`."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable
from controller.api.envelope import reply
from controller.api.switch import ask_each
from controller.modules import parking

bp = Blueprint("parked_calls", __name__, url_prefix="/v2/accounts/<aid>/parked_calls")


def blueprints() -> list[Blueprint]:
    return [bp]


def channels(show: str) -> dict[str, dict[str, Any]]:
    """`show channels as json` by channel UUID ({} when FreeSWITCH says something else)."""
    try:
        rows = json.loads(show).get("rows") or []
    except (ValueError, AttributeError):
        return {}
    return {str(row.get("uuid")): row for row in rows if isinstance(row, dict)}


def slots(aid: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for valet, show in ask_each(f"valet_info {parking.lot(aid)}", "show channels as json"):
        rows = channels(show)
        for slot, uuid in parking.parked(valet).items():
            row = rows.get(uuid, {})
            epoch = str(row.get("created_epoch") or "")
            found[slot] = {"Call-ID": uuid, "CID-Name": row.get("cid_name", ""), "CID-Number": row.get("cid_num", ""),
                           "Parked-At": int(epoch) if epoch.isdigit() else None, "Node": row.get("hostname", "")}
    return dict(sorted(found.items(), key=lambda item: int(item[0]) if item[0].isdigit() else 0))


@bp.get("")
def list_parked(aid: str) -> Response:
    reachable(aid)
    return reply({"slots": slots(aid)})
