"""A finished call leaves no reference cycle behind: everything it built is freed as soon as it
ends, so the garbage collector (tuned down in `controller serve`) has nothing of it to find."""

import dataclasses
import gc
from collections.abc import Iterator

import pytest
import redis
from gevent import socket as gsocket

from controller.call import Call
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.esl.session import Session
from controller.esl.wire import FrameReader
from controller.executor import Executor
from controller.lab.processes import wait_until
from controller.modules import REGISTRY
from controller.services import Services
from tests.office import call, flow, load, node

CONTROLLER_TYPES = (Session, Call, FrameReader)


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()


def controller_garbage(garbage: list[object]) -> list[str]:
    gc.collect()
    return [type(o).__name__ for o in garbage if isinstance(o, CONTROLLER_TYPES)]


def test_a_call_that_ends_normally_leaves_no_cycle(
    rds: redis.Redis, esl_server: OutboundServer, saved_garbage: list[object]
) -> None:
    load(rds, flow("700", node("play", {"id": "/a.wav"}, _=node("user", {"id": "u-bob", "timeout": 1}))))
    for _ in range(3):
        assert call(esl_server, "700").app_names()[0] == "answer"
    assert controller_garbage(saved_garbage) == []


def test_a_caller_hanging_up_during_an_application_leaves_no_cycle(
    rds: redis.Redis, esl_server: OutboundServer, saved_garbage: list[object]
) -> None:
    load(rds, flow("701", node("play", {"id": "/a.wav"}, _=node("play", {"id": "/b.wav"}))))
    for _ in range(3):
        record = call(esl_server, "701", playback_seconds=0.2, hangup_during=("playback", 0.01))
        assert record.hangup_cause == "NORMAL_CLEARING"
    assert controller_garbage(saved_garbage) == []


def test_a_connection_that_never_answers_connect_leaves_no_cycle(
    services: Services, saved_garbage: list[object]
) -> None:
    """gevent raises a failed AsyncResult's exception from a frame that keeps it: the `connect`
    that timed out held its session, socket and greenlets in a cycle (esl-abandoned-2000)."""
    hasty = dataclasses.replace(services, settings=dataclasses.replace(services.settings, command_timeout=0.2))
    server = OutboundServer(hasty.settings, CallLifecycle(hasty, Executor(REGISTRY)))
    server.start()
    try:
        for _ in range(3):
            with gsocket.create_connection(server.address, timeout=5) as sock:
                assert sock.recv(65536).startswith(b"connect")
                assert sock.recv(65536) == b""  # closed by the controller after its command timeout
        wait_until(lambda: server.active_calls == 0, 5.0, "the sessions' end")
    finally:
        server.stop(drain_seconds=1)
    assert controller_garbage(saved_garbage) == []
