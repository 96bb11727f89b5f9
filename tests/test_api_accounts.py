"""The HTTP API's envelope, errors, tokens and access rules, and /v2/accounts, over real HTTP."""

import argparse
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from controller.commands import tokens
from controller.config import Settings
from controller.services import Services
from controller.store import keys
from controller.store.tokens import Tokens, digest_of
from tests.api_world import Client, serve_api


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


ENVELOPE = {"data", "status", "request_id", "revision", "auth_token", "timestamp", "version", "node"}


def test_every_answer_is_in_crossbars_envelope(api: Client) -> None:
    response = api.call("GET", "/v2/accounts/child", headers={"X-Request-ID": "req-42"})
    body = response.json()
    assert response.status_code == 200 and set(body) >= ENVELOPE
    assert body["status"] == "success" and body["request_id"] == "req-42"
    assert body["auth_token"] == api.tokens["reseller"] and body["data"]["name"] == "Child Office"
    assert body["timestamp"].endswith("Z") and body["version"] == "0.1.0" and len(body["node"]) == 16
    again = api.call("GET", "/v2/accounts/child").json()
    assert again["revision"] == body["revision"] and again["request_id"] != body["request_id"]


def test_requests_without_a_valid_token_are_401(api: Client) -> None:
    for who in (None, "not-a-token"):
        response = api.call("GET", "/v2/accounts/child", who=who)
        body = response.json()
        assert response.status_code == 401 and body["status"] == "error" and body["error"] == "401"
        assert body["message"] == "invalid credentials" and "X-Auth-Token" in body["data"]


def test_a_token_reaches_its_account_and_descendants_only(api: Client) -> None:
    assert api.ok("GET", "/v2/accounts/grandchild", "reseller")["id"] == "grandchild"
    assert api.ok("GET", "/v2/accounts/grandchild", "child")["id"] == "grandchild"
    assert api.call("GET", "/v2/accounts/reseller", "child").status_code == 403
    assert api.call("GET", "/v2/accounts/other", "reseller").status_code == 403
    assert api.call("GET", "/v2/accounts/child", "other").status_code == 403
    assert api.ok("GET", "/v2/accounts/other", "super")["id"] == "other"


def _comparable(response: Any) -> dict[str, Any]:
    body = response.json()
    return {k: v for k, v in body.items() if k not in ("request_id", "timestamp")}


def test_a_foreign_account_and_a_missing_one_look_the_same(api: Client) -> None:
    existing = api.call("GET", "/v2/accounts/reseller/users", "other")
    missing = api.call("GET", "/v2/accounts/no-such-account/users", "other")
    assert existing.status_code == missing.status_code == 403
    assert _comparable(existing) == _comparable(missing)
    assert "reseller" not in existing.text
    assert api.call("GET", "/v2/accounts/no-such-account", "super").status_code == 404


def test_listing_accounts_is_paged_and_limited_to_the_tokens_tree(api: Client) -> None:
    ids = [a["id"] for a in api.ok("GET", "/v2/accounts", "reseller")]
    assert ids == ["child", "grandchild", "reseller"]
    first = api.call("GET", "/v2/accounts?page_size=2", "reseller").json()
    assert [a["id"] for a in first["data"]] == ["child", "grandchild"] and first["next_start_key"] == "reseller"
    rest = api.call("GET", "/v2/accounts?page_size=2&start_key=reseller", "reseller").json()
    assert [a["id"] for a in rest["data"]] == ["reseller"] and "next_start_key" not in rest
    assert api.call("GET", "/v2/accounts?page_size=0", "reseller").json()["data"] == {
        "page_size": {"range": "page_size must be an integer from 1 to 1000"}}
    assert [a["id"] for a in api.ok("GET", "/v2/accounts/reseller/children")] == ["child"]


