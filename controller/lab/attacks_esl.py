"""Attacks on the outbound ESL port, as a peer that is not FreeSWITCH (or a FreeSWITCH gone wrong)
would make them: malformed frames as the reply to `connect`, floods after a well-formed setup,
slow and abandoned connections. Each holds when the controller closes every attacking connection
by itself within its command timeout (10 s) and a little more, with no traceback; the normal
calls beside it are measured by controller/lab/attack.py."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import gevent
from gevent import socket as gsocket
from gevent.pool import Pool

from controller.lab.attack_world import Verdict, World
from controller.lab.channel import Channel
from controller.lab.scenario import Scenario

OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
CLOSE_WITHIN = 13.0  # the controller's command timeout (10 s) and some slack
Attack = Callable[[gsocket.socket], None]


def _peer(world: World, attack: Attack, setup: bool = False) -> float | None:
    """One attacking connection: read the controller's `connect`, (answer the setup as
    FreeSWITCH would), attack; the seconds until the controller closed it, None if it did not
    within CLOSE_WITHIN."""
    started = time.monotonic()
    try:
        sock = gsocket.create_connection(world.esl, timeout=CLOSE_WITHIN)
    except OSError:
        return None
    try:
        sock.settimeout(CLOSE_WITHIN)
        sock.recv(65536)  # connect
        if setup:
            sock.sendall(Channel.inbound(Scenario(destination="999")).connect_reply() + OK * 3)
        attack(sock)
        while True:
            left = started + CLOSE_WITHIN - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            if not sock.recv(65536):
                return time.monotonic() - started
    except TimeoutError:
        return None
    except OSError:
        return time.monotonic() - started  # reset or broken pipe: closed by the controller
    finally:
        sock.close()


def _many(world: World, attack: Attack, count: int, setup: bool = False, size: int = 500) -> list[float | None]:
    pool = Pool(size)
    return list(pool.imap_unordered(lambda _: _peer(world, attack, setup), range(count)))


def _together(world: World, *attacks: Attack, setup: bool = False) -> list[float | None]:
    """Each attack on a connection of its own, at once."""
    greenlets = [gevent.spawn(_peer, world, attack, setup) for attack in attacks]
    gevent.joinall(greenlets)
    return [g.value for g in greenlets]


def _closed(verdict: Verdict, times: list[float | None], what: str) -> Verdict:
    closed = [t for t in times if t is not None]
    slowest = f", the last after {max(closed) * 1000:.0f} ms" if closed else ""
    verdict.check(len(closed) == len(times),
                  f"{what}: {len(closed)}/{len(times)} connections closed by the controller{slowest}")
    return verdict


def _send(data: bytes) -> Attack:
    return lambda sock: sock.sendall(data)


def lying_length(world: World) -> Verdict:
    """A reply that announces 100,000 bytes of body, sends 10, then waits."""
    frame = b"Content-Type: command/reply\nContent-Length: 100000\n\n" + b"x" * 10
    return _closed(Verdict(True), [_peer(world, _send(frame))], "Content-Length 100000, 10 bytes sent")


def negative_length(world: World) -> Verdict:
    frames = [b"Content-Type: command/reply\nContent-Length: -5\n\nabc", b"Content-Length: -1\n\n"]
    return _closed(Verdict(True), _together(world, *map(_send, frames)), "negative Content-Length")


def huge_length(world: World) -> Verdict:
    lengths = [b"2147483648", b"99999999999999999999999999", b"16777216000"]
    frames = [b"Content-Type: command/reply\nContent-Length: " + n + b"\n\n" + b"x" * 1000 for n in lengths]
    return _closed(Verdict(True), _together(world, *map(_send, frames)), "Content-Length 2^31, 10^26, 16 GB")


def big_headers(world: World) -> Verdict:
    """10 MB of header lines with no end to the block."""
    line = b"X-Padding: " + b"a" * 1000 + b"\n"

    def attack(sock: gsocket.socket) -> None:
        chunk = b"Content-Type: command/reply\n" + line * 1000
        for _ in range(10):
            sock.sendall(chunk)

    return _closed(Verdict(True), [_peer(world, attack)], "a 10 MB header block")


def garbage(world: World) -> Verdict:
    random = os.urandom(1 << 20)
    binary_lines = b"\x00\xff:\x01\n" * 1000 + b"\n"
    return _closed(Verdict(True), _together(world, _send(random), _send(binary_lines)),
                   "1 MB of random bytes; binary header lines")


def eof_mid_frame(world: World) -> Verdict:
    def body_cut(sock: gsocket.socket) -> None:
        sock.sendall(b"Content-Type: command/reply\nContent-Length: 500\n\n" + b"x" * 100)
        sock.shutdown(gsocket.SHUT_WR)

    def header_cut(sock: gsocket.socket) -> None:
        sock.sendall(b"Content-Type: command/re")
        sock.shutdown(gsocket.SHUT_WR)

    def event_cut(sock: gsocket.socket) -> None:
        sock.sendall(b"Content-Length: 900\nContent-Type: text/event-plain\n\nEvent-Name: CHANNEL_ANS")
        sock.shutdown(gsocket.SHUT_WR)

    times = [*_together(world, body_cut, header_cut), _peer(world, event_cut, setup=True)]
    return _closed(Verdict(True), times, "EOF inside a body, a header block, an event after setup")


def slowloris(world: World) -> Verdict:
    """200 connections, each sending its reply one byte every half second."""
    frame = b"Content-Type: command/reply\nReply-Text: +OK\nX-Slow: " + b"s" * 200

    def attack(sock: gsocket.socket) -> None:
        deadline = time.monotonic() + CLOSE_WITHIN + 2
        for byte in frame:
            if time.monotonic() > deadline:
                return
            sock.sendall(bytes([byte]))
            gevent.sleep(0.5)

    return _closed(Verdict(True), _many(world, attack, 200), "200 connections at one byte per 0.5 s")


def abandoned(world: World) -> Verdict:
    """2,000 connections that never answer `connect`."""
    return _closed(Verdict(True), _many(world, lambda sock: None, 2000, size=2000), "2,000 silent connections")


def _flood(chunk: bytes) -> Attack:
    def attack(sock: gsocket.socket) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            sock.sendall(chunk)

    return attack


def blank_flood(world: World) -> Verdict:
    verdict = Verdict(True)
    times = [_peer(world, _flood(b"\n" * 65536), setup=True)]
    _closed(verdict, times, "after connect, a stream of bare newlines (up to 10 s)")
    verdict.check(times[0] is not None and times[0] < 2.0, "closed within 2 s of the flood's start")
    return verdict


def event_flood(world: World) -> Verdict:
    body = b"Event-Name: HEARTBEAT\nCore-UUID: x\n\n"
    frame = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body)
    verdict = Verdict(True)
    times = [_peer(world, _flood(frame * 1000), setup=True)]
    _closed(verdict, times, "after connect, well-formed events as fast as they go (up to 10 s)")
    verdict.check(times[0] is not None and times[0] < 2.0, "closed within 2 s of the flood's start")
    return verdict


def big_bodies(world: World) -> Verdict:
    """40 connections each announcing a 16 MiB event body and sending all but its last byte."""
    size = 16 << 20
    head = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % size
    part = b"x" * (1 << 20)
    peak = [world.rss_mb()]

    def attack(sock: gsocket.socket) -> None:
        sock.sendall(head)
        for _ in range(15):
            sock.sendall(part)
        sock.sendall(part[:-1])

    def watch() -> None:
        while True:
            peak[0] = max(peak[0], world.rss_mb())
            gevent.sleep(0.1)

    watcher = gevent.spawn(watch)
    try:
        verdict = _closed(Verdict(True), _many(world, attack, 40, setup=True), "40 bodies of 16 MiB announced")
    finally:
        watcher.kill()
    verdict.seen.append(f"peak RSS {peak[0]:.0f} MB")
    return verdict
