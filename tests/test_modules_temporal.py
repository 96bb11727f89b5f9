"""temporal_route: the rules' calendar arithmetic, inline and stored (Kazoo's temporal_rules and
temporal_rules_sets documents), and routing through the real server."""

import datetime
import zoneinfo
from typing import Any

import pytest
import redis

from controller.callflows.validate import check_callflow
from controller.esl.server import OutboundServer
from controller.modules import temporal_route
from controller.modules.schedules import matches
from controller.modules.temporal_route import chosen, first_match
from controller.modules.temporal_rules import day, routes, schedule
from controller.store.documents import Documents
from tests.office import ACCOUNT, call, flow, load, node

BUSINESS = {"id": "open", "name": "Business hours", "cycle": "weekly", "wdays": ["monday", "tuesday", "wednesday",
            "thursday", "friday"], "time_window_start": 9 * 3600, "time_window_stop": 17 * 3600}
CHRISTMAS = {"id": "holiday", "name": "Christmas", "cycle": "yearly", "month": 12, "days": [25]}
THANKSGIVING = {"id": "holiday", "name": "Thanksgiving", "cycle": "yearly", "month": 11, "wdays": ["thursday"],
                "ordinal": "fourth"}


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


@pytest.mark.parametrize(("moment", "expected"), [
    ("2026-11-23T09:00:00", True),   # Monday, opening second
    ("2026-11-23T16:59:59", True),
    ("2026-11-23T17:00:00", False),  # the stop second is outside
    ("2026-11-22T12:00:00", False),  # Sunday
    ("2026-11-23T08:59:59", False),
])
def test_business_hours(moment: str, expected: bool) -> None:
    assert matches(BUSINESS, at(moment)) is expected


def test_holidays_by_day_and_by_ordinal_weekday() -> None:
    assert matches(CHRISTMAS, at("2027-12-25T03:00:00"))
    assert not matches(CHRISTMAS, at("2027-12-24T03:00:00"))
    assert matches(THANKSGIVING, at("2026-11-26T10:00:00"))  # the fourth Thursday of November 2026
    assert not matches(THANKSGIVING, at("2026-11-19T10:00:00"))
    last_friday = {"id": "x", "name": "x", "cycle": "monthly", "wdays": ["friday"], "ordinal": "last"}
    assert matches(last_friday, at("2026-11-27T10:00:00"))
    assert not matches(last_friday, at("2026-11-20T10:00:00"))


def test_intervals_dates_and_overrides() -> None:
    fortnightly = {"id": "x", "name": "x", "cycle": "weekly", "interval": 2, "wdays": ["monday"],
                   "start_date": "2026-11-02"}
    assert matches(fortnightly, at("2026-11-16T10:00:00"))
    assert not matches(fortnightly, at("2026-11-23T10:00:00"))
    assert not matches(fortnightly, at("2026-10-26T10:00:00"))  # before the start date
    one_day = {"id": "x", "name": "x", "cycle": "date", "start_date": "2026-12-31"}
    assert matches(one_day, at("2026-12-31T23:00:00")) and not matches(one_day, at("2027-12-31T23:00:00"))
    ended = {"id": "x", "name": "x", "cycle": "daily", "end_date": "2026-01-01"}
    assert not matches(ended, at("2026-11-23T10:00:00"))
    night = {"id": "x", "name": "x", "cycle": "daily", "time_window_start": 22 * 3600, "time_window_stop": 6 * 3600}
    assert matches(night, at("2026-11-23T23:30:00")) and matches(night, at("2026-11-23T05:00:00"))
    assert not matches(night, at("2026-11-23T12:00:00"))
    assert matches({**night, "enabled": True}, at("2026-11-23T12:00:00"))
    assert not matches({**BUSINESS, "enabled": False}, at("2026-11-23T10:00:00"))


def test_the_first_matching_rule_wins() -> None:
    rules = [{**CHRISTMAS}, {**BUSINESS}]
    assert chosen(rules, at("2028-12-25T10:00:00")) == "holiday"  # a Monday, yet closed
    assert chosen(rules, at("2028-12-26T10:00:00")) == "open"
    assert chosen(rules, at("2028-12-26T20:00:00")) is None


