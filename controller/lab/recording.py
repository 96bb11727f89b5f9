"""Records calls of the real simulator against a server and turns them into a Script that
controller/lab/replay.py plays many times over (the load of `controller lab bench`).

A recording is the wire exchange of one call, in order: every chunk the simulator wrote and
every piece it received, each with its time, and who closed; with an inbound server, also every
event frame of the call sent to the connection watching it (the controller's watcher: CHANNEL_DESTROY
of both legs...), each tied to the command before it, or to the close for those FreeSWITCH sends
once the call's socket is gone. Several calls are recorded and
must agree in shape (the same commands and applications in the same order, the same number of
uuids, the same side closing): a server that does not answer this scenario the same way every
time cannot be replayed, and is refused with the difference.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, cast

from gevent import socket as gsocket

from controller.lab.inbound import InboundServer
from controller.lab.replay import (
    CLOSED,
    UUID,
    Chunk,
    Expected,
    Script,
    app_name,
    command_line,
    is_execute,
    normalise,
    take_commands,
)
from controller.lab.scenario import Scenario
from controller.lab.simulator import CallRecord, run_call

Sent = tuple[int, float, bytes]  # (index of the last command received before, or CLOSED; time; bytes)


class NotReplayableError(Exception):
    """The recorded calls disagree, or one did not end as FreeSWITCH ends a call."""


class RecordingSocket:
    """Wraps the simulator's socket and logs what goes through it: ("out", time, bytes) for
    what was written, ("in", time, bytes) for what was read, ("eof", time, b"") when the server
    was found gone (end of stream, reset, broken pipe) and ("close", time, b"") when the
    simulator closed."""

    def __init__(self, sock: gsocket.socket, log: list[tuple[str, float, bytes]] | None = None) -> None:
        self._sock = sock
        self.log: list[tuple[str, float, bytes]] = [] if log is None else log

    def send(self, data: bytes, *args: Any) -> int:
        try:
            sent = int(self._sock.send(data, *args))
        except BlockingIOError:
            raise
        except OSError:
            self.log.append(("eof", time.monotonic(), b""))
            raise
        if sent:
            self.log.append(("out", time.monotonic(), bytes(data[:sent])))
        return sent

    def sendall(self, data: bytes | memoryview, *args: Any) -> None:
        try:
            self._sock.sendall(data, *args)
        except OSError:
            self.log.append(("eof", time.monotonic(), b""))
            raise
        self.log.append(("out", time.monotonic(), bytes(data)))

    def recv(self, size: int, *args: Any) -> bytes:
        try:
            data = bytes(self._sock.recv(size, *args))
        except OSError:
            data = b""
            self.log.append(("eof", time.monotonic(), b""))
            raise
        self.log.append(("in", time.monotonic(), data) if data else ("eof", time.monotonic(), b""))
        return data

    def close(self) -> None:
        self.log.append(("close", time.monotonic(), b""))
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    @property
    def closed_by(self) -> str:
        """Who ended the exchange: "server" (found gone before the simulator closed) or
        "freeswitch" (the simulator closed first: its goodbye, or `exit`)."""
        for direction, _, _ in self.log:
            if direction == "eof":
                return "server"
            if direction == "close":
                return "freeswitch"
        return ""


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One recorded call: the simulator's record, when it connected and its wire log."""

    record: CallRecord
    connected_at: float
    log: list[tuple[str, float, bytes]]
    closed_by: str

    def exchange(self) -> tuple[list[tuple[float, bytes]], list[Sent], list[Sent]]:
        """The commands received (time each was complete, raw), the chunks written (index of
        the last command received before, time, bytes) and the frames sent to the watcher (the
        same, CLOSED for those sent once the call's socket was closed)."""
        commands: list[tuple[float, bytes]] = []
        chunks: list[Sent] = []
        watched: list[Sent] = []
        buffer = bytearray()
        closed = False
        for direction, at, data in self.log:
            if direction == "in":
                buffer += data
                commands += [(at, raw) for raw in take_commands(buffer)]
            elif direction == "out":
                chunks.append((len(commands) - 1, at, data))
            elif direction == "inbound":
                watched.append((CLOSED if closed else len(commands) - 1, at, data))
            elif direction in ("eof", "close"):
                closed = True
        return commands, chunks, watched


def record_one(
    address: tuple[str, int], scenario: Scenario, timeout: float = 30.0, inbound: InboundServer | None = None
) -> Recorded:
    """One call; with `inbound`, its events go there too and what it sent is recorded."""
    taps: list[RecordingSocket] = []
    log: list[tuple[str, float, bytes]] = []

    def tap(sock: gsocket.socket) -> gsocket.socket:
        taps.append(RecordingSocket(sock, log))
        return cast(gsocket.socket, taps[-1])

    def watched(frame: bytes) -> None:
        log.append(("inbound", time.monotonic(), frame))

    started = time.monotonic()
    if inbound is not None:
        inbound.on_send = watched
    try:
        record = run_call(address, scenario, timeout=timeout, tap=tap, inbound=inbound)
    finally:
        if inbound is not None:
            inbound.on_send = None
    if not taps:
        raise NotReplayableError("the call was never connected")
    return Recorded(record, record.connected_at or started, log, taps[0].closed_by)


