"""/v2/accounts/{id}/menus, /temporal_rules and /temporal_rules_sets over real HTTP (Crossbar's
cb_menus, cb_temporal_rules, cb_temporal_rules_sets): CRUD, schema validation with the field
named, access from other accounts, the revision bump, and calls routed by what the API stored."""

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.modules import temporal_route
from controller.services import Services
from controller.store import keys
from tests.api_world import Client, serve_api
from tests.office import call, node

MENU = {"name": "Main menu", "retries": 2, "timeout": 8000, "hunt": False,
        "media": {"greeting": "/media/main-menu.wav", "invalid_media": True, "exit_media": False}}
RULE = {"name": "Business hours", "cycle": "weekly", "wdays": ["monday", "tuesday", "wensday", "thursday", "friday"],
        "time_window_start": 32400, "time_window_stop": 61200, "start_date": 62586115200}
RULE_SET = {"name": "Holidays", "temporal_rules": ["r-xmas", "r-new-year"]}
KINDS = [("menus", MENU, {"retries": 3}), ("temporal_rules", RULE, {"interval": 2}),
         ("temporal_rules_sets", RULE_SET, {"name": "Bank holidays"})]


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def revision(rds: redis.Redis, aid: str) -> int:
    return int(rds.get(keys.revision(aid)) or 0)


@pytest.mark.parametrize(("kind", "doc", "change"), KINDS, ids=[kind for kind, *_ in KINDS])
def test_documents_are_created_read_listed_merged_replaced_and_deleted_each_bumping_the_revision(
    api: Client, rds: redis.Redis, kind: str, doc: dict[str, Any], change: dict[str, Any]
) -> None:
    base = f"/v2/accounts/child/{kind}"
    start = revision(rds, "child")
    created = api.call("PUT", base, json={"data": doc})
    assert created.status_code == 201
    doc_id = created.json()["data"]["id"]
    assert api.ok("GET", f"{base}/{doc_id}") == {**doc, "id": doc_id}
    api.ok("PUT", base, json={"data": {**doc, "id": "second"}})
    assert sorted(d["id"] for d in api.ok("GET", base)) == sorted([doc_id, "second"])
    assert api.ok("PATCH", f"{base}/{doc_id}", json={"data": change}) == {**doc, **change, "id": doc_id}
    assert api.ok("POST", f"{base}/{doc_id}", json={"data": doc}) == {**doc, "id": doc_id}
    assert api.call("PUT", base, json={"data": {**doc, "id": "second"}}).status_code == 409
    assert api.ok("DELETE", f"{base}/{doc_id}")["id"] == doc_id
    assert api.call("GET", f"{base}/{doc_id}").status_code == 404
    assert revision(rds, "child") == start + 5
    assert list(rds.hgetall(keys.docs("child", kind))) == ["second"]


@pytest.mark.parametrize(("kind", "doc", "fields"), [
    ("menus", {"retries": 0, "media": {"greeting": 5}}, {"name": "required", "retries": "minimum",
                                                          "media.greeting": "type"}),
    ("menus", {"name": "M", "hunt_allow": "^(1)\\1$", "media": {"exit_media": 3}}, {"hunt_allow": "format",
                                                                                  "media.exit_media": "oneOf"}),
    ("temporal_rules", {"name": "R", "cycle": "hourly", "wdays": ["funday"], "time_window_stop": 90000},
     {"cycle": "enum", "wdays.0": "enum", "time_window_stop": "maximum"}),
    ("temporal_rules", {"name": "R", "cycle": "date", "start_date": "2025-13-01"}, {"start_date": "format"}),
    ("temporal_rules_sets", {"temporal_rules": []}, {"name": "required", "temporal_rules": "minItems"}),
], ids=["menu", "menu-patterns", "rule", "rule-date", "rule-set"])
def test_validation_errors_are_400_naming_each_field_and_nothing_is_written(
    api: Client, rds: redis.Redis, kind: str, doc: dict[str, Any], fields: dict[str, str]
) -> None:
    response = api.call("PUT", f"/v2/accounts/child/{kind}", json={"data": {"id": "bad", **doc}})
    assert response.status_code == 400, response.text
    data = response.json()["data"]
    assert {field: next(iter(rules)) for field, rules in data.items()} == fields
    assert not rds.hexists(keys.docs("child", kind), "bad")