def test_routing_through_the_server_in_a_timezone(rds: redis.Redis, esl_server: OutboundServer) -> None:
    always = {"id": "day", "name": "Always", "cycle": "daily"}
    never = {"id": "night", "name": "Never", "cycle": "daily", "enabled": False}
    children = {"day": node("play", {"id": "/media/day.wav"}), "night": node("play", {"id": "/media/night.wav"}),
                "_": node("play", {"id": "/media/closed.wav"})}
    load(
        rds,
        flow("400", node("temporal_route", {"rules": [never, always], "timezone": "Asia/Tokyo"}, **children)),
        flow("401", node("temporal_route", {"rules": [never]}, **children)),
    )
    assert call(esl_server, "400").args_of("playback") == ["/media/day.wav"]
    assert call(esl_server, "401").args_of("playback") == ["/media/closed.wav"]


def test_an_unknown_timezone_is_refused_at_save_time() -> None:
    doc = {"id": "cf", "numbers": ["1"], "flow": node("temporal_route", {
        "timezone": "Mars/Olympus_Mons", "rules": [{"id": "a", "name": "a", "cycle": "daily"}]})}
    errors = check_callflow(doc).errors
    assert [error.path for error in errors] == ["$.flow.data.timezone"], errors


# --- stored temporal rules and rule sets (Kazoo's forms) -----------------------------------------

UTC = zoneinfo.ZoneInfo("UTC")
WEEKDAYS = {"id": "r-open", "name": "Business hours", "cycle": "weekly",
            "wdays": ["monday", "tuesday", "wensday", "thursday", "friday"],
            "time_window_start": 9 * 3600, "time_window_stop": 17 * 3600}
XMAS = {"id": "r-xmas", "name": "Christmas", "cycle": "yearly", "month": 12, "days": [25]}
NEW_YEAR = {"id": "r-new-year", "name": "New Year", "cycle": "yearly", "days": [1]}  # month: Kazoo's default, 1
HOLIDAYS = {"id": "s-holidays", "name": "Holidays", "temporal_rules": ["r-xmas", "r-new-year"]}
STORED = {rule["id"]: rule for rule in (WEEKDAYS, XMAS, NEW_YEAR)}
SETS = {HOLIDAYS["id"]: HOLIDAYS}


def keys_checked(data: dict[str, Any], children: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(str(rule.get("id")), key) for rule, key in routes(data, children, STORED, SETS, UTC)]


def test_rule_ids_then_child_keys_then_the_rule_set_are_checked_in_kazoos_order() -> None:
    data = {"rules": ["r-open", "r-missing"], "rule_set": "s-holidays"}
    assert keys_checked(data, ("r-xmas", "_", "closed")) == [
        ("r-open", "r-open"), ("r-xmas", "r-xmas"), ("r-xmas", "rule_set"), ("r-new-year", "rule_set")]


def test_a_rule_set_named_as_a_rule_stands_for_its_rules_keyed_by_the_set() -> None:
    assert keys_checked({"rules": ["s-holidays"]}) == [("r-xmas", "s-holidays"), ("r-new-year", "s-holidays")]
    assert keys_checked({}, ("s-holidays",)) == [("r-xmas", "s-holidays"), ("r-new-year", "s-holidays")]


def test_inline_rules_and_stored_ids_mix() -> None:
    assert keys_checked({"rules": [CHRISTMAS, "r-open"]}) == [("holiday", "holiday"), ("r-open", "r-open")]


def test_stored_rules_read_kazoos_fields() -> None:
    assert chosen_key({"rules": ["r-open"]}, "2026-11-25T10:00:00") == "r-open"  # a Wednesday (`wensday`)
    assert chosen_key({"rules": ["r-new-year"]}, "2027-01-01T10:00:00") == "r-new-year"
    assert chosen_key({"rules": ["r-new-year"]}, "2027-02-01T10:00:00") is None


def test_a_kazoo_start_date_in_gregorian_seconds_is_a_day_in_the_routes_timezone() -> None:
    start = 63808214400  # 2022-01-01T00:00:00Z: still 2021-12-31 in New York
    assert day(start, UTC) == "2022-01-01"
    assert day(start, zoneinfo.ZoneInfo("America/New_York")) == "2021-12-31"
    once = {"id": "r-once", "name": "Once", "cycle": "date", "start_date": start}
    assert matches(schedule(once, UTC), at("2022-01-01T12:00:00"))
    assert not matches(schedule(once, UTC), at("2022-01-02T12:00:00"))


