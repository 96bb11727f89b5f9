"""/v2/accounts/{id}/directories over real HTTP (Crossbar's cb_directories): CRUD, validation,
the users a directory lists from the users' own `directories` maps, and a call that dials by
name through what the API stored."""

from collections.abc import Iterator

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import Keypress
from controller.services import Services
from controller.store import keys
from tests.api_world import Client, serve_api
from tests.office import call, node

BASE = "/v2/accounts/child/directories"
DIRECTORY = {"name": "Company", "sort_by": "first_name", "min_dtmf": 2, "confirm_match": False}


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def test_a_directory_is_created_read_with_its_users_changed_and_deleted(api: Client, rds: redis.Redis) -> None:
    created = api.call("PUT", BASE, json={"data": DIRECTORY})
    assert created.status_code == 201
    dir_id = created.json()["data"]["id"]
    assert api.ok("GET", f"{BASE}/{dir_id}") == {**DIRECTORY, "id": dir_id, "users": []}
    api.ok("PUT", "/v2/accounts/child/users", json={"data": {"id": "u-zoe", "first_name": "Zoe", "last_name": "Ray",
                                                             "directories": {dir_id: "cf-zoe"}}})
    api.ok("PUT", "/v2/accounts/child/users", json={"data": {"id": "u-al", "first_name": "Al",
                                                             "directories": {"elsewhere": "cf-al"}}})
    listed = [{"user_id": "u-zoe", "callflow_id": "cf-zoe"}]
    assert api.ok("GET", f"{BASE}/{dir_id}")["users"] == listed
    assert api.ok("GET", BASE) == [{**DIRECTORY, "id": dir_id}]
    patched = api.ok("PATCH", f"{BASE}/{dir_id}", json={"data": {"min_dtmf": 3}})
    assert patched["min_dtmf"] == 3 and "users" not in patched  # the listing is not stored
    replaced = api.ok("POST", f"{BASE}/{dir_id}", json={"data": {**DIRECTORY, "users": ["u-al"]}})
    assert "users" not in replaced
    assert api.ok("GET", f"{BASE}/{dir_id}")["users"] == listed  # users join through their own document
    assert "users" not in rds.hget(keys.docs("child", "directories"), dir_id)
    assert api.ok("DELETE", f"{BASE}/{dir_id}")["id"] == dir_id
    assert api.call("GET", f"{BASE}/{dir_id}").status_code == 404


def test_wrong_directories_and_directory_maps_are_400_naming_the_field(api: Client) -> None:
    wrong = api.call("PUT", BASE, json={"data": {"min_dtmf": 0, "sort_by": "extension", "search_fields": "email"}})
    assert wrong.status_code == 400
    assert {field: next(iter(rules)) for field, rules in wrong.json()["data"].items()} == {
        "name": "required", "min_dtmf": "minimum", "sort_by": "enum", "search_fields": "enum"}
    user = api.call("PUT", "/v2/accounts/child/users", json={"data": {"first_name": "Al", "directories": {"d": 7}}})
    assert user.status_code == 400 and "directories.d" in user.json()["data"]


def test_another_accounts_directory_is_out_of_reach(api: Client) -> None:
    api.ok("PUT", "/v2/accounts/reseller/directories", json={"data": {**DIRECTORY, "id": "boss"}})
    for method in ("GET", "PATCH", "DELETE"):
        response = api.call(method, "/v2/accounts/reseller/directories/boss", "child", json={"data": {}})
        assert response.status_code == 403


def test_a_directory_stored_through_the_api_dials_by_name(api: Client, esl_server: OutboundServer) -> None:
    api.ok("PUT", BASE, json={"data": {**DIRECTORY, "id": "staff"}})
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"id": "cf-zoe", "numbers": ["4701"],
                                                                 "flow": node("play", {"id": "/media/zoe.wav"})}})
    api.ok("PUT", "/v2/accounts/child/users", json={"data": {"id": "u-zoe", "first_name": "Zoe", "last_name": "Ray",
                                                             "directories": {"staff": "cf-zoe"}}})
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": ["4700"],
                                                                 "flow": node("directory", {"id": "staff"})}})
    record = call(esl_server, "4700", account_id="child", time_scale=0.05,
                  keypresses=(Keypress("96", on="play_and_get_digits"),))
    assert record.args_of("playback") == ["/media/zoe.wav"]
