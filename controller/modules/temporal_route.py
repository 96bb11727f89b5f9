"""temporal_route — route by time: business hours, weekends, holidays (Kazoo's
cf_temporal_route).

Data: `rules` (required; each `{id, name, cycle, ...}`, see `schedules.py`), `timezone` (IANA
name; absent: the account's `timezone`, else UTC). The rules are checked in order against the
current time in that timezone; the first that matches names the child to take (its `id`); when
none matches, `_`. Nothing is sent to FreeSWITCH.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules.schedules import matches

log = logging.getLogger(__name__)


def timezone(data: dict[str, Any], call: Call) -> zoneinfo.ZoneInfo:
    name = data.get("timezone")
    if not name:
        name = call.services.account(call.account_id).get("timezone")
    try:
        return zoneinfo.ZoneInfo(str(name or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("call %s: unknown timezone %r, using UTC", call.uuid, name)
        return zoneinfo.ZoneInfo("UTC")


def chosen(rules: list[dict[str, Any]], now: datetime.datetime) -> str | None:
    """The id of the first rule matching `now`, None when none does."""
    return next((str(rule["id"]) for rule in rules if matches(rule, now)), None)


def handle(data: dict[str, Any], call: Call) -> Next:
    now = datetime.datetime.now(timezone(data, call))
    rule = chosen(list(data.get("rules") or []), now)
    log.info("call %s: temporal route at %s -> %s", call.uuid, now.isoformat(timespec="seconds"), rule or "_")
    return rule or DEFAULT_CHILD
