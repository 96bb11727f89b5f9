"""`GET /v2/accounts/{id}/parked_calls`: what FreeSWITCH's lot holds, asked over its inbound event
socket (the simulator's, answering `valet_info` from the lots the simulated calls park in)."""

import json
from collections.abc import Iterator

import gevent
import pytest
import redis

from controller.config import Settings
from controller.esl.server import OutboundServer
from controller.lab.inbound import InboundServer
from controller.lab.valet import Lots
from controller.services import Services
from tests.api_world import Client, serve_api, serve_api_asking, simulated_switch
from tests.office import call, load, node

PARKED = "/v2/accounts/acct-test/parked_calls"


def uuid_dump(lots: Lots, args: list[str]) -> str:
    """FreeSWITCH's `uuid_dump <uuid> json`, the headers park's API reads."""
    for parked in (p for slots in lots.lots.values() for p in slots.values() if p.call.uuid == args[0]):
        values = parked.call.channel.values
        return json.dumps({"Caller-Caller-ID-Name": values["Caller-Caller-ID-Name"],
                           "Caller-Caller-ID-Number": values["Caller-Caller-ID-Number"],
                           "Caller-Channel-Created-Time": "1764676800123456", "FreeSWITCH-Hostname": "fs1"})
    return "-ERR No such channel!\n"


@pytest.fixture
def lots() -> Lots:
    return Lots()


@pytest.fixture
def switch(lots: Lots) -> Iterator[InboundServer]:
    apis = {"valet_info": lambda args: lots.info(args[0] if args else ""),
            "uuid_dump": lambda args: uuid_dump(lots, args)}
    with simulated_switch(apis) as server:
        yield server


@pytest.fixture
def api(settings: Settings, rds: redis.Redis, switch: InboundServer) -> Iterator[Client]:
    with serve_api_asking(settings, rds, switch) as client:
        yield client


def test_a_parked_call_is_listed_by_slot_with_its_caller_until_it_ends(
    api: Client, rds: redis.Redis, esl_server: OutboundServer, lots: Lots
) -> None:
    load(rds, {"id": "cf-park", "patterns": [r"^\*3(\d+)$"], "flow": node("park", {})})
    parked = gevent.spawn(call, esl_server, "*3107", lots=lots, hangup_after=1.0, caller_number="+15557654321")
    slots = {}
    for _ in range(100):
        slots = api.ok("GET", PARKED, who="super")["slots"]
        if slots:
            break
        gevent.sleep(0.02)
    assert list(slots) == ["107"]
    assert slots["107"]["CID-Number"] == "+15557654321" and slots["107"]["Call-ID"]
    assert slots["107"]["Parked-At"] == 1764676800 and slots["107"]["Node"] == "fs1"
    parked.get(timeout=10)
    assert api.ok("GET", PARKED, who="super") == {"slots": {}}


def test_without_freeswitch_the_list_is_unavailable(settings: Settings, rds: redis.Redis) -> None:
    load(rds)
    with serve_api(Services.build(settings, rds)) as client:
        response = client.call("GET", PARKED, who="super")
    assert response.status_code == 503
    assert "CONTROLLER_FREESWITCH" in response.json()["data"]["freeswitch"]["unavailable"]


def test_another_customer_cannot_see_the_lot(api: Client, rds: redis.Redis) -> None:
    load(rds)
    assert api.call("GET", PARKED, who="other").status_code == 403
