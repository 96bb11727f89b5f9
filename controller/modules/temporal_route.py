"""temporal_route — route by time: business hours, weekends, holidays (Kazoo's
cf_temporal_route).

Data: `rules` (inline rules `{id, name, cycle, ...}`, see `schedules.py`, and ids of stored
temporal rules or rule sets), `rule_set` (the id of a stored rule set: its rules lead to the
`rule_set` child), `timezone` (IANA name, or Kazoo's `inherit`; absent: the account's `timezone`,
else UTC). The node's child keys are stored rule ids too, as in Kazoo: which rules are checked,
in which order and with which child, is `temporal_rules.py`. The rules are checked in order
against the current time in that timezone; the first that matches names the child to take; when
none matches, `_`. Nothing is sent to FreeSWITCH.

Kazoo's `action` (menu, enable, disable, reset: callers switching rules on and off by phone) is
not supported: such a node routes by time.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules.schedules import matches
from controller.modules.temporal_rules import Route, routes

log = logging.getLogger(__name__)


def timezone(data: dict[str, Any], account: Mapping[str, Any], call: Call) -> zoneinfo.ZoneInfo:
    name = data.get("timezone")
    if not name or name == "inherit":
        name = account.get("timezone")
    try:
        return zoneinfo.ZoneInfo(str(name or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("call %s: unknown timezone %r, using UTC", call.uuid, name)
        return zoneinfo.ZoneInfo("UTC")


def current_time(zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """Now, in the route's timezone (the one clock the module reads)."""
    return datetime.datetime.now(zone)


def first_match(found: list[Route], now: datetime.datetime) -> str | None:
    """The child key of the first rule matching `now`, None when none does."""
    return next((key for rule, key in found if matches(rule, now)), None)


def chosen(rules: list[dict[str, Any]], now: datetime.datetime) -> str | None:
    """The id of the first inline rule matching `now`, None when none does."""
    return first_match([(rule, str(rule["id"])) for rule in rules], now)


def handle(data: dict[str, Any], call: Call) -> Next:
    account, rules, sets = call.services.temporal_context(call.account_id)
    zone = timezone(data, account, call)
    now = current_time(zone)
    found = routes(data, call.children, rules, sets, zone)
    key = first_match(found, now)
    log.info("call %s: temporal route at %s, %d rules -> %s", call.uuid, now.isoformat(timespec="seconds"),
             len(found), key or "_")
    return key or DEFAULT_CHILD
