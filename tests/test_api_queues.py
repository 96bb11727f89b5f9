"""`/v2/accounts/{id}/queues` (Kazoo's cb_queues) and `/agents/status` (cb_agents): queue documents
validated against queue.json, read with their agents (the users whose `queues` list names them),
and the agents' statuses as the controller keeps them."""

from collections.abc import Iterator

import pytest
import redis

from controller.config import Settings
from controller.lab.callcenter import Callcenter
from controller.lab.inbound import InboundServer
from controller.store import keys
from controller.store.agents import PAUSED, READY, AgentStatuses
from controller.store.bundle import load_bundle
from tests.api_world import Client, serve_api_asking, simulated_switch
from tests.office import ACCOUNT, bundle

BASE = f"/v2/accounts/{ACCOUNT}/queues"
QUEUE = {"id": "q-sales", "name": "Sales", "strategy": "ring_all", "connection_timeout": 300}


@pytest.fixture
def center() -> Callcenter:
    return Callcenter()


@pytest.fixture
def switch(center: Callcenter) -> Iterator[InboundServer]:
    with simulated_switch({"callcenter_config": center.api}) as server:
        yield server


@pytest.fixture
def api(settings: Settings, rds: redis.Redis, switch: InboundServer) -> Iterator[Client]:
    with serve_api_asking(settings, rds, switch) as client:
        yield client


def load_agents(rds: redis.Redis) -> None:
    doc = bundle([])
    doc["users"] = [{**u, "queues": ["q-sales"]} if u["id"] in ("u-ann", "u-bob") else u for u in doc["users"]]
    load_bundle(rds, doc, "agents")


def test_queues_are_created_read_with_their_agents_changed_listed_and_deleted(api: Client, rds: redis.Redis) -> None:
    load_agents(rds)
    created = api.ok("PUT", BASE, who="super", json={"data": {**QUEUE, "agents": ["u-cat"]}})
    assert created["id"] == "q-sales" and "agents" not in created
    assert api.ok("GET", f"{BASE}/q-sales", who="super")["agents"] == ["u-ann", "u-bob"]
    assert api.ok("PATCH", f"{BASE}/q-sales", who="super", json={"data": {"max_queue_size": 5}})["max_queue_size"] == 5
    assert [doc["id"] for doc in api.ok("GET", BASE, who="super")] == ["q-sales"]
    refused = api.call("PUT", BASE, who="super", json={"data": {"name": "x", "strategy": "skills_based"}})
    assert refused.status_code == 400 and "strategy" in str(refused.json()["data"])
    api.ok("DELETE", f"{BASE}/q-sales", who="super")
    assert api.call("GET", f"{BASE}/q-sales", who="super").status_code == 404


def test_agent_statuses_are_listed_in_kazoos_shape(api: Client, rds: redis.Redis) -> None:
    load_agents(rds)
    AgentStatuses(rds).set(ACCOUNT, "u-bob", READY)
    AgentStatuses(rds).set(ACCOUNT, "u-ann", PAUSED, pause_seconds=600)
    path = f"/v2/accounts/{ACCOUNT}/agents"
    assert api.ok("GET", f"{path}/status", who="super") == {"u-ann": "paused", "u-bob": "ready"}
    assert api.ok("GET", f"{path}/u-bob/status", who="super") == {"agent_id": "u-bob", "status": "ready"}
    assert api.call("GET", f"{path}/u-cat/status", who="super").status_code == 404


def test_an_agent_logged_in_through_the_api_is_told_to_mod_callcenter_at_once(
    api: Client, rds: redis.Redis, center: Callcenter
) -> None:
    load_agents(rds)
    api.ok("PUT", BASE, who="super", json={"data": QUEUE})
    path = f"/v2/accounts/{ACCOUNT}/agents/u-bob/status"
    assert api.ok("POST", path, who="super", json={"data": {"status": "login"}}) == {"agent_id": "u-bob",
                                                                                   "status": "ready"}
    name = f"acdc.{ACCOUNT}.q-sales.ring-all.300"
    assert {(a.name, a.status) for a in center.queue_agents(name)} == {
        (f"acdc.{ACCOUNT}.u-bob", "Available"), (f"acdc.{ACCOUNT}.u-ann", "Logged Out")}
    api.ok("POST", path, who="super", json={"data": {"status": "pause", "timeout": 60}})
    assert center.agents[f"acdc.{ACCOUNT}.u-bob"].status == "On Break"
    refused = api.call("POST", path, who="super", json={"data": {"status": "pause"}})
    assert refused.status_code == 400 and "cannot" in str(refused.json()["data"])
    assert api.call("POST", path, who="super", json={"data": {"status": "dance"}}).status_code == 400
    assert api.call("POST", f"/v2/accounts/{ACCOUNT}/agents/u-cat/status", who="super",
                    json={"data": {"status": "login"}}).status_code == 404


def test_a_pause_with_a_timeout_ends_by_itself(rds: redis.Redis) -> None:
    AgentStatuses(rds).set(ACCOUNT, "u-bob", PAUSED, pause_seconds=600)
    assert AgentStatuses(rds).get(ACCOUNT, "u-bob") == "paused"
    rds.hset(keys.agent_statuses(ACCOUNT), "u-bob", '{"status":"paused","since":1,"until":2}')
    assert AgentStatuses(rds).get(ACCOUNT, "u-bob") == "ready"


def test_another_accounts_queues_and_agents_are_out_of_reach(api: Client, center: Callcenter) -> None:
    api.ok("PUT", "/v2/accounts/reseller/queues", json={"data": {**QUEUE, "id": "q-boss"}})
    for method in ("GET", "PATCH", "DELETE"):
        response = api.call(method, "/v2/accounts/reseller/queues/q-boss", "child", json={"data": {}})
        assert response.status_code == 403, method
    assert api.call("GET", "/v2/accounts/reseller/agents/status", "child").status_code == 403
    login = {"data": {"status": "login"}}
    assert api.call("POST", "/v2/accounts/reseller/agents/u-boss/status", "child", json=login).status_code == 403
    assert center.commands == []  # nothing reached FreeSWITCH
