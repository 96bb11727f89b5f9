"""No missed-call alert depends on Redis being up when the call ends: a call whose end cannot
reach Redis waits in the local spool and is handed back, once, when Redis answers again; a call
that arrives while Redis cannot say where it goes is given back to FreeSWITCH's dialplan."""

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
import redis

from controller.call import Call
from controller.config import EslEndpoint, Settings
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.esl.watcher import Watcher
from controller.executor import Executor
from controller.lab.fax import FaxSender
from controller.lab.inbound import InboundServer
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import run_call
from controller.modules import REGISTRY, TERMINATION_HANDLERS
from controller.services import Services
from controller.spool import Drainer, Spool
from controller.store.bundle import load_bundle
from controller.store.connection import connect
from tests.office import ACCOUNT, bundle, flow, node, queued_jobs
from tests.own_redis import OwnRedis, wait_for

ALERTED = flow("+15554441111", node("missed_call_alert", {"recipients": [{"type": "user", "id": "u-ann"}]},
                                    _=node("user", {"id": "u-ann", "timeout": 30})))


def test_a_spooled_document_is_whole_on_disk_and_replaced_by_its_name(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put("call-1", {"n": 1})
    spool.put("call-1", {"n": 2})
    spool.put("../escape", {"n": 3})
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == [".._escape.json", "call-1.json"]
    assert [doc for _, doc in spool.items()] == [{"n": 2}, {"n": 3}]
    (tmp_path / "spool" / "torn.json").write_text('{"n": ')
    assert len(list(spool.items())) == 2 and (tmp_path / "spool" / "torn.json.bad").exists()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def side(own_redis: OwnRedis, settings: Settings) -> Iterator[tuple[Services, OutboundServer]]:
    """A controller on its own Redis (which the test may kill), the office loaded."""
    mine = dataclasses.replace(settings, redis_url=own_redis.url)
    services = Services.build(mine, connect(mine))
    load_bundle(services.rds, bundle([ALERTED]), "test bundle")
    server = OutboundServer(mine, CallLifecycle(services, Executor(REGISTRY)))
    server.start()
    yield services, server
    server.stop(drain_seconds=2)
    services.rds.connection_pool.disconnect()


def ready_jobs(url: str) -> list[dict[str, object]]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return queued_jobs(client)
    finally:
        client.close()


def test_a_call_ending_while_redis_is_down_is_alerted_once_when_it_is_back(
        side: tuple[Services, OutboundServer], own_redis: OwnRedis) -> None:
    services, server = side
    scenario = Scenario(destination="+15554441111", account_id=ACCOUNT,
                        bridges=(BridgeOutcome("no_answer", timeout=30),), hangup_after=1.0)
    caller = gevent.spawn(run_call, server.address, scenario, 20.0)
    wait_for(lambda: bool(services.rds.keys("call:*")))  # ringing, its alert registered
    own_redis.kill()
    record = caller.get(timeout=15)
    assert record.hangup_cause == "ORIGINATOR_CANCEL"
    assert services.spool is not None
    [(path, snapshot)] = list(services.spool.items())
    assert snapshot["uuid"] == record.uuid and snapshot["claimed"] is False
    drainer = Drainer(services.spool, lambda s: Call.replay(s, services, TERMINATION_HANDLERS))
    assert drainer.drain() == 0 and path.exists()  # Redis still away: kept
    own_redis.start()
    assert drainer.drain() == 1 and not path.exists()
    services.spool.put("again", snapshot)  # a spool replayed twice sends once
    assert drainer.drain() == 1
    [job] = ready_jobs(own_redis.url)
    assert job["type"] == "missed_call" and job["call"]["call_id"] == record.uuid  # type: ignore[index]


def test_a_call_replayed_from_the_spool_after_its_process_died_is_alerted(
        side: tuple[Services, OutboundServer], own_redis: OwnRedis, tmp_path: Path) -> None:
    """What a killed controller left in the spool: the next one hands it back at start-up."""
    services, _ = side
    assert services.spool is not None
    data = {"Unique-ID": "u-left", "Core-UUID": "core", "Caller-Caller-ID-Number": "+15557770000",
            "Caller-Destination-Number": "+15554441111"}
    left = Call(None, data, ACCOUNT, False, services)  # type: ignore[arg-type]
    left.register_termination(TERMINATION_HANDLERS[next(n for n in TERMINATION_HANDLERS if "alert" in n)],
                              {"recipients": [{"type": "user", "id": "u-ann"}]})
    services.spool.put("u-left", {**left.snapshot(), "claimed": False})
    drainer = Drainer(services.spool, lambda s: Call.replay(s, services, TERMINATION_HANDLERS))
    drainer.start()
    try:
        wait_for(lambda: len(services.spool) == 0)  # type: ignore[arg-type]
    finally:
        drainer.stop()
    [job] = ready_jobs(own_redis.url)
    assert job["call"]["call_id"] == "u-left"  # type: ignore[index]


def test_a_call_arriving_while_redis_is_down_goes_back_to_the_dialplan(
        side: tuple[Services, OutboundServer], own_redis: OwnRedis) -> None:
    services, server = side
    own_redis.kill()
    record = run_call(server.address, Scenario(destination="+15554441111", account_id=ACCOUNT), timeout=15)
    assert record.resumed  # FreeSWITCH's dialplan goes on: respond 503
    assert record.app_names() == []
    assert services.spool is not None and len(services.spool) == 0  # nothing ran: nothing is due


def test_a_watcher_outlives_a_redis_restart_and_reconciles_when_it_is_back(
        side: tuple[Services, OutboundServer], own_redis: OwnRedis) -> None:
    services, _ = side
    inbound = InboundServer()
    inbound.start()
    endpoint = EslEndpoint(*inbound.address, password="ClueCon")
    watching = Watcher((endpoint,), services, TERMINATION_HANDLERS, grace=0.2)
    watching.start()
    try:
        wait_for(lambda: watching.connected[str(endpoint)])
        own_redis.kill()
        inbound.relay("CHANNEL_BRIDGE", render_event("CHANNEL_BRIDGE", "gone-call"), "gone-call")
        wait_for(lambda: not watching.connected[str(endpoint)])  # it could not record the bridge
        own_redis.start()
        data = {"Unique-ID": "ended-meanwhile", "Core-UUID": inbound.core_uuid,
                "Caller-Caller-ID-Number": "+15557770000", "Caller-Destination-Number": "+15554441111"}
        left = Call(None, data, ACCOUNT, False, services)  # type: ignore[arg-type]
        left.register_termination(TERMINATION_HANDLERS[next(n for n in TERMINATION_HANDLERS if "alert" in n)],
                                  {"recipients": [{"type": "user", "id": "u-ann"}]})
        services.calls.save(left.snapshot())
        wait_for(lambda: watching.connected[str(endpoint)], timeout=15)
        wait_for(lambda: len(list(services.calls.stored())) == 0)
    finally:
        watching.stop()
        inbound.stop()
    [job] = ready_jobs(own_redis.url)
    assert job["call"]["call_id"] == "ended-meanwhile"  # type: ignore[index]


def render_event(name: str, uuid: str) -> bytes:
    body = f"Event-Name: {name}\nUnique-ID: {uuid}\nCall-Direction: inbound\n\n".encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body)