def test_a_patch_that_breaks_a_menu_is_refused_and_the_menu_stays(api: Client) -> None:
    api.ok("PUT", "/v2/accounts/child/menus", json={"data": {**MENU, "id": "m-1"}})
    wrong = api.call("PATCH", "/v2/accounts/child/menus/m-1", json={"data": {"max_extension_length": 7}})
    assert wrong.status_code == 400 and "maximum" in wrong.json()["data"]["max_extension_length"]
    assert api.ok("GET", "/v2/accounts/child/menus/m-1") == {**MENU, "id": "m-1"}


@pytest.mark.parametrize("kind", [kind for kind, *_ in KINDS])
def test_another_accounts_documents_can_neither_be_read_nor_changed(api: Client, kind: str) -> None:
    doc = next(d for k, d, _ in KINDS if k == kind)
    api.ok("PUT", f"/v2/accounts/reseller/{kind}", json={"data": {**doc, "id": "boss"}})
    base = f"/v2/accounts/reseller/{kind}"
    for method, path in (("GET", base), ("GET", f"{base}/boss"), ("POST", f"{base}/boss"),
                         ("PATCH", f"{base}/boss"), ("DELETE", f"{base}/boss"), ("PUT", base)):
        for who in ("child", "other"):
            response = api.call(method, path, who, json={"data": {**doc, "name": "Pwned"}})
            assert response.status_code == 403, (method, path, who)
            assert "boss" not in response.text
    assert api.ok("GET", f"/v2/accounts/reseller/{kind}/boss")["name"] == doc["name"]


def test_a_menu_stored_through_the_api_answers_the_next_call_and_its_change_the_one_after(
    api: Client, esl_server: OutboundServer
) -> None:
    api.ok("PUT", "/v2/accounts/child/menus", json={"data": {**MENU, "id": "m-main"}})
    flow = node("menu", {"id": "m-main"}, **{"1": node("play", {"id": "/media/sales.wav"})})
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": ["4500"], "flow": flow}})
    first = call(esl_server, "4500", account_id="child", time_scale=0.05)
    assert first.args_of("play_and_get_digits")[0].split()[3:6] == ["8000", "#", "/media/main-menu.wav"]
    api.ok("PATCH", "/v2/accounts/child/menus/m-main", json={"data": {"media": {"greeting": "/media/night.wav"}}})
    second = call(esl_server, "4500", account_id="child", time_scale=0.05)
    assert second.args_of("play_and_get_digits")[0].split()[5] == "/media/night.wav"


def test_temporal_rules_stored_through_the_api_route_calls(
    api: Client, esl_server: OutboundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 10:00 UTC on Friday 25 December 2026: a holiday, within business hours."""
    fixed = datetime.datetime(2026, 12, 25, 10, 0, tzinfo=datetime.UTC)
    monkeypatch.setattr(temporal_route, "current_time", fixed.astimezone)
    rules = "/v2/accounts/child/temporal_rules"
    api.ok("PUT", rules, json={"data": {**RULE, "id": "r-open"}})
    api.ok("PUT", rules, json={"data": {"id": "r-xmas", "name": "Christmas", "cycle": "yearly", "month": 12,
                                        "days": [25]}})
    api.ok("PUT", rules, json={"data": {"id": "r-new-year", "name": "New Year", "cycle": "yearly", "days": [1]}})
    api.ok("PUT", "/v2/accounts/child/temporal_rules_sets", json={"data": {**RULE_SET, "id": "s-holidays"}})
    play = {name: node("play", {"id": f"/media/{name}.wav"}) for name in ("open", "holiday", "closed")}
    by_ids = node("temporal_route", {"rules": ["r-open"], "timezone": "UTC"}, **{"r-open": play["open"],
                                                                                 "_": play["closed"]})
    by_set = node("temporal_route", {"rule_set": "s-holidays", "timezone": "UTC"},
                  rule_set=play["holiday"], _=by_ids)
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": ["4600"], "flow": by_set}})
    assert call(esl_server, "4600", account_id="child").args_of("playback") == ["/media/holiday.wav"]
    api.ok("PATCH", "/v2/accounts/child/temporal_rules_sets/s-holidays",
           json={"data": {"temporal_rules": ["r-new-year"]}})
    assert call(esl_server, "4600", account_id="child").args_of("playback") == ["/media/open.wav"]
    api.ok("PATCH", f"{rules}/r-open", json={"data": {"enabled": False}})
    assert call(esl_server, "4600", account_id="child").args_of("playback") == ["/media/closed.wav"]
