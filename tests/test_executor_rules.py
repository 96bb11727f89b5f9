"""Kazoo's executor rules, each through the real server with the simulator playing the caller."""

from collections.abc import Iterator
from typing import Any

import gevent
import pytest
import redis

from controller.call import Call
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.executor import BRANCH_BUDGET, Executor
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import REGISTRY
from controller.services import Services
from tests.office import call, flow, load, load_unchecked, node

handled: list[tuple[str, str]] = []


def note_termination(call: Call, data: dict[str, Any]) -> None:
    handled.append((call.uuid, data["label"]))


class Remember:
    """A test module: registers a termination handler, then continues."""

    @staticmethod
    def handle(data: dict[str, Any], call: Call) -> Next:
        call.register_termination(note_termination, {"label": data.get("label", "")})
        return DEFAULT_CHILD


class Explode:
    @staticmethod
    def handle(data: dict[str, Any], call: Call) -> Next:
        raise RuntimeError("module bug")


class Pick:
    """Returns the child key it is told to."""

    @staticmethod
    def handle(data: dict[str, Any], call: Call) -> Next:
        return str(data["key"])


@pytest.fixture
def server(services: Services) -> Iterator[OutboundServer]:
    modules = {**REGISTRY, "remember": Remember, "explode": Explode, "pick": Pick}
    srv = OutboundServer(services.settings, CallLifecycle(services, Executor(modules)))
    srv.start()
    handled.clear()
    yield srv
    srv.stop(drain_seconds=2)


def play(name: str, **children: dict[str, Any]) -> dict[str, Any]:
    return node("play", {"id": f"/{name}.wav", "answer": False}, **children)


def test_missing_child_key_falls_back_to_default(rds: redis.Redis, server: OutboundServer) -> None:
    load_unchecked(rds, flow("200", node("pick", {"key": "9"}, **{"1": play("one"), "_": play("default")})))
    assert call(server, "200").args_of("playback") == ["/default.wav"]


def test_matching_child_key_is_followed(rds: redis.Redis, server: OutboundServer) -> None:
    load_unchecked(rds, flow("201", node("pick", {"key": "1"}, **{"1": play("one"), "_": play("default")})))
    assert call(server, "201").args_of("playback") == ["/one.wav"]


def test_no_default_child_ends_the_flow_and_hangs_up(rds: redis.Redis, server: OutboundServer) -> None:
    load_unchecked(rds, flow("202", node("pick", {"key": "9"}, **{"1": play("one")})))
    record = call(server, "202")
    assert record.app_names() == ["hangup"]
    assert record.hangup_cause == "NORMAL_CLEARING"


def test_skip_module_and_unknown_modules_continue_to_default(rds: redis.Redis, server: OutboundServer) -> None:
    chain = node("play", {"id": "/skipped.wav", "skip_module": True}, _=node("no_such_module", {}, _=play("after")))
    load_unchecked(rds, flow("203", chain))
    assert call(server, "203").args_of("playback") == ["/after.wav"]


def test_branch_loop_is_stopped_by_the_branch_budget(rds: redis.Redis, server: OutboundServer) -> None:
    load(
        rds,
        flow("204", node("callflow", {"id": "b"}), cid="a"),
        flow("205", node("play", {"id": "/b.wav", "answer": False}, _=node("callflow", {"id": "a"})), cid="b"),
    )
    record = call(server, "204")
    assert len(record.args_of("playback")) == BRANCH_BUDGET // 2
    assert record.app_names()[-1] == "hangup"


def test_nothing_runs_after_the_caller_hangs_up(rds: redis.Redis, server: OutboundServer) -> None:
    load_unchecked(rds, flow("206", node("sleep", {"duration": 2}, _=play("too-late"))))
    record = call(server, "206", hangup_after=0.1)
    assert record.app_names() == ["sleep"]
    assert record.hangup_cause == "ORIGINATOR_CANCEL"  # hung up before any answer: a CANCEL


def test_a_module_that_raises_continues_to_its_default_child_and_handlers_still_run(
    rds: redis.Redis, server: OutboundServer
) -> None:
    """As Kazoo's cf_exe: an action that died is logged and the flow continues at `_`."""
    load_unchecked(rds, flow("207", node("remember", {"label": "x"}, _=node("explode", {}, _=play("after")))))
    record = call(server, "207")
    assert "/after.wav" in record.args_of("playback")
    assert record.app_names()[-1] == "hangup"
    assert handled == [(record.uuid, "x")]


def test_a_module_that_raises_with_nothing_after_it_ends_the_call(rds: redis.Redis, server: OutboundServer) -> None:
    load_unchecked(rds, flow("210", node("explode", {})))
    record = call(server, "210")
    assert record.app_names() == ["hangup"]


def test_termination_handlers_run_once_each_when_the_caller_hangs_up(
    rds: redis.Redis, server: OutboundServer
) -> None:
    chain = node("remember", {"label": "a"}, _=node("remember", {"label": "b"}, _=node("sleep", {"duration": 5})))
    load_unchecked(rds, flow("208", chain))
    record = call(server, "208", hangup_after=0.05)
    assert handled == [(record.uuid, "a"), (record.uuid, "b")]


def test_an_unknown_number_is_refused_with_unallocated_number(rds: redis.Redis, server: OutboundServer) -> None:
    load_unchecked(rds, flow("209", play("x")))
    record = call(server, "999")
    assert record.app_names() == ["hangup"]
    assert record.hangup_cause == "UNALLOCATED_NUMBER"


def test_calls_run_concurrently(rds: redis.Redis, server: OutboundServer) -> None:
    load_unchecked(rds, flow("210", node("sleep", {"duration": 300, "unit": "ms"})))
    jobs = [gevent.spawn(call, server, "210") for _ in range(20)]
    gevent.joinall(jobs, timeout=10)
    assert all(job.value is not None and job.value.app_names() == ["sleep", "hangup"] for job in jobs)
    durations = [job.value.ended_at - job.value.connected_at for job in jobs]
    assert max(durations) < 2.0  # twenty 0.3 s calls at once, not one after another
