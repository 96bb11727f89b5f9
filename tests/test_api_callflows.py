"""/v2/accounts/{id}/callflows over real HTTP: the same validation as `controller flows check`
with field paths, 409 for a number another callflow holds, and a change that routes the very
next call through the real ESL server and the FreeSWITCH simulator."""

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.services import Services
from controller.store import keys
from tests.api_world import Client, serve_api
from tests.office import call


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def play(media: str, **children: Any) -> dict[str, Any]:
    return {"module": "play", "data": {"id": media}, "children": children}


def test_a_callflow_created_through_the_api_routes_the_next_call(
    api: Client, esl_server: OutboundServer, rds: redis.Redis
) -> None:
    before = int(rds.get(keys.revision("child")) or 0)
    doc = {"numbers": ["4100"], "flow": play("/a.wav")}
    created = api.call("PUT", "/v2/accounts/child/callflows", json={"data": doc})
    assert created.status_code == 201
    cid = created.json()["data"]["id"]
    assert int(rds.get(keys.revision("child")) or 0) == before + 1
    assert call(esl_server, "4100", account_id="child").args_of("playback") == ["/a.wav"]
    api.ok("PATCH", f"/v2/accounts/child/callflows/{cid}", json={"data": {"flow": {"data": {"id": "/b.wav"}}}})
    assert call(esl_server, "4100", account_id="child").args_of("playback") == ["/b.wav"]
    api.ok("POST", f"/v2/accounts/child/callflows/{cid}", json={"data": {"numbers": ["4200"], "flow": play("/c.wav")}})
    assert call(esl_server, "4200", account_id="child").args_of("playback") == ["/c.wav"]
    assert call(esl_server, "4100", account_id="child").app_names() == ["hangup"]
    api.ok("DELETE", f"/v2/accounts/child/callflows/{cid}")
    assert call(esl_server, "4200", account_id="child").app_names() == ["hangup"]
    assert rds.hgetall(keys.numbers("child")) == {}


def test_a_pattern_callflow_created_through_the_api_routes_the_next_call(
    api: Client, esl_server: OutboundServer
) -> None:
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"patterns": [r"^\*77(\d+)$"], "flow": play("/p.wav")}})
    assert call(esl_server, "*7712", account_id="child").args_of("playback") == ["/p.wav"]


def test_validation_errors_carry_the_field_path(api: Client, rds: redis.Redis) -> None:
    doc = {"numbers": ["4300"], "flow": play("/a.wav", _=play("", **{"1": {"module": "play", "data": {"id": 5}}}))}
    response = api.call("PUT", "/v2/accounts/child/callflows", json={"data": doc})
    assert response.status_code == 400
    data = response.json()["data"]
    assert set(data) == {"flow.children._.data.id", "flow.children._.children.1.data.id"}
    assert "minLength" in data["flow.children._.data.id"]
    assert "type" in data["flow.children._.children.1.data.id"]
    nothing = api.call("PUT", "/v2/accounts/child/callflows", json={"data": {"flow": play("/a.wav")}})
    assert nothing.status_code == 400 and "numbers" in nothing.json()["data"]
    regex = api.call("PUT", "/v2/accounts/child/callflows", json={"data": {"patterns": ["^(?=x)"], "flow": play("/a")}})
    assert regex.status_code == 400 and "patterns.0" in regex.json()["data"]
    typed = api.call("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": "4300", "flow": play("/a")}})
    assert typed.status_code == 400 and typed.json()["data"]["numbers"] == {"type": "'4300' is not of type 'array'"}
    no_flow = api.call("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": ["4300"]}})
    assert no_flow.status_code == 400 and "required" in no_flow.json()["data"]["flow"]
    assert rds.hgetall(keys.docs("child", "callflows")) == {} and rds.hgetall(keys.numbers("child")) == {}


def test_a_number_held_by_another_callflow_is_409_and_nothing_changes(api: Client, rds: redis.Redis) -> None:
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"id": "main", "name": "Main", "numbers": ["4400"],
                                                                 "flow": play("/a.wav")}})
    other = {"id": "second", "numbers": ["4401", "4400"], "flow": play("/b.wav")}
    response = api.call("PUT", "/v2/accounts/child/callflows", json={"data": other})
    assert response.status_code == 409
    assert response.json()["data"] == {"numbers": {"unique": "number '4400' is already used by callflow 'main' (Main)"}}
    assert rds.hgetall(keys.numbers("child")) == {"4400": "main"}


def test_a_number_another_account_routes_is_409_naming_nothing_of_that_account(api: Client, rds: redis.Redis) -> None:
    """Numbers are global, as in Kazoo: a number held by two accounts would route to neither."""
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"id": "main", "name": "Child Main",
                                                                 "numbers": ["4400"], "flow": play("/a.wav")}})
    taking = {"id": "takeover", "numbers": ["4401", "4400"], "flow": play("/b.wav")}
    response = api.call("PUT", "/v2/accounts/other/callflows", "other", json={"data": taking})
    assert response.status_code == 409
    assert response.json()["data"] == {"numbers": {"unique": "number '4400' is already used by another account"}}
    assert "child" not in response.text.lower() and "main" not in response.text.lower()
    assert rds.hgetall(keys.numbers("other")) == {} and rds.smembers(keys.number_accounts("4400")) == {"child"}
    api.ok("DELETE", "/v2/accounts/child/callflows/main")  # once released, it can move
    assert api.ok("PUT", "/v2/accounts/other/callflows", "other", json={"data": taking})["id"] == "takeover"


def test_callflows_of_another_account_are_out_of_reach(api: Client) -> None:
    api.ok("PUT", "/v2/accounts/reseller/callflows", json={"data": {"id": "r", "numbers": ["1"], "flow": play("/r")}})
    assert api.call("GET", "/v2/accounts/reseller/callflows/r", "child").status_code == 403
    assert api.call("DELETE", "/v2/accounts/reseller/callflows/r", "other").status_code == 403
    assert api.ok("GET", "/v2/accounts/reseller/callflows/r")["numbers"] == ["1"]
    assert [c["id"] for c in api.ok("GET", "/v2/accounts/reseller/callflows")] == ["r"]