def test_creating_an_account_makes_a_child_of_the_tokens_account(api: Client, rds: redis.Redis) -> None:
    created = api.call("PUT", "/v2/accounts", "child", json={"data": {"name": "New Shop", "timezone": "UTC"}})
    assert created.status_code == 201
    new = created.json()["data"]
    assert new["parent_id"] == "child" and len(new["id"]) == 32
    assert new["id"] in rds.smembers(keys.children("child"))
    assert int(rds.get(keys.revision(new["id"])) or 0) == 1
    assert api.ok("GET", f"/v2/accounts/{new['id']}", "reseller")["name"] == "New Shop"
    foreign_parent = {"data": {"name": "X", "parent_id": "other"}}
    assert api.call("PUT", "/v2/accounts", "child", json=foreign_parent).status_code == 403
    chosen = api.call("PUT", "/v2/accounts", "child", json={"data": {"id": "other", "name": "X"}})
    assert chosen.status_code == 400 and "generated" in chosen.json()["data"]["id"]
    assert api.call("PUT", "/v2/accounts", "super", json={"data": {"id": "child", "name": "X"}}).status_code == 409


def test_a_read_only_token_cannot_write(api: Client) -> None:
    assert api.ok("GET", "/v2/accounts/child", "reseller_ro")["id"] == "child"
    response = api.call("PATCH", "/v2/accounts/child", "reseller_ro", json={"data": {"name": "Changed"}})
    assert response.status_code == 403 and response.json()["data"] == {"token": {"admin": "this token may only read"}}


def test_patch_merges_post_replaces_and_both_bump_the_revision(api: Client, rds: redis.Redis) -> None:
    before = int(rds.get(keys.revision("child")) or 0)
    patched = api.ok("PATCH", "/v2/accounts/child", json={"data": {"timezone": "Europe/Paris"}})
    assert patched["realm"] == "child.test" and patched["timezone"] == "Europe/Paris"
    replaced = api.ok("POST", "/v2/accounts/child", json={"data": {"name": "Renamed", "parent_id": "reseller"}})
    assert replaced == {"id": "child", "name": "Renamed", "parent_id": "reseller"}
    assert int(rds.get(keys.revision("child")) or 0) == before + 2


def test_account_validation_errors_name_the_field_and_rule(api: Client) -> None:
    response = api.call("PATCH", "/v2/accounts/child", json={"data": {"name": 5, "timezone": "Mars/Base"}})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "validation failed" and body["error"] == "400"
    assert set(body["data"]) == {"name", "timezone"} and "type" in body["data"]["name"]
    assert "format" in body["data"]["timezone"]
    assert api.ok("GET", "/v2/accounts/child")["name"] == "Child Office"


def test_accounts_move_only_within_reach_and_never_under_themselves(api: Client) -> None:
    move = {"data": {"parent_id": "grandchild"}}
    assert api.call("PATCH", "/v2/accounts/child", json=move).json()["data"] == {
        "parent_id": {"cycle": "an account cannot move under itself or its descendants"}}
    assert api.call("PATCH", "/v2/accounts/grandchild", json={"data": {"parent_id": "other"}}).status_code == 403
    assert api.call("PATCH", "/v2/accounts/child", "child", json={"data": {"parent_id": None}}).status_code == 403
    moved = api.ok("PATCH", "/v2/accounts/grandchild", json={"data": {"parent_id": "reseller"}})
    assert moved["parent_id"] == "reseller"
    assert sorted(a["id"] for a in api.ok("GET", "/v2/accounts/reseller/children")) == ["child", "grandchild"]


def test_deleting_an_account_revokes_its_tokens(api: Client, services: Services) -> None:
    secret, _ = Tokens(services.rds).create("grandchild", admin=True)
    assert api.ok("GET", "/v2/accounts/grandchild", secret)["id"] == "grandchild"
    api.ok("DELETE", "/v2/accounts/grandchild")
    api.ok("PUT", "/v2/accounts", "super", json={"data": {"id": "grandchild", "name": "Same id, new owner"}})
    assert api.call("GET", "/v2/accounts/grandchild", secret).status_code == 401
    assert api.ok("GET", "/v2/accounts/child", "child")["id"] == "child"


