"""Which temporal rules a `temporal_route` node checks, and with which child each, in Kazoo's order
(cf_temporal_route's get_temporal_route); stored rule documents read as the rules `schedules.py`
evaluates.

The routes, in order:
1. `data.rules`: an inline rule (its `id` is the child key), or the id of a stored rule (the child
   key is that id);
2. the node's child keys other than `_`, each the id of a stored rule (Kazoo's branch keys: a
   route whose children are keyed by rule ids needs no `rules`); stored documents lose key order,
   so these come in sorted order;
3. the rules of the stored rule set `data.rule_set`, each with the child key `rule_set`.
An id of 1. or 2. that names a rule set stands for that set's rules, each with the set's id as
child key. Ids that name nothing are skipped (Kazoo logs them and goes on).

A stored rule is Kazoo's temporal_rules document: its `start_date` may be Kazoo's Gregorian seconds
(read as a day in the route's timezone); left-out fields take Kazoo's defaults (every weekday,
`ordinal` first, `month` 1); `days` win over `wdays` in monthly and yearly rules; `wensday` is
Wednesday.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

from controller.flow import DEFAULT_CHILD

Doc = Mapping[str, Any]
Route = tuple[Doc, str]  # a rule as schedules.py reads it, and the child key it names
RULE_SET_CHILD = "rule_set"
GREGORIAN_UNIX_EPOCH = 62167219200  # Erlang's calendar:datetime_to_gregorian_seconds of 1970-01-01
UNIX_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def routes(
    data: Doc, children: Iterable[str], rules: Mapping[str, Doc], sets: Mapping[str, Doc], zone: zoneinfo.ZoneInfo
) -> list[Route]:
    """The rules a node checks, in order, each with the child key it names."""
    found: list[Route] = []
    for ref, key in _expanded(_wanted(data, children, sets), sets):
        if not isinstance(ref, str):
            found.append((ref, key))
        elif ref in rules:
            found.append((schedule(rules[ref], zone), key))
    return found


def _wanted(data: Doc, children: Iterable[str], sets: Mapping[str, Doc]) -> list[tuple[Doc | str, str]]:
    wanted: list[tuple[Doc | str, str]] = []
    listed = data.get("rules")
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict):
            wanted.append((item, str(item.get("id"))))
        elif isinstance(item, str):
            wanted.append((item, item))
    wanted += [(key, key) for key in sorted(children) if key != DEFAULT_CHILD]
    rule_set = data.get("rule_set")
    if isinstance(rule_set, str):
        wanted += [(rule, RULE_SET_CHILD) for rule in set_rules(sets, rule_set)]
    return wanted


def _expanded(wanted: list[tuple[Doc | str, str]], sets: Mapping[str, Doc]) -> list[tuple[Doc | str, str]]:
    """Ids naming a rule set replaced by its rules, keyed by the set's id (maybe_expand_rulesets)."""
    found: list[tuple[Doc | str, str]] = []
    for ref, key in wanted:
        members = set_rules(sets, ref) if isinstance(ref, str) and key != RULE_SET_CHILD else []
        if members and isinstance(ref, str):
            found += [(rule, ref) for rule in members]
        else:
            found.append((ref, key))
    return found


def set_rules(sets: Mapping[str, Doc], set_id: object) -> list[str]:
    """The rule ids of a stored rule set (none when there is no such set)."""
    members = (sets.get(set_id) or {}).get("temporal_rules") if isinstance(set_id, str) else None
    return [m for m in members if isinstance(m, str)] if isinstance(members, list) else []


def schedule(doc: Doc, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """A stored temporal rule as the inline rules read (Kazoo's defaults made explicit)."""
    rule = {**doc, "wdays": ["wednesday" if d == "wensday" else d for d in doc.get("wdays") or []]}
    if doc.get("cycle") in ("monthly", "yearly"):
        if doc.get("days"):
            rule.pop("wdays")
        rule.setdefault("ordinal", "first")
    if doc.get("cycle") == "yearly":
        rule.setdefault("month", 1)
    for field in ("start_date", "end_date"):
        if field in doc:
            rule[field] = day(doc[field], zone)
    return rule


def day(value: object, zone: zoneinfo.ZoneInfo) -> object:
    """A `start_date` / `end_date` as YYYY-MM-DD: Gregorian seconds are read in the timezone."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    try:
        moment = UNIX_EPOCH + datetime.timedelta(seconds=value - GREGORIAN_UNIX_EPOCH)
        return moment.astimezone(zone).date().isoformat()
    except OverflowError:
        return (datetime.date.min if value < GREGORIAN_UNIX_EPOCH else datetime.date.max).isoformat()
