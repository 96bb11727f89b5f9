"""One misbehaving connection cannot starve the others: a reader yields after bounded work, a
flood of blank lines or of frames closes that connection, and the buffers all calls hold are
bounded process-wide. Meanwhile a normal call completes as usual."""

import time
from collections.abc import Callable

import gevent
import pytest
import redis
from gevent import socket as gsocket

from controller.esl import wire
from controller.esl.server import OutboundServer
from controller.lab.channel import Channel
from controller.lab.scenario import Scenario
from controller.lab.simulator import run_call
from tests.office import ACCOUNT, flow, load, node

OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


def test_stray_blank_lines_are_skipped_up_to_a_bound() -> None:
    frame = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
    reader = wire.FrameReader(None)
    reader.feed(b"\n" * wire.MAX_BLANK_LINES + frame + b"\n" * 3 + frame)
    assert [f.headers["Reply-Text"] for f in reader] == ["+OK", "+OK"]
    flooded = wire.FrameReader(None)
    flooded.feed(b"\n" * (wire.MAX_BLANK_LINES + 1) + frame)
    with pytest.raises(wire.FrameError, match="blank lines"):
        list(flooded)


def test_the_buffer_budget_is_shared_and_given_back() -> None:
    budget = wire.Budget(100)

    class Chunks:
        def __init__(self, *chunks: bytes) -> None:
            self.chunks = list(chunks)

        def recv(self, size: int) -> bytes:
            return self.chunks.pop(0) if self.chunks else b""

    body = b"x" * 40
    first = wire.FrameReader(Chunks(b"Content-Length: 40\n\n" + body), budget=budget)
    assert [f.body for f in first] == [body] and budget.used == 0
    held = wire.FrameReader(Chunks(b"Content-Length: 90\n\n" + body), budget=budget)
    with pytest.raises(wire.FrameError):
        list(held)  # cut short: what it held is still counted until released
    assert budget.used > 0
    held.release()
    assert budget.used == 0
    greedy = wire.FrameReader(Chunks(b"Content-Length: 200\n\n", body * 3), budget=budget)
    with pytest.raises(wire.FrameError, match="buffers are taken"):
        list(greedy)


def hostile(address: tuple[str, int], attack: Callable[[gsocket.socket], None]) -> gevent.Greenlet:
    """A peer that answers the controller's setup, then attacks; done when the controller closed."""
    def run() -> float:
        sock = gsocket.create_connection(address)
        started = time.monotonic()
        try:
            sock.recv(65536)  # connect, myevents, nixevent, linger
            sock.sendall(Channel.inbound(Scenario(destination="999")).connect_reply() + OK * 3)
            attack(sock)
        except OSError:
            pass
        finally:
            sock.close()
        return time.monotonic() - started
    return gevent.spawn(run)


def blank_lines(sock: gsocket.socket) -> None:
    chunk = b"\n" * 65536
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sock.sendall(chunk)


def events(sock: gsocket.socket) -> None:
    """Well-formed events, far more than FLOOD_FRAMES a second."""
    body = b"Event-Name: HEARTBEAT\nCore-UUID: x\n\n"
    frame = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body)
    chunk = frame * 1000
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sock.sendall(chunk)


@pytest.mark.parametrize("attack", [blank_lines, events], ids=["blank-lines", "events"])
def test_a_flooding_connection_is_closed_and_a_normal_call_goes_on(
        attack: Callable[[gsocket.socket], None], rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("700", node("answer")))
    attacker = hostile(esl_server.address, attack)
    gevent.sleep(0.05)
    started = time.monotonic()
    record = run_call(esl_server.address, Scenario(destination="700", account_id=ACCOUNT), timeout=10)
    took = time.monotonic() - started
    assert record.app_names() == ["answer", "hangup"]
    assert took < 2.0, f"a normal call took {took:.1f} s beside the flood"
    assert attacker.get(timeout=15) < 2  # closed by the controller as soon as it flooded
