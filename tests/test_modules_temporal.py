"""temporal_route: the rules' calendar arithmetic, and routing through the real server."""

import datetime

import pytest
import redis

from controller.callflows.validate import check_callflow
from controller.esl.server import OutboundServer
from controller.modules.schedules import matches
from controller.modules.temporal_route import chosen
from tests.office import call, flow, load, node

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
