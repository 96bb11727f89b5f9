"""When a `temporal_route` rule matches a moment (Kazoo's temporal rules, evaluated inline).

A rule matches a local date and time when the day fits its `cycle` and the time of day is in
[`time_window_start`, `time_window_stop`) seconds (a stop at or before the start wraps past
midnight: 22:00-06:00 matches late evenings and early mornings of the matching days).

Cycles, counted from `start_date` (the first day a rule can match; `end_date` the last):
- `date`: the start date only;
- `daily`: every `interval`-th day;
- `weekly`: on `wdays`, every `interval`-th week (weeks start on Monday);
- `monthly`: every `interval`-th month, on `days` of the month, or on the `ordinal` (`first` ..
  `fifth`, `last`, `every`) occurrence of `wdays`;
- `yearly`: every `interval`-th year, in `month`, on `days` or the `ordinal` `wdays` (holidays:
  `{"cycle": "yearly", "month": 12, "days": [25]}`, or the fourth thursday of November).
`enabled: true` always matches, `false` never.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Mapping
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
EPOCH = datetime.date(2000, 1, 3)  # a Monday: the default start of every cycle


def matches(rule: Mapping[str, Any], now: datetime.datetime) -> bool:
    """Whether the rule matches `now` (a local, naive or aware, datetime)."""
    if isinstance(rule.get("enabled"), bool):
        return bool(rule["enabled"])
    start, stop = int(rule.get("time_window_start", 0)), int(rule.get("time_window_stop", 86400))
    second = now.hour * 3600 + now.minute * 60 + now.second
    in_window = start <= second < stop if start < stop else second >= start or second < stop
    return in_window and day_matches(rule, now.date())


def day_matches(rule: Mapping[str, Any], day: datetime.date) -> bool:
    first = _date(rule.get("start_date")) or EPOCH
    last = _date(rule.get("end_date"))
    if day < first or (last is not None and day > last):
        return False
    interval = max(1, int(rule.get("interval", 1)))
    cycle = rule.get("cycle")
    if cycle == "date":
        return day == first
    if cycle == "daily":
        return (day - first).days % interval == 0
    if cycle == "weekly":
        weeks = (_monday(day) - _monday(first)).days // 7
        return weeks % interval == 0 and WEEKDAYS[day.weekday()] in (rule.get("wdays") or WEEKDAYS)
    if cycle == "monthly":
        months = (day.year - first.year) * 12 + day.month - first.month
        return months % interval == 0 and _day_of_month(rule, day)
    if cycle == "yearly":
        years = day.year - first.year
        month = rule.get("month")
        return years % interval == 0 and (month is None or day.month == month) and _day_of_month(rule, day)
    return False


def _day_of_month(rule: Mapping[str, Any], day: datetime.date) -> bool:
    """`days` of the month, or the `ordinal` occurrence of one of `wdays` in its month."""
    wdays = rule.get("wdays")
    if wdays:
        if WEEKDAYS[day.weekday()] not in wdays:
            return False
        ordinal = rule.get("ordinal", "every")
        if ordinal == "every":
            return True
        if ordinal == "last":
            return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        return (day.day - 1) // 7 + 1 == ORDINALS.get(str(ordinal), 0)
    days = rule.get("days")
    return day.day in days if days else True


def _monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def _date(value: object) -> datetime.date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None
