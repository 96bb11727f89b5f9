"""A controller killed mid-call: the inbound-connection watcher of another controller sharing the
Redis still sends the missed-call alert, exactly once."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
import redis

from controller.call import Call
from controller.config import EslEndpoint
from controller.esl.lifecycle import CallLifecycle
from controller.esl.localcalls import LocalCalls
from controller.esl.server import OutboundServer
from controller.esl.watcher import Watcher
from controller.executor import Executor
from controller.lab.inbound import InboundServer
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import run_call
from controller.modules import REGISTRY, TERMINATION_HANDLERS, missed_call_alert
from controller.notify.queue import JobQueue
from controller.services import Services
from tests.conftest import free_port
from tests.office import ACCOUNT, flow, load, node

ALERTED = flow("+15554441111", node("missed_call_alert", {"recipients": []},
                                    _=node("user", {"id": "u-ann", "timeout": 30})))


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    with gevent.Timeout(timeout, AssertionError("condition not met in time")):
        while not condition():
            gevent.sleep(0.02)


@pytest.fixture
def inbound() -> Iterator[InboundServer]:
    server = InboundServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def watcher(services: Services, inbound: InboundServer) -> Iterator[Watcher]:
    endpoint = EslEndpoint(*inbound.address, password="ClueCon")
    watching = Watcher((endpoint,), services, TERMINATION_HANDLERS, grace=0.2)
    watching.start()
    wait_for(lambda: watching.connected[str(endpoint)])
    yield watching
    watching.stop()


def queued(rds: redis.Redis) -> int:
    return int(JobQueue(rds).stats()["ready"])


def test_alert_is_sent_once_when_the_controller_dies_mid_call(
    rds: redis.Redis, redis_url: str, inbound: InboundServer, watcher: Watcher
) -> None:
    load(rds, ALERTED)
    port = free_port()
    env = dict(os.environ, CONTROLLER_REDIS_URL=redis_url, CONTROLLER_ESL_LISTEN=f"127.0.0.1:{port}",
               CONTROLLER_CONFIG=str(Path(__file__).parent / "controller-test.toml"))
    proc = subprocess.Popen([sys.executable, "-m", "controller", "serve"], env=env, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and b"outbound ESL server" in proc.stdout.readline()
        scenario = Scenario(destination="+15554441111", account_id=ACCOUNT,
                            bridges=(BridgeOutcome("no_answer", timeout=30),))
        caller = gevent.spawn(run_call, ("127.0.0.1", port), scenario, 20.0, inbound)
        wait_for(lambda: bool(rds.keys("call:*")))  # the alert's handler is registered and stored
        proc.send_signal(signal.SIGKILL)
        record = caller.get(timeout=10)
        assert record.closed_by == "server"  # the socket died with the process
        wait_for(lambda: queued(rds) == 1)
        gevent.sleep(0.5)  # a second destroy check could only add a duplicate now
        assert queued(rds) == 1
        job = JobQueue(rds).claim("t", timeout=1)
        assert job is not None and job.doc["call"]["call_id"] == record.uuid
        assert job.doc["call"]["bridged"] is False
        # the hangup was never stored (the process was dead): the watcher took it from the
        # CHANNEL_DESTROY, which the simulator sends with NORMAL_CLEARING once the socket died
        assert job.doc["call"]["hangup_cause"] == "NORMAL_CLEARING"
    finally:
        proc.kill()
        proc.wait(5)


def test_a_normal_missed_call_is_alerted_once_with_the_watcher_running(
    rds: redis.Redis, esl_server: OutboundServer, inbound: InboundServer, watcher: Watcher
) -> None:
    load(rds, flow("+15554441111", node("missed_call_alert", {"recipients": []},
                                        _=node("user", {"id": "u-ann", "timeout": 1}))))
    scenario = Scenario(destination="+15554441111", account_id=ACCOUNT, bridges=(BridgeOutcome("busy"),))
    run_call(esl_server.address, scenario, 10.0, inbound)
    gevent.sleep(0.5)  # past the watcher's grace
    assert queued(rds) == 1
    assert rds.keys("call:*") == [k for k in rds.keys("call:*") if k.endswith(":claimed")]


def test_a_bridge_seen_by_the_watcher_is_recorded(
    rds: redis.Redis, services: Services, watcher: Watcher
) -> None:
    services.calls.save({"uuid": "u-1", "bridged": False, "handlers": []})
    watcher.on_event({"Event-Name": "CHANNEL_BRIDGE", "Unique-ID": "u-1"})
    assert services.calls.load("u-1")["bridged"] is True  # type: ignore[index]


def stored_call(services: Services, uuid: str, core: str) -> None:
    """A call as its controller stored it once its missed-call alert registered."""
    data = {"Unique-ID": uuid, "Core-UUID": core, "Caller-Caller-ID-Number": "+15557770000",
            "Caller-Destination-Number": "+15554441111"}
    call = Call(None, data, ACCOUNT, False, services)  # type: ignore[arg-type]
    call.register_termination(missed_call_alert.alert_if_missed, {"recipients": []})
    services.calls.save(call.snapshot())


def test_a_watcher_connecting_completes_the_stored_calls_its_freeswitch_no_longer_has(
    rds: redis.Redis, services: Services, inbound: InboundServer
) -> None:
    """A controller restarted after a SIGKILL: the calls that ended meanwhile are alerted at
    once, those still up are left to their own end, another FreeSWITCH's are not touched."""
    stored_call(services, "ended", inbound.core_uuid)
    stored_call(services, "still-up", inbound.core_uuid)
    stored_call(services, "elsewhere", "another-freeswitch")
    inbound.channels.add("still-up")
    endpoint = EslEndpoint(*inbound.address, password="ClueCon")
    watching = Watcher((endpoint,), services, TERMINATION_HANDLERS, grace=0.2)
    watching.start()
    try:
        wait_for(lambda: queued(rds) == 1)
        gevent.sleep(0.3)
    finally:
        watching.stop()
    assert queued(rds) == 1
    job = JobQueue(rds).claim("t", timeout=1)
    assert job is not None and job.doc["call"]["call_id"] == "ended"
    assert {s["uuid"] for s in services.calls.stored()} == {"still-up", "elsewhere"}