def record(
    address: tuple[str, int], scenario: Scenario, calls: int = 3, timeout: float = 30.0,
    inbound: InboundServer | None = None,
) -> Script:
    """Record `calls` calls one after the other and build the script from the last (the
    server's first call may take slower paths: its delays are not the scenario's). With
    `inbound`, the frames its watching connection received are part of the script."""
    recorded = [record_one(address, scenario, timeout, inbound) for _ in range(calls)]
    return build(recorded)


def build(recorded: list[Recorded]) -> Script:
    if not recorded:
        raise NotReplayableError("no call recorded")
    for index, one in enumerate(recorded):
        if one.record.closed_by == "timeout" or not one.closed_by:
            raise NotReplayableError(f"recorded call {index} timed out")
    scripts = [_script(one, _constants(recorded)) for one in recorded]
    first = scripts[0]
    for index, script in enumerate(scripts[1:], 1):
        difference = _difference(first, script)
        if difference:
            raise NotReplayableError(
                f"the server is not deterministic for this scenario: recorded calls 0 and {index} differ: {difference}"
            )
    return scripts[-1]


def _constants(recorded: list[Recorded]) -> frozenset[bytes]:
    """The uuids every recorded call wrote (the template's Core-UUID...); with one call, none
    can be told apart from the call's own, and all are made fresh."""
    if len(recorded) < 2:
        return frozenset()
    sets = [{found for direction, _, data in one.log if direction in ("out", "inbound") for found in UUID.findall(data)}
            for one in recorded]
    return frozenset(set.intersection(*sets))


def _script(one: Recorded, constants: frozenset[bytes]) -> Script:
    commands, chunks, watched = one.exchange()
    # Who said each uuid first: the simulator (the call's own, made fresh for each replayed
    # call) or the server (learnt from each replayed call's commands, in order).
    first_seen: dict[bytes, str] = {}
    said = [(at, 0, "server", raw) for at, raw in commands] + [(at, 1, "sim", data) for _, at, data in chunks + watched]
    timeline = sorted(said, key=lambda item: (item[0], item[1]))
    for _, _, who, data in timeline:
        for found in UUID.findall(data):
            if found not in constants:
                first_seen.setdefault(found, who)
    generated = [u for u, who in first_seen.items() if who == "sim"]
    server = [u for u, who in first_seen.items() if who == "server"]
    slots = {u: slot for slot, u in enumerate(generated + server)}
    expected = []
    known: set[bytes] = set(generated)
    for _, raw in commands:
        new = [u for u in dict.fromkeys(UUID.findall(raw)) if u not in known and u not in constants]
        known.update(new)
        expected.append(Expected(normalise(command_line(raw), slots), app_name(raw), len(new)))
    arrivals = [at for at, _ in commands]
    replayed = tuple(
        _chunk(anchor, at - (arrivals[anchor] if anchor >= 0 else one.connected_at), data, slots)
        for anchor, at, data in chunks
    )
    to_watcher = tuple(
        _chunk(anchor, 0.0 if anchor == CLOSED else at - (arrivals[anchor] if anchor >= 0 else one.connected_at),
               data, slots)
        for anchor, at, data in watched
    )
    first_execute = next((index for index, (_, raw) in enumerate(commands) if is_execute(raw)), None)
    return Script(
        commands=tuple(expected), chunks=replayed, uuids=tuple(generated + server), generated=len(generated),
        constants=constants, closes=one.closed_by, first_execute=first_execute, inbound=to_watcher,
    )


def _chunk(anchor: int, delay: float, data: bytes, slots: dict[bytes, int]) -> Chunk:
    literals, places = [], []
    start = 0
    for match in UUID.finditer(data):
        if match[0] in slots:
            literals.append(data[start : match.start()])
            places.append(slots[match[0]])
            start = match.end()
    literals.append(data[start:])
    return Chunk(anchor, max(0.0, delay), tuple(literals), tuple(places))


def _difference(one: Script, other: Script) -> str:
    """The first difference in shape between two recorded calls, or ""."""
    for index, (mine, theirs) in enumerate(zip(one.commands, other.commands, strict=False)):
        if mine != theirs:
            return f"command {index}: {mine} against {theirs}"
    if len(one.commands) != len(other.commands):
        return f"{len(one.commands)} commands against {len(other.commands)}"
    if one.closes != other.closes:
        return f"closed by {one.closes} against {other.closes}"
    if len(one.inbound) != len(other.inbound):
        return f"{len(one.inbound)} frames to the watcher against {len(other.inbound)}"
    if (one.generated, len(one.uuids)) != (other.generated, len(other.uuids)):
        return f"{one.generated}/{len(one.uuids)} uuids of the call/in all against {other.generated}/{len(other.uuids)}"
    return ""
