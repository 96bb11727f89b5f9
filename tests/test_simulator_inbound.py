"""The simulator's inbound event socket against the `*.inbound.txt` captures: the same call seen
by a second connection subscribed to all channel events. A client sends the capture's own `auth`
and `event plain ...` commands; while the outbound side replays the capture, it must receive,
leg by leg, the events FreeSWITCH sent (CHANNEL_CREATE first, the callee's leg of a bridge, and
the caller's CHANNEL_DESTROY only once the outbound socket has closed)."""

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket
from gevent.event import AsyncResult

from controller.esl import wire
from controller.lab.capture import read_capture
from controller.lab.inbound import InboundServer
from controller.lab.simulator import run_call
from tests.test_simulator_golden import (
    FAST,
    SCENARIOS,
    TRACES,
    captured_frames,
    header_names,
    replay,
    steps,
    summary,
    variable_names,
)

Leg = list[tuple[str | None, ...]]


def leg_view(event: Any) -> tuple[str | None, ...]:
    return (event.name, event.get("Application"), event.get("Application-Response"),
            event.get("Answer-State"), event.get("Hangup-Cause"))


def by_leg(events: list[Any], caller: str) -> tuple[Leg, list[Leg]]:
    """The caller's events, and each other leg's, in order of first appearance."""
    legs: dict[str, Leg] = {}
    for event in events:
        legs.setdefault(event["Unique-ID"], []).append(leg_view(event))
    return legs.pop(caller, []), list(legs.values())


def inbound_commands(name: str) -> list[bytes]:
    return [b.payload for b in read_capture(TRACES / f"{name}.inbound.txt") if not b.received]


@dataclasses.dataclass
class Watch:
    """A subscribed inbound client: its replies, every event it received, and when the caller's
    leg (the first one created) was destroyed."""

    sock: gsocket.socket
    replies: list[wire.Frame]
    events: list[Any] = dataclasses.field(default_factory=list)
    caller_destroyed: AsyncResult = dataclasses.field(default_factory=AsyncResult)

    def collect(self, frames: Iterator[wire.Frame]) -> None:
        with contextlib.suppress(OSError):  # the test closes the socket when done
            for frame in frames:
                event = wire.parse_event(frame)
                self.events.append(event)
                if event.name == "CHANNEL_DESTROY" and event["Unique-ID"] == self.events[0]["Unique-ID"]:
                    self.caller_destroyed.set(time.monotonic())


def watch(server: InboundServer, name: str) -> Watch:
    """Connect and send the capture's own commands (`auth ClueCon`, `event plain ...`)."""
    sock = gsocket.create_connection(server.address, timeout=5)
    frames = iter(wire.FrameReader(sock))
    replies = [next(frames)]
    for command in inbound_commands(name):
        sock.sendall(command)
        replies.append(next(frames))
    seen = Watch(sock, replies)
    gevent.spawn(seen.collect, frames)
    return seen


@pytest.fixture()
def inbound() -> Iterator[InboundServer]:
    server = InboundServer()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_an_inbound_connection_sees_both_legs_as_freeswitch_showed_them(inbound: InboundServer, name: str) -> None:
    seen = watch(inbound, name)
    with seen.sock:
        check_both_legs(inbound, name, seen)


def check_both_legs(inbound: InboundServer, name: str, seen: Watch) -> None:
    captured = captured_frames(name, ".inbound")
    real_caller = captured_frames(name)[0].headers["Unique-ID"]
    assert [(f.content_type, f.reply_text) for f in seen.replies] == [
        (f.content_type, f.reply_text) for f in captured if not f.is_event
    ]

    address, _ = replay(steps(read_capture(TRACES / f"{name}.txt")), real_caller)
    record = run_call(address, dataclasses.replace(SCENARIOS[name], time_scale=FAST), timeout=20, inbound=inbound)
    destroyed_at = seen.caller_destroyed.get(timeout=10)

    mine_caller, mine_others = by_leg(seen.events, record.uuid)
    real_caller_leg, real_others = by_leg([wire.parse_event(f) for f in captured if f.is_event], real_caller)
    assert mine_caller == real_caller_leg
    assert mine_others == real_others
    assert record.closed_at <= destroyed_at  # destroyed only once the outbound socket closed


def frames_by_leg(frames: list[wire.Frame], caller: str) -> list[list[wire.Frame]]:
    """The caller's events, then each other leg's, in order of first appearance."""
    legs: dict[str, list[wire.Frame]] = {caller: []}
    for frame in frames:
        legs.setdefault(wire.parse_event(frame)["Unique-ID"], []).append(frame)
    return list(legs.values())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_both_legs_carry_freeswitchs_headers_and_variables(inbound: InboundServer, name: str) -> None:
    """Every event of both legs, CHANNEL_DESTROY included, with the header names in FreeSWITCH's
    order and the same variables: the callee's leg, which no outbound socket sees, as large as
    the caller's."""
    sock = gsocket.create_connection(inbound.address, timeout=5)
    frames = iter(wire.FrameReader(sock))
    next(frames)
    for command in inbound_commands(name):
        sock.sendall(command)
        next(frames)
    received: list[wire.Frame] = []
    collector = gevent.spawn(lambda: received.extend(frames))
    real_caller = captured_frames(name)[0].headers["Unique-ID"]
    address, _ = replay(steps(read_capture(TRACES / f"{name}.txt")), real_caller)
    record = run_call(address, dataclasses.replace(SCENARIOS[name], time_scale=FAST), timeout=20, inbound=inbound)
    captured = [f for f in captured_frames(name, ".inbound") if f.is_event]
    with gevent.Timeout(10):
        while len(received) < len(captured):
            gevent.sleep(0.01)
    sock.close()
    collector.kill()
    for mine, real in zip(frames_by_leg(received, record.uuid), frames_by_leg(captured, real_caller), strict=True):
        assert len(mine) == len(real)
        for own, theirs in zip(mine, real, strict=True):
            assert header_names(own) == header_names(theirs), summary(theirs)
            assert variable_names(own) == variable_names(theirs), summary(theirs)


def test_a_wrong_password_is_refused_and_the_connection_closed(inbound: InboundServer) -> None:
    with gsocket.create_connection(inbound.address, timeout=5) as sock:
        frames = iter(wire.FrameReader(sock))
        assert next(frames).content_type == "auth/request"
        sock.sendall(wire.command("auth", "wrong"))
        assert next(frames).reply_text == "-ERR invalid"
        assert next(frames, None) is None
