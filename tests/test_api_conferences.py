"""`/v2/accounts/{id}/conferences`: Kazoo's conference documents, and the participants of a room
as FreeSWITCH's mod_conference has them (the simulator's inbound socket answering `conference`
from the rooms the simulated calls joined), muted and kicked through the API."""

from collections.abc import Iterator
from typing import Any

import gevent
import pytest
import redis

from controller.config import Settings
from controller.esl.server import OutboundServer
from controller.lab.conferences import Rooms
from controller.lab.inbound import InboundServer
from tests.api_world import Client, serve_api_asking, simulated_switch
from tests.office import ACCOUNT, call, flow, load, node

BASE = f"/v2/accounts/{ACCOUNT}/conferences"
ROOM = {"id": "conf-sales", "name": "Sales weekly", "conference_numbers": ["5000"], "member": {"join_muted": False},
        "max_participants": 5}


@pytest.fixture
def rooms() -> Rooms:
    return Rooms()


@pytest.fixture
def switch(rooms: Rooms) -> Iterator[InboundServer]:
    with simulated_switch({"conference": rooms.api}) as server:
        yield server


@pytest.fixture
def api(settings: Settings, rds: redis.Redis, switch: InboundServer) -> Iterator[Client]:
    with serve_api_asking(settings, rds, switch) as client:
        yield client


def test_conferences_are_created_read_changed_listed_and_deleted(api: Client, rds: redis.Redis) -> None:
    load(rds)
    created = api.ok("PUT", BASE, who="super", json={"data": ROOM})
    assert created["id"] == "conf-sales"
    assert api.ok("PATCH", f"{BASE}/conf-sales", who="super", json={"data": {"play_name": True}})["play_name"] is True
    assert [doc["id"] for doc in api.ok("GET", BASE, who="super")] == ["conf-sales"]
    refused = api.call("PUT", BASE, who="super", json={"data": {"id": "bad", "name": "x", "member": {"pins": ["12a"]}}})
    assert refused.status_code == 400 and "member.pins.0" in str(refused.json()["data"])
    api.ok("DELETE", f"{BASE}/conf-sales", who="super")
    assert api.call("GET", f"{BASE}/conf-sales", who="super").status_code == 404


def in_room(server: OutboundServer, rooms: Rooms, *numbers: str) -> list[gevent.Greenlet]:
    callers = [gevent.spawn(call, server, "300", rooms=rooms, hangup_after=3.0, caller_number=n) for n in numbers]
    for _ in range(200):
        if sum(len(m) for m in rooms.rooms.values()) == len(numbers):
            break
        gevent.sleep(0.01)
    return callers


def participants(api: Client) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.ok("GET", f"{BASE}/conf-sales/participants", who="super")
    return result


def test_participants_are_listed_muted_and_kicked(
    api: Client, rds: redis.Redis, esl_server: OutboundServer, rooms: Rooms
) -> None:
    load(rds, flow("300", node("conference", {"id": "conf-sales"})), conferences=[ROOM])
    callers = in_room(esl_server, rooms, "+15550000001", "+15550000002")
    listed = participants(api)
    assert sorted(p["caller_id_number"] for p in listed) == ["+15550000001", "+15550000002"]
    assert not any(p["mute"] or p["deaf"] or p["is_moderator"] for p in listed)
    first = listed[0]["participant_id"]
    answer = api.call("PUT", f"{BASE}/conf-sales/participants/{first}", who="super", json={"data": {"action": "mute"}})
    assert answer.status_code == 202
    assert api.ok("GET", f"{BASE}/conf-sales/participants/{first}", who="super")["mute"] is True
    api.ok("POST", f"{BASE}/conf-sales/participants/{first}", who="super", json={"data": {"action": "kick"}})
    for _ in range(100):
        if len(participants(api)) == 1:
            break
        gevent.sleep(0.01)
    assert [p["participant_id"] for p in participants(api)] != [first]
    gevent.joinall(callers, timeout=10)
    assert participants(api) == []  # the room is gone: FreeSWITCH says "not found"


def test_participant_actions_are_checked_before_freeswitch_hears_them(api: Client, rds: redis.Redis) -> None:
    load(rds, conferences=[ROOM])
    path = f"{BASE}/conf-sales/participants"
    bad = api.call("PUT", f"{path}/1", who="super", json={"data": {"action": "hup all"}})
    assert bad.status_code == 400
    assert api.call("PUT", f"{path}/1%20all", who="super", json={"data": {"action": "kick"}}).status_code in (400, 404)
    assert api.call("GET", f"{BASE}/conf-gone/participants", who="super").status_code == 404
    assert api.call("GET", path, who="other").status_code == 403
    assert api.call("PUT", f"{path}/1", who="reseller_ro", json={"data": {"action": "kick"}}).status_code in (403, 404)
