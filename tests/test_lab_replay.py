"""The benchmark's load generator: one simulator call recorded, then replayed in a process of its
own. Replayed calls must get what the recording got (or count as failures), each with its own
uuids, against the real controller and against small servers that misbehave on purpose."""

import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import gevent
import pytest
import redis
from gevent import socket as gsocket
from gevent.server import StreamServer

from controller.esl import wire
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.esl.session import Session
from controller.executor import Executor
from controller.lab import bench, recording, replay
from controller.lab.inbound import InboundServer
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.modules import REGISTRY
from controller.services import Services
from controller.store.bundle import load_bundle

# Generous: the machine may be busy; nothing here depends on a call being fast.
CALL_TIMEOUT = 20.0


class WatchedLifecycle(CallLifecycle):
    """The real call handling, noting the Unique-ID of every call the controller placed."""

    def __init__(self, services: Services) -> None:
        super().__init__(services, Executor(REGISTRY))
        self.seen: list[str] = []

    def _place(self, session: Session, data: Mapping[str, str]) -> Any:
        self.seen.append(str(data.get("Unique-ID")))
        return super()._place(session, data)


@pytest.fixture
def watched(rds: redis.Redis, services: Services) -> Iterator[tuple[OutboundServer, WatchedLifecycle]]:
    load_bundle(rds, bench.BUNDLE, "benchmark bundle")
    lifecycle = WatchedLifecycle(services)
    server = OutboundServer(services.settings, lifecycle)
    server.start()
    yield server, lifecycle
    server.stop(drain_seconds=2)


def test_replayed_calls_get_what_the_recorded_call_got(
    tmp_path: Path, watched: tuple[OutboundServer, WatchedLifecycle]
) -> None:
    server, lifecycle = watched
    script = recording.record(server.address, bench.CALL, timeout=CALL_TIMEOUT)
    apps = [expected.app for expected in script.commands if expected.app]
    assert apps == [b"answer", b"multiset", b"playback", b"multiset", b"bridge", b"hangup"]
    assert script.first_execute is not None and script.generated >= 1
    recorded_calls = len(lifecycle.seen)
    script.save(tmp_path / "call.pickle")

    figures = replay.run_process(tmp_path / "call.pickle", server.address, calls=50, rate=200, timeout=CALL_TIMEOUT)

    assert figures["first_failure"] == ""
    assert (figures["completed"], figures["failures"]) == (50, 0)
    assert len(figures["setup_latencies"]) == 50 and figures["cpu_seconds"] > 0
    replayed = figures["call_uuids"]
    assert len(set(replayed)) == 50  # a fresh uuid for each call...
    assert set(lifecycle.seen[recorded_calls:]) == set(replayed)  # ...and the controller saw each one
    assert not set(replayed) & {u.decode() for u in script.uuids}


# --- small servers -------------------------------------------------------------------------------


def dialogue(sock: gsocket.socket, apps: list[str]) -> None:
    """A server's side of a call: connect, myevents, then each app in turn (each awaited by its
    Event-UUID coming back as Application-UUID), the last one `hangup`; then reads until the
    simulator closes (it does not linger)."""
    frames = iter(wire.FrameReader(sock))
    try:
        sock.sendall(b"connect\n\n")
        next(frames)
        sock.sendall(b"myevents\n\n")
        next(frames)
        for app in apps:
            event_uuid = str(uuid.uuid4())
            sock.sendall(wire.sendmsg(app, "NORMAL_CLEARING" if app == "hangup" else "", event_uuid))
            for frame in frames:
                event = wire.parse_event(frame) if frame.is_event else None
                if event and event.name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application-UUID") == event_uuid:
                    break
        for _ in frames:
            pass
    except (OSError, StopIteration, wire.FrameError):
        pass
    finally:
        sock.close()


def serve(handler: Callable[[gsocket.socket, Any], None]) -> StreamServer:
    server = StreamServer(("127.0.0.1", 0), handler)
    server.start()
    return server


def numbered(apps_of: Callable[[int], list[str]]) -> Callable[[gsocket.socket, Any], None]:
    """A handler playing `apps_of(n)` on the n-th call it accepts (from 1)."""
    count = itertools.count(1)
    return lambda sock, _: dialogue(sock, apps_of(next(count)))


SHORT = Scenario(answer_delay=0.001)


def recorded(server: StreamServer, tmp_path: Path) -> Path:
    path = tmp_path / "call.pickle"
    recording.record(server.address, SHORT, timeout=CALL_TIMEOUT).save(path)
    return path