def test_a_monthly_rule_with_weekdays_and_no_ordinal_takes_kazoos_first() -> None:
    first_monday = schedule({"id": "r", "name": "r", "cycle": "monthly", "wdays": ["monday"]}, UTC)
    assert matches(first_monday, at("2026-11-02T10:00:00"))
    assert not matches(first_monday, at("2026-11-09T10:00:00"))


def chosen_key(data: dict[str, Any], moment: str) -> str | None:
    return first_match(routes(data, (), STORED, SETS, UTC), at(moment))


@pytest.fixture
def christmas_morning(monkeypatch: pytest.MonkeyPatch) -> None:
    """The route's clock stopped at 10:00 UTC on Friday 25 December 2026."""
    fixed = datetime.datetime(2026, 12, 25, 10, 0, tzinfo=datetime.UTC)
    monkeypatch.setattr(temporal_route, "current_time", fixed.astimezone)


def stored_rules() -> dict[str, list[dict[str, Any]]]:
    return {"temporal_rules": [WEEKDAYS, XMAS, NEW_YEAR], "temporal_rules_sets": [HOLIDAYS]}


def test_routing_by_stored_rule_ids_at_a_fixed_time(
    rds: redis.Redis, esl_server: OutboundServer, christmas_morning: None
) -> None:
    children = {"r-xmas": node("play", {"id": "/media/xmas.wav"}), "r-open": node("play", {"id": "/media/open.wav"}),
                "_": node("play", {"id": "/media/closed.wav"})}
    load(rds,
         flow("410", node("temporal_route", {"rules": ["r-xmas", "r-open"]}, **children)),
         flow("411", node("temporal_route", {"rules": ["r-open"], "timezone": "Pacific/Kiritimati"}, **children)),
         flow("412", node("temporal_route", {"rules": ["r-new-year"]}, **{"r-new-year": children["r-open"],
                                                                           "_": children["_"]})),
         **stored_rules())
    assert call(esl_server, "410").args_of("playback") == ["/media/xmas.wav"]
    assert call(esl_server, "411").args_of("playback") == ["/media/closed.wav"]  # already 00:00 on the 26th there
    assert call(esl_server, "412").args_of("playback") == ["/media/closed.wav"]


def test_routing_by_a_rule_set_at_a_fixed_time(
    rds: redis.Redis, esl_server: OutboundServer, christmas_morning: None
) -> None:
    children = {"rule_set": node("play", {"id": "/media/holiday.wav"}), "_": node("play", {"id": "/media/open.wav"})}
    load(rds,
         flow("420", node("temporal_route", {"rule_set": "s-holidays"}, **children)),
         flow("421", node("temporal_route", {"rule_set": "s-holidays", "timezone": "America/New_York"},
                          **children)),
         **stored_rules())
    assert call(esl_server, "420").args_of("playback") == ["/media/holiday.wav"]
    assert call(esl_server, "421").args_of("playback") == ["/media/holiday.wav"]  # 05:00 on the 25th there
    Documents(rds, "temporal_rules_sets").save(ACCOUNT, {**HOLIDAYS, "temporal_rules": ["r-new-year"]})
    assert call(esl_server, "420").args_of("playback") == ["/media/open.wav"]


def test_routing_by_child_keys_alone_as_kazoos_ui_writes_it(
    rds: redis.Redis, esl_server: OutboundServer, christmas_morning: None
) -> None:
    children = {"r-open": node("play", {"id": "/media/open.wav"}), "s-holidays": node("play", {"id": "/media/h.wav"}),
                "_": node("play", {"id": "/media/closed.wav"})}
    load(rds, flow("430", node("temporal_route", {"timezone": "inherit"}, **children)), **stored_rules())
    assert call(esl_server, "430").args_of("playback") == ["/media/open.wav"]  # r-open sorts first; a Friday
    load(rds, flow("431", node("temporal_route", {}, **{k: v for k, v in children.items() if k != "r-open"})),
         **stored_rules())
    assert call(esl_server, "431").args_of("playback") == ["/media/h.wav"]