def test_deleting_accounts(api: Client, rds: redis.Redis) -> None:
    assert api.call("DELETE", "/v2/accounts/child").status_code == 409
    assert api.call("DELETE", "/v2/accounts/child", "child").status_code == 403
    assert api.ok("DELETE", "/v2/accounts/grandchild")["id"] == "grandchild"
    assert not rds.exists(keys.account("grandchild")) and "grandchild" not in rds.smembers(keys.children("child"))
    assert api.call("GET", "/v2/accounts/grandchild", "reseller").status_code == 403
    assert api.call("DELETE", "/v2/accounts/other", "reseller").status_code == 403


def test_bad_bodies_are_refused_clearly(api: Client, settings: Any) -> None:
    json_type = {"Content-Type": "application/json"}
    broken = api.call("PATCH", "/v2/accounts/child", data=b'{"data": {"name": ', headers=json_type)
    assert broken.status_code == 400 and broken.json()["message"] == "invalid json"
    assert "line 1 column" in broken.json()["data"]["body"]["json"]
    not_object = api.call("PATCH", "/v2/accounts/child", json={"data": ["x"]})
    assert not_object.status_code == 400
    assert not_object.json()["data"] == {"data": {"type": "data must be a JSON object"}}
    huge = api.call("PATCH", "/v2/accounts/child", json={"data": {"name": "x" * settings.api_max_body}})
    assert huge.status_code == 413 and huge.json()["error"] == "413"
    xml = api.call("PATCH", "/v2/accounts/child", data=b"<x/>", headers={"Content-Type": "application/xml"})
    assert xml.status_code == 415
    not_a_number = api.call("PATCH", "/v2/accounts/child", data=b'{"data": {"x": NaN}}', headers=json_type)
    assert not_a_number.status_code == 400 and "NaN" in not_a_number.json()["data"]["body"]["json"]
    deep = api.call("PATCH", "/v2/accounts/child", data=b'{"data": {"x": ' + b"[" * 100000 + b"]" * 100000 + b"}}",
                    headers=json_type)
    assert deep.status_code == 400 and deep.json()["message"] == "invalid json"
    assert api.ok("GET", "/v2/accounts/child") == {"id": "child", "name": "Child Office", "realm": "child.test",
                                                   "parent_id": "reseller"}


def test_unknown_routes_and_methods_answer_in_the_envelope(api: Client) -> None:
    missing = api.call("GET", "/v2/nothing-here")
    assert missing.status_code == 404 and missing.json()["status"] == "error"
    wrong = api.call("DELETE", "/v2/accounts")
    assert wrong.status_code == 405 and wrong.json()["error"] == "405"


def run_tokens(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    tokens.register(parser.add_subparsers())
    args = parser.parse_args(["tokens", *argv])
    return int(args.run(args, settings))


def test_tokens_command_prints_a_token_once_and_stores_only_its_digest(
    api: Client, rds: redis.Redis, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_tokens(settings, "create", "--account", "other", "--admin") == 0
    secret = capsys.readouterr().out.splitlines()[0]
    assert len(secret) >= 40
    assert not any(secret in str(rds.get(k)) for k in rds.keys("api:token:*"))
    assert api.ok("GET", "/v2/accounts/other", secret)["id"] == "other"
    assert api.call("GET", "/v2/accounts/child", secret).status_code == 403
    assert run_tokens(settings, "create", "--account", "nope") == 1
    assert run_tokens(settings, "list") == 0
    listed = capsys.readouterr().out
    digest = digest_of(secret)[:16]
    assert f"{digest}  other  admin" in listed and secret not in listed
    assert run_tokens(settings, "revoke", digest) == 0
    assert api.call("GET", "/v2/accounts/other", secret).status_code == 401