def test_a_server_that_answers_otherwise_fails_the_calls_it_diverges_on(tmp_path: Path) -> None:
    # The three recorded calls agree; then every other call gets pre_answer instead of answer.
    server = serve(numbered(lambda n: ["pre_answer" if n > 3 and n % 2 == 0 else "answer", "hangup"]))
    try:
        script = recorded(server, tmp_path)
        assert replay.Script.load(script).closes == "freeswitch"  # the simulator's goodbye ends these calls
        figures = replay.run_process(script, server.address, calls=10, rate=100, timeout=CALL_TIMEOUT)
    finally:
        server.stop()
    assert (figures["completed"], figures["failures"]) == (5, 5)
    assert figures["failure_kinds"] == {"diverged": 5}
    assert "expected 'sendmsg answer', got 'sendmsg pre_answer'" in figures["first_failure"]


def test_recorded_calls_that_disagree_are_refused(tmp_path: Path) -> None:
    server = serve(numbered(lambda n: ["answer", "hangup"] if n == 1 else ["pre_answer", "hangup"]))
    try:
        with pytest.raises(recording.NotReplayableError, match="not deterministic"):
            recorded(server, tmp_path)
    finally:
        server.stop()


def test_a_server_that_never_replies_times_the_calls_out(tmp_path: Path) -> None:
    good = serve(numbered(lambda n: ["answer", "hangup"]))
    try:
        script = recorded(good, tmp_path)
    finally:
        good.stop()
    held: list[gsocket.socket] = []
    silent = serve(lambda sock, _: (held.append(sock), gevent.sleep(30)))  # accepts, never says a word
    try:
        figures = replay.run_process(script, silent.address, calls=3, rate=50, timeout=1.0)
    finally:
        silent.stop(timeout=0)
        for sock in held:
            sock.close()
    assert (figures["completed"], figures["failures"]) == (0, 3)
    assert figures["failure_kinds"] == {"timeout": 3}
    assert "timed out after 0 of" in figures["first_failure"]


def test_a_server_that_is_gone_refuses_the_calls(tmp_path: Path) -> None:
    good = serve(numbered(lambda n: ["answer", "hangup"]))
    try:
        script = recorded(good, tmp_path)
        address = good.address
    finally:
        good.stop()
    figures = replay.run_process(script, address, calls=2, rate=50, timeout=CALL_TIMEOUT)
    assert (figures["completed"], figures["failures"]) == (0, 2)
    assert figures["failure_kinds"] == {"refused": 2}


def watching(server: InboundServer, events: str) -> tuple[gsocket.socket, list[str], gevent.Greenlet]:
    """A watcher on the inbound socket: the Unique-ID of each event it receives, in order."""
    sock = gsocket.create_connection(server.address, timeout=5)
    frames = iter(wire.FrameReader(sock))
    next(frames)
    for command in ("auth ClueCon", f"event plain {events}"):
        sock.sendall(wire.command(command))
        assert next(frames).reply_text.startswith("+OK")
    seen: list[str] = []
    collector = gevent.spawn(lambda: seen.extend(wire.parse_event(f)["Unique-ID"] for f in frames))
    return sock, seen, collector


def wait_for(seen: list[str], count: int) -> None:
    with gevent.Timeout(CALL_TIMEOUT):
        while len(seen) < count:
            gevent.sleep(0.01)


def test_what_the_watcher_got_is_replayed_into_its_connection_for_each_call(tmp_path: Path) -> None:
    server = serve(numbered(lambda n: ["answer", "bridge", "hangup"]))
    inbound = InboundServer()
    inbound.start()
    sock, destroyed, collector = watching(inbound, "CHANNEL_DESTROY")
    try:
        scenario = Scenario(answer_delay=0.001, bridges=(BridgeOutcome("no_answer", timeout=0.01),))
        script = recording.record(server.address, scenario, timeout=CALL_TIMEOUT, inbound=inbound)
        wait_for(destroyed, 6)  # each recorded call: the callee's leg, then the caller's
        # the callee's leg during the bridge, the caller's once the call's socket is closed
        assert [chunk.anchor == replay.CLOSED for chunk in script.inbound] == [False, True]
        script.save(tmp_path / "call.pickle")
        figures = replay.run_process(tmp_path / "call.pickle", server.address, calls=20, rate=100,
                                     timeout=CALL_TIMEOUT, watcher=inbound.subscriber_fds()[0])
        wait_for(destroyed, 6 + 40)
    finally:
        sock.close()
        collector.kill()
        inbound.stop()
        server.stop()
    assert (figures["completed"], figures["failures"]) == (20, 0)
    replayed, callers = set(destroyed[6:]), set(figures["call_uuids"])
    assert len(replayed) == 40  # every leg its own uuid: the 20 callers and their 20 callees
    assert callers <= replayed and len(replayed - callers) == 20
