"""A call transferred to another callflow (the same channel back as a new connection) hands what
its first flow registered to the flow that takes it (Call.hand_over, Call.adopt): the handlers
run once, at the call's real end, judging the whole call; should no connection come back, they
wait in Redis, unclaimed, for a watcher."""

import gevent
import redis

from controller.call import Call, GoneChannel
from controller.modules import TERMINATION_HANDLERS
from controller.modules.missed_call_alert import alert_if_missed
from controller.notify.queue import JobQueue
from controller.services import Services
from controller.store import keys

DATA = {"Unique-ID": "xfer-0001", "Core-UUID": "core-1", "Caller-Caller-ID-Number": "+15550001",
        "Caller-Destination-Number": "+15554441111"}
ALICE = {"recipients": [{"type": "email", "email": "alice@example.com"}]}


def call(services: Services) -> Call:
    return Call(GoneChannel(), DATA, "acct-1", False, services)


def test_the_first_flow_hands_its_alert_over_and_the_next_one_runs_it_once_at_the_end(
    services: Services, rds: redis.Redis,
) -> None:
    first = call(services)
    first.register_termination(alert_if_missed, ALICE)
    first.hand_over()
    assert first.run_termination() == 0  # the first flow's end runs nothing
    stored = services.calls.load(first.uuid)
    assert stored is not None
    assert stored["handlers"] == [["controller.modules.missed_call_alert:alert_if_missed", ALICE]]
    assert not rds.exists(keys.call_claimed(first.uuid))
    second = call(services)
    second.register_termination(alert_if_missed, ALICE)  # the same alert again: kept once
    assert second.adopt(TERMINATION_HANDLERS) == 0
    second.register_termination(alert_if_missed, {"recipients": []})
    assert second.run_termination() == 2
    assert JobQueue(rds).stats()["ready"] == 1  # one missed call, one email
    assert not rds.exists(keys.call(first.uuid))


def test_a_bridge_seen_by_the_first_flow_counts_for_the_whole_call(services: Services, rds: redis.Redis) -> None:
    first = call(services)
    first.register_termination(alert_if_missed, ALICE)
    first.on_event("CHANNEL_BRIDGE", {"Other-Leg-Unique-ID": "b-leg"})
    first.hand_over()
    second = call(services)
    assert second.adopt(TERMINATION_HANDLERS) == 1
    assert second.state.bridged is True
    assert second.run_termination() == 1
    assert JobQueue(rds).stats()["ready"] == 0


def test_a_transfer_that_failed_leaves_the_first_flow_its_handlers(services: Services, rds: redis.Redis) -> None:
    first = call(services)
    first.register_termination(alert_if_missed, ALICE)
    first.hand_over()
    first.take_back()
    assert first.run_termination() == 1
    assert JobQueue(rds).stats()["ready"] == 1


def test_a_call_that_never_comes_back_waits_unclaimed_for_a_watcher(services: Services, rds: redis.Redis) -> None:
    first = call(services)
    first.register_termination(alert_if_missed, ALICE)
    gevent.sleep(services.calls.window * 2)
    first.hand_over()
    assert first.run_termination() == 0
    assert [s["uuid"] for s in services.calls.stored()] == [first.uuid]  # what a watcher finds
    orphan = Call.from_snapshot(services.calls.load(first.uuid) or {}, services, TERMINATION_HANDLERS)
    assert orphan.run_termination() == 1
    assert JobQueue(rds).stats()["ready"] == 1
