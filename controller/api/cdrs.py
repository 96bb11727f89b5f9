"""`/v2/accounts/{id}/cdrs`: the account's call records (Kazoo's cb_cdrs), newest first, and one
record by id (the call's UUID). As Crossbar, `created_from` and `created_to` choose the calls by
their start, in Gregorian seconds (Kazoo's timestamps; unix seconds are taken too): by default
the last 31 days, at most 31 days at once, `created_to` not before `created_from`; the list is
paged with `page_size` and `start_key` (controller/api/paging.py). Records are kept
`CONTROLLER_CDR_DAYS` days (controller/store/cdrs.py)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, request

from controller.api.auth import reachable
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import invalid, not_found
from controller.api.paging import MAX_PAGE, paged
from controller.store.cdrs import GREGORIAN_OFFSET, Cdrs

bp = Blueprint("cdrs", __name__, url_prefix="/v2/accounts/<aid>/cdrs")
MAX_RANGE = 31 * 86400  # Crossbar's maximum_range
MAX_LISTED = 100_000  # ids read for one page at most (a page is at most MAX_PAGE records)


def blueprints() -> list[Blueprint]:
    return [bp]


def _time(name: str, default: float) -> float:
    """A query's time as unix seconds (Gregorian seconds, Kazoo's, are told by their size)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 15:
        raise invalid(name, "type", f"{name} must be a whole number of (Gregorian) seconds")
    value = int(raw)
    return float(value - GREGORIAN_OFFSET if value >= GREGORIAN_OFFSET else value)


def _range() -> tuple[float, float]:
    until = _time("created_to", time.time())
    since = _time("created_from", until - MAX_RANGE)
    if until < since:
        raise invalid("created_from", "date_range", "created_to is prior to created_from")
    if until - since > MAX_RANGE:
        raise invalid("created_from", "date_range", f"created_to is more than {MAX_RANGE} seconds from created_from")
    return since, until


@bp.get("")
def list_cdrs(aid: str) -> Response:
    reachable(aid)
    since, until = _range()
    store = Cdrs(ctx().services.rds)
    ids = store.ids(aid, since, until)[:MAX_LISTED]
    start = request.args.get("start_key")
    if start is not None and start in ids:
        ids = ids[ids.index(start):]
    elif start is not None:
        ids = []
    records = store.get_many(aid, ids[: MAX_PAGE + 1])
    return paged(records, presorted=True)


@bp.get("/<cdr_id>")
def get_cdr(aid: str, cdr_id: str) -> Response:
    reachable(aid)
    found = Cdrs(ctx().services.rds).get(aid, cdr_id)
    if found is None:
        raise not_found("cdr", cdr_id)
    return reply(found)