def test_a_call_to_a_number_already_served_is_routed_while_redis_is_down_and_alerted_after(
        side: tuple[Services, OutboundServer], own_redis: OwnRedis) -> None:
    """Stale if error: the process's cached views route the call as before; its alert waits in
    the spool until Redis answers."""
    services, server = side
    scenario = Scenario(destination="+15554441111", account_id="", bridges=(BridgeOutcome("no_answer", timeout=30),),
                        hangup_after=0.3)
    first = run_call(server.address, scenario, timeout=15)  # Redis up: routed, alerted, views cached
    own_redis.kill()
    second = run_call(server.address, scenario, timeout=15)
    assert not second.resumed and "bridge" in second.app_names()
    assert services.spool is not None and len(services.spool) == 1
    own_redis.start()
    drainer = Drainer(services.spool, lambda s: Call.replay(s, services, TERMINATION_HANDLERS))
    assert drainer.drain() == 1
    calls = sorted(job["call"]["call_id"] for job in ready_jobs(own_redis.url))  # type: ignore[index]
    assert calls == sorted([first.uuid, second.uuid])


def test_a_fax_whose_call_ends_while_redis_is_down_is_mailed_once_when_it_is_back(
        own_redis: OwnRedis, settings: Settings, tmp_path: Path) -> None:
    """The fax's job waits in the spool with the call's end; the missed-call alert before the
    fax stays silent after the replay too."""
    mine = dataclasses.replace(settings, redis_url=own_redis.url, fax_dir=str(tmp_path / "fax"))
    services = Services.build(mine, connect(mine))
    fax = flow("+15554442222", node("missed_call_alert", {"recipients": [{"type": "user", "id": "u-ann"}]},
                                    _=node("receive_fax", {"owner_id": "u-ann"})))
    load_bundle(services.rds, bundle([fax]), "test bundle")
    server = OutboundServer(mine, CallLifecycle(services, Executor(REGISTRY)))
    server.start()
    try:
        scenario = Scenario(destination="+15554442222", account_id=ACCOUNT, fax=FaxSender(pages=1, seconds=1.5))
        caller = gevent.spawn(run_call, server.address, scenario, 20.0)
        wait_for(lambda: bool(services.rds.keys("call:*")))  # in the fax, its alert registered
        own_redis.kill()
        assert "rxfax" in caller.get(timeout=15).app_names()
        assert services.spool is not None
        drainer = Drainer(services.spool, lambda s: Call.replay(s, services, TERMINATION_HANDLERS))
        assert len(services.spool) == 1
        own_redis.start()
        assert drainer.drain() == 1
        [job] = ready_jobs(own_redis.url)
        assert job["type"] == "fax_inbound_to_email"
        assert job["data"]["fax"]["transferred_pages"] == 1  # type: ignore[index]
    finally:
        server.stop(drain_seconds=2)
        services.rds.connection_pool.disconnect()