def test_a_destroy_of_a_call_taken_by_this_process_is_left_to_it(
    rds: redis.Redis, services: Services, inbound: InboundServer
) -> None:
    """The watcher reads nothing for the calls its own process took (that process completes
    them); another controller's call is completed as before."""
    local = LocalCalls()
    watching = Watcher((), services, TERMINATION_HANDLERS, grace=0.05, local=local)
    stored_call(services, "u-here", "core-1")
    stored_call(services, "u-elsewhere", "core-1")
    local.add("u-here")
    for uuid in ("u-here", "u-elsewhere"):
        watching.on_event({"Event-Name": "CHANNEL_DESTROY", "Unique-ID": uuid, "Hangup-Cause": "NO_ANSWER"})
    wait_for(lambda: queued(rds) == 1)
    gevent.sleep(0.2)
    assert services.calls.load("u-here") is not None and services.calls.load("u-elsewhere") is None
    assert len(local) == 0  # forgotten once its destroy went by


def test_a_missed_call_taken_here_is_alerted_once_by_its_own_process(
    rds: redis.Redis, services: Services, inbound: InboundServer
) -> None:
    load(rds, flow("+15554441111", node("missed_call_alert", {"recipients": []},
                                        _=node("user", {"id": "u-ann", "timeout": 1}))))
    local = LocalCalls()
    server = OutboundServer(services.settings, CallLifecycle(services, Executor(REGISTRY), local))
    watching = Watcher((EslEndpoint(*inbound.address, password="ClueCon"),), services, TERMINATION_HANDLERS,
                       grace=0.05, local=local)
    server.start()
    watching.start()
    try:
        wait_for(lambda: all(watching.connected.values()))
        scenario = Scenario(destination="+15554441111", account_id=ACCOUNT, bridges=(BridgeOutcome("busy"),))
        run_call(server.address, scenario, 10.0, inbound)
        wait_for(lambda: queued(rds) == 1 and len(local) == 0)
        gevent.sleep(0.3)
        assert queued(rds) == 1
    finally:
        watching.stop()
        server.stop(drain_seconds=2)


def test_the_watcher_is_sent_only_the_callers_leg(
    rds: redis.Redis, services: Services, inbound: InboundServer
) -> None:
    """Filtered on Call-Direction inbound: the callee's leg (outbound) never reaches it, as in
    the captures, where the caller's destroy is inbound and the callee's outbound."""
    load(rds, flow("+15554441111", node("missed_call_alert", {"recipients": []},
                                        _=node("user", {"id": "u-ann", "timeout": 5}))))
    server = OutboundServer(services.settings, CallLifecycle(services, Executor(REGISTRY)))
    watching = Watcher((EslEndpoint(*inbound.address, password="ClueCon"),), services, TERMINATION_HANDLERS,
                       grace=0.05)
    seen: list[tuple[str, str]] = []
    original = watching.on_event
    watching.on_event = lambda event: seen.append(  # type: ignore[method-assign]
        (str(event.get("Event-Name")), str(event.get("Call-Direction")))) or original(event)
    server.start()
    watching.start()
    try:
        wait_for(lambda: all(watching.connected.values()))
        scenario = Scenario(destination="+15554441111", account_id=ACCOUNT,
                            bridges=(BridgeOutcome("answered", ring=0.01, talk=0.05),))
        run_call(server.address, scenario, 10.0, inbound)
        wait_for(lambda: ("CHANNEL_DESTROY", "inbound") in seen)
        gevent.sleep(0.3)
        assert ("CHANNEL_BRIDGE", "inbound") in seen
        assert all(direction == "inbound" for _, direction in seen), seen
    finally:
        watching.stop()
        server.stop(drain_seconds=2)


def test_a_watcher_that_was_watching_reconnects_at_once_each_time_its_connection_drops(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backoff grows while connecting fails, and starts over after a connection that
    worked: FreeSWITCH restarted twice an hour apart is not waited for 30 s the second time."""
    endpoint = EslEndpoint("127.0.0.1", 1, password="x")
    watching = Watcher((endpoint,), services, TERMINATION_HANDLERS)
    outcomes = iter(["refused", "refused", "watched", "watched", "refused", "refused"])
    waits: list[float] = []

    def session(_: EslEndpoint) -> None:
        outcome = next(outcomes, None)
        if outcome is None:
            raise StopIteration
        watching.connected[str(endpoint)] = outcome == "watched"
        raise ConnectionError(outcome)

    monkeypatch.setattr(watching, "_session", session)
    monkeypatch.setattr("controller.esl.watcher.gevent.sleep", waits.append)
    with pytest.raises(StopIteration):
        watching._keep_connected(endpoint)
    assert waits == [0.5, 1.0, 0.5, 0.5, 1.0, 2.0]
