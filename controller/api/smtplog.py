"""`/v2/accounts/{id}/notifications/smtplog`: the account's SMTP log (newest first, paged) and one
entry, in Kazoo's shape (`emails: {from, to, cc, bcc}`, `account_id`) beside the stored fields."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import not_found
from controller.api.paging import paged
from controller.notify.smtplog import KEEP

bp = Blueprint("smtplog", __name__, url_prefix="/v2/accounts/<aid>/notifications/smtplog")


def blueprints() -> list[Blueprint]:
    return [bp]


def _entries(aid: str) -> list[dict[str, Any]]:
    found = []
    for entry in ctx().smtplog.entries(aid, limit=KEEP):
        emails = {k: entry[k] for k in ("from", "to", "cc", "bcc") if k in entry}
        found.append({**entry, "account_id": aid, "emails": emails})
    return found


@bp.get("")
def list_log(aid: str) -> Response:
    reachable(aid)
    return paged(_entries(aid), presorted=True)


@bp.get("/<log_id>")
def get_log(aid: str, log_id: str) -> Response:
    reachable(aid)
    entry = next((e for e in _entries(aid) if e.get("id") == log_id), None)
    if entry is None:
        raise not_found("smtplog entry", log_id)
    return reply(entry)
