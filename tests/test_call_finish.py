"""A call whose termination handlers only queue jobs ends in one Redis step: claimed, its jobs
queued and its stored state dropped atomically (CallStates.finish); exactly once, whoever runs it."""

from typing import Any

import gevent
import redis

from controller.call import Call, GoneChannel
from controller.modules.missed_call_alert import alert_if_missed
from controller.modules.pivot import post_cdr
from controller.notify.queue import JobQueue
from controller.services import Services
from controller.store import keys

DATA = {"Unique-ID": "finish-0001", "Core-UUID": "core-1", "Caller-Caller-ID-Number": "+15550001",
        "Caller-Destination-Number": "+15554441111"}


def missed_call(services: Services, uuid: str = "finish-0001") -> Call:
    call = Call(GoneChannel(), {**DATA, "Unique-ID": uuid}, "acct-1", False, services)
    call.register_termination(alert_if_missed, {"recipients": []})
    settle(services)
    return call


def settle(services: Services) -> None:
    """Let the call states due be written (CallStates.save_soon)."""
    gevent.sleep(services.calls.window * 2)


class Commands:
    """The commands the client sends, counted (MONITOR would see the other clients too)."""

    def __init__(self, rds: redis.Redis) -> None:
        self.sent: list[str] = []
        original = rds.execute_command

        def counting(*args: Any, **options: Any) -> Any:
            self.sent.append(str(args[0]))
            return original(*args, **options)

        rds.execute_command = counting  # type: ignore[method-assign]


def test_a_missed_call_is_claimed_queued_and_forgotten_in_one_command(services: Services, rds: redis.Redis) -> None:
    missed_call(services, "finish-0000").run_termination()  # the script is loaded into Redis once
    call = missed_call(services)
    assert rds.exists(keys.call(call.uuid))
    commands = Commands(services.rds)
    assert call.run_termination() == 1
    assert commands.sent == ["EVALSHA"]
    assert JobQueue(rds).stats()["ready"] == 2
    assert not rds.exists(keys.call(call.uuid)) and rds.exists(keys.call_claimed(call.uuid))


def test_a_call_finished_elsewhere_queues_nothing_here(services: Services, rds: redis.Redis) -> None:
    first, second = missed_call(services), Call.from_snapshot(
        services.calls.load("finish-0001") or {}, services, {"controller.modules.missed_call_alert:alert_if_missed":
                                                          alert_if_missed})
    assert first.run_termination() == 1
    assert second.run_termination() == 0
    assert JobQueue(rds).stats()["ready"] == 1


def test_a_call_whose_claim_is_held_already_is_finished_without_claiming(services: Services, rds: redis.Redis) -> None:
    call = missed_call(services)
    assert services.calls.claim(call.uuid)  # as the spool's replay holds it
    assert call.run_termination(claimed=True) == 1
    assert JobQueue(rds).stats()["ready"] == 1


def test_the_same_alert_queued_twice_goes_into_the_queue_once(services: Services, rds: redis.Redis) -> None:
    """Two calls rebuilt with one idempotency key (a replay after a lost reply): one job."""
    missed_call(services).run_termination()
    rds.delete(keys.call_claimed("finish-0001"))
    assert missed_call(services).run_termination() == 1
    assert JobQueue(rds).stats()["ready"] == 1


def test_a_handler_with_effects_outside_is_run_after_the_claim(services: Services, rds: redis.Redis) -> None:
    call = missed_call(services)
    call.register_termination(post_cdr, {"cdr_url": "http://127.0.0.1:9/cdr"})  # refused: logged, not raised
    settle(services)
    commands = Commands(services.rds)
    call.run_termination()
    assert commands.sent[0] == "SET"  # the claim, before anything reaches the CDR server
    assert JobQueue(rds).stats()["ready"] == 1


def test_the_states_of_calls_registered_together_are_written_in_one_transaction(
    services: Services, rds: redis.Redis
) -> None:
    def transactions() -> int:
        return int(rds.info("commandstats").get("cmdstat_exec", {}).get("calls", 0))

    before = transactions()
    calls = [Call(GoneChannel(), {**DATA, "Unique-ID": f"together-{n}"}, "acct-1", False, services) for n in range(5)]
    for call in calls:
        call.register_termination(alert_if_missed, {"recipients": []})
    assert not rds.keys("call:*")  # not yet: within the window
    settle(services)
    assert len(rds.keys("call:*")) == 5
    assert transactions() - before == 1


def test_a_call_that_ends_within_the_window_is_never_written(services: Services, rds: redis.Redis) -> None:
    missed_call(services, "finish-warm").run_termination()  # the script is loaded into Redis once
    call = Call(GoneChannel(), {**DATA, "Unique-ID": "short-1"}, "acct-1", False, services)
    call.register_termination(alert_if_missed, {"recipients": []})
    assert call.run_termination() == 1
    settle(services)
    assert not rds.exists(keys.call("short-1"))
    assert JobQueue(rds).stats()["ready"] == 2
