"""Input that used to answer 500 with a traceback is a 400 naming the problem, and reaches no
Redis key: identifiers with key separators, strings that are not Unicode text, documents nested
deeper than any walker should recurse."""

import json
from collections.abc import Iterator

import pytest
import redis

from controller.services import Services
from controller.store import keys
from tests.api_world import Client, serve_api


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


@pytest.mark.parametrize("path", [
    "/v2/accounts/child:numbers/users",
    "/v2/accounts/child/users/a:b",
    "/v2/accounts/child%20x/callflows",
    "/v2/accounts/" + "a" * 200 + "/users",
])
def test_an_identifier_that_could_shape_a_redis_key_is_400(api: Client, rds: redis.Redis, path: str) -> None:
    before = set(rds.keys("*"))
    response = api.call("GET", path, "super")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "400" and "Traceback" not in response.text
    assert set(rds.keys("*")) == before


def test_a_lone_surrogate_in_a_field_is_400(api: Client) -> None:
    body = '{"data": {"first_name": "\\ud800", "last_name": "X"}}'
    response = api.call("PUT", "/v2/accounts/child/users", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "lone surrogate" in json.dumps(response.json()["data"])


def test_a_document_nested_200_deep_is_400_without_a_traceback(api: Client) -> None:
    flow: dict[str, object] = {"module": "answer", "data": {}}
    for _ in range(200):
        flow = {"module": "answer", "data": {}, "children": {"_": flow}}
    response = api.call("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": ["9"], "flow": flow}})
    assert response.status_code == 400, response.text[:300]
    assert "nested deeper than" in json.dumps(response.json()["data"]) and len(response.text) < 2000


def test_a_callflow_with_more_numbers_than_the_limit_is_400_naming_it(api: Client, rds: redis.Redis) -> None:
    numbers = [f"+1555{n:07d}" for n in range(10_001)]
    flow = {"module": "answer", "data": {}}
    response = api.call("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": numbers, "flow": flow}})
    assert response.status_code == 400
    assert "numbers" in response.json()["data"] and "too long" in json.dumps(response.json()["data"])
    assert rds.hlen(keys.numbers("child")) == 0
