"""Replays a recorded simulator call many times at a given rate: the load generator of
`controller lab bench` (`python -m controller.lab.replay --script FILE --address HOST:PORT ...`).

The FreeSWITCH simulator costs about 2 ms of CPU per call, so on a small machine it cannot offer
the load the servers are measured at. Here one call of the benchmark's scenario has been played
by the real simulator against the server under test and its wire exchange recorded
(controller/lab/recording.py): the commands it received and every chunk it wrote, each tied to
the last command received before it and the delay after it. Replaying sends the same bytes
with a few substitutions of equal length (the call's own uuids fresh for each call, the
server's Event-UUIDs echoed back as Application-UUID), so every Content-Length stays right,
for a small fraction of the simulator's CPU: one OS thread, non-blocking sockets and epoll, no
gevent (its monkey patching removes `select.epoll`) and no greenlets.

The rule for each call: once its k-th command has arrived, the chunks recorded after command k
go out, each at its recorded delay after that command (a playback, a bridge's leg timeout, the
linger before FreeSWITCH's goodbye), in their recorded order. With `--inbound-fd`, a connection
of the server's watcher to FreeSWITCH's inbound event socket (handed down by the process that
accepted it), the frames recorded on it go out the same way, those FreeSWITCH sends once the
call's socket is closed (CHANNEL_DESTROY of the caller) when the replayed call ends. Each call must receive the same
commands (command line and application, uuids compared by their place) as the recording; a call
that diverges, times out, is refused or is closed early is a failure, and the first one is told.
The figures (as LoadResult's) come out as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import heapq
import json
import pickle
import re
import resource
import select
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from pathlib import Path
from typing import Any

from controller.lab.cpu import own_cpu_seconds
from controller.lab.feed import Feed

# A delay shorter than this is the simulator's own processing time, not a time of the scenario:
# the chunk goes out as soon as its command has arrived.
IMMEDIATE = 0.0005
CLOSED = 1 << 30  # the anchor of a watcher's frame sent once the call's socket is closed
UUID = re.compile(rb"(?<![0-9a-fA-F-])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?![0-9a-fA-F-])")
RECV_SIZE = 65536


class FramingError(ValueError):
    """A command that cannot be framed (a bad Content-Length)."""


@dataclasses.dataclass(frozen=True)
class Expected:
    """One command as the recording received it: its first line with each uuid written as its
    slot (`<3>`), its application (`execute-app-name`, or empty) and how many uuids of the
    server's own it carried for the first time (Event-UUIDs)."""

    line: bytes
    app: bytes
    learned: int


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Bytes the simulator wrote once command `anchor` had arrived (-1: on connect), `delay` s
    after it. `literals` and `slots` alternate: literal, uuid slot, literal... (one literal more
    than slots)."""

    anchor: int
    delay: float
    literals: tuple[bytes, ...]
    slots: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Script:
    """A recorded call, ready to replay. `uuids` are the recording's values of each slot: the
    first `generated` ones the simulator made up (the call's uuid...) and each replayed call gets
    fresh ones; the others the server sent (Event-UUIDs), learnt in order from each call's
    commands. `constants` are uuids the same in every recorded call (Core-UUID), kept as they
    are. `closes`: "freeswitch" (the simulator closed after its goodbye) or "server"."""

    commands: tuple[Expected, ...]
    chunks: tuple[Chunk, ...]
    uuids: tuple[bytes, ...]
    generated: int
    constants: frozenset[bytes]
    closes: str
    first_execute: int | None
    inbound: tuple[Chunk, ...] = ()  # the frames to the server's watcher (anchor CLOSED: at the end)

    def save(self, path: Path) -> None:
        """Plain values only: the file reads back whatever module name the reader runs under
        (`python -m` makes this one `__main__`)."""
        plain = {
            "commands": [(e.line, e.app, e.learned) for e in self.commands],
            "chunks": [(c.anchor, c.delay, c.literals, c.slots) for c in self.chunks],
            "uuids": self.uuids, "generated": self.generated, "constants": set(self.constants),
            "closes": self.closes, "first_execute": self.first_execute,
            "inbound": [(c.anchor, c.delay, c.literals, c.slots) for c in self.inbound],
        }
        path.write_bytes(pickle.dumps(plain, protocol=pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def load(path: Path) -> Script:
        plain = pickle.loads(path.read_bytes())  # a file `controller lab bench` wrote itself
        return Script(
            commands=tuple(Expected(*command) for command in plain["commands"]),
            chunks=tuple(Chunk(*chunk) for chunk in plain["chunks"]),
            uuids=tuple(plain["uuids"]), generated=plain["generated"], constants=frozenset(plain["constants"]),
            closes=plain["closes"], first_execute=plain["first_execute"],
            inbound=tuple(Chunk(*chunk) for chunk in plain.get("inbound", ())),
        )


# --- commands ------------------------------------------------------------------------------------


def take_commands(buffer: bytearray) -> list[bytes]:
    """The complete commands at the start of `buffer`, taken out of it (ESL command framing: a
    header block ends at a blank line, then Content-Length body bytes if that header is there,
    its name in any case as mod_event_socket reads it)."""
    commands = []
    start, size = 0, len(buffer)
    while True:
        while start < size and buffer[start] == 10:  # stray blank lines between commands
            start += 1
        end = buffer.find(b"\n\n", start)
        if end < 0:
            break
        stop = end + 2 + _content_length(bytes(buffer[start:end]))
        if stop > size:
            break
        commands.append(bytes(buffer[start:stop]))
        start = stop
    del buffer[:start]
    return commands


def _content_length(head: bytes) -> int:
    at = head.lower().find(b"\ncontent-length:")
    if at < 0:
        return 0
    end = head.find(b"\n", at + 1)
    text = head[at + 16 : end if end >= 0 else len(head)].strip()
    if not text.isdigit():
        raise FramingError(f"bad Content-Length {text[:40]!r}")
    return int(text)


def command_line(raw: bytes) -> bytes:
    return raw[: raw.find(b"\n")].strip()


def app_name(raw: bytes) -> bytes:
    """The `execute-app-name` of a sendmsg (empty for any other command)."""
    head = raw[: raw.find(b"\n\n")]
    at = head.lower().find(b"\nexecute-app-name:")
    if at < 0:
        return b""
    end = head.find(b"\n", at + 1)
    return head[at + 18 : end if end >= 0 else len(head)].strip()


def is_execute(raw: bytes) -> bool:
    head = raw[: raw.find(b"\n\n")].lower()
    return b"\ncall-command: execute" in head


def normalise(line: bytes, slots: dict[bytes, int]) -> bytes:
    """The line with each uuid written as its slot; a uuid without a slot (a constant) stays."""
    if b"-" not in line:
        return line
    return UUID.sub(lambda m: b"<%d>" % slots[m[0]] if m[0] in slots else m[0], line)


def describe(expected: Expected) -> str:
    app = f" {expected.app.decode(errors='replace')}" if expected.app else ""
    return f"{expected.line.decode(errors='replace')}{app}"


# --- one call ------------------------------------------------------------------------------------


class Call:
    """One replayed call: its socket, what it has received and sent so far, its times."""

    __slots__ = (
        "arrivals", "buffer", "connected_at", "deadline", "first_execute_at", "inbound_due", "index", "learned",
        "next_chunk", "next_inbound", "out", "slots", "sock", "timer_due", "values", "writable",
    )

    def __init__(self, index: int, sock: socket.socket, script: Script, now: float, timeout: float) -> None:
        self.index = index
        self.sock = sock
        self.deadline = now + timeout
        self.connected_at = 0.0
        self.first_execute_at = 0.0
        self.buffer = bytearray()
        self.arrivals: list[float] = []
        fresh = [str(uuid.uuid4()).encode() for _ in range(script.generated)]
        self.values: list[bytes] = fresh + [b""] * (len(script.uuids) - script.generated)
        self.slots: dict[bytes, int] = {value: slot for slot, value in enumerate(fresh)}
        self.learned = 0
        self.next_chunk = 0
        self.next_inbound = 0
        self.out = b""
        self.writable = False  # registered for EPOLLOUT (connecting, or output waiting)
        self.timer_due = 0.0
        self.inbound_due = 0.0

    def chunk_bytes(self, chunk: Chunk) -> bytes:
        if not chunk.slots:
            return chunk.literals[0]
        values = self.values
        pieces: list[bytes] = [b""] * (2 * len(chunk.slots) + 1)
        pieces[::2] = chunk.literals
        pieces[1::2] = [values[slot] for slot in chunk.slots]
        return b"".join(pieces)


class DivergedError(Exception):
    """The call received something else than the recording did."""


@dataclasses.dataclass
class Outcome:
    """The run's figures, as LoadResult gives them for the simulator (JSON on stdout)."""

    offered_rate: float
    calls: int
    completed: int = 0
    failures: int = 0
    failure_kinds: Counter[str] = dataclasses.field(default_factory=Counter)
    first_failure: str = ""
    elapsed: float = 0.0
    peak_concurrent: int = 0
    setup_latencies: list[float] = dataclasses.field(default_factory=list)
    cpu_seconds: float = 0.0
    call_uuids: list[str] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["failure_kinds"] = dict(self.failure_kinds)
        return data


class Replayer:
    """Plays `calls` copies of the script against `address`, one every 1/rate s."""

    def __init__(
        self, script: Script, address: tuple[str, int], timeout: float = 30.0, watcher: int | None = None
    ) -> None:
        if not script.commands:
            raise ValueError("the recorded call received no command")
        self.script = script
        self.address = address
        self.timeout = timeout
        self.poll = select.epoll()
        # the server's watcher connection (a descriptor handed down), when the script has frames for it
        self.feed = Feed(watcher, self.poll) if watcher is not None and script.inbound else None
        self.live: dict[int, Call] = {}
        self.timers: list[tuple[float, int, Call]] = []
        self.deadlines: deque[Call] = deque()
        self.outcome = Outcome(0.0, 0)
        self.first_start = 0.0
        self.last_end = 0.0

    def run(self, calls: int, rate: float) -> Outcome:
        self.outcome = outcome = Outcome(rate, calls)
        cpu = own_cpu_seconds()
        started = time.monotonic()
        self.first_start = started
        placed = 0
        try:
            while placed < calls or self.live:
                now = time.monotonic()
                while placed < calls and started + placed / rate <= now:
                    self._start(placed, now)
                    placed += 1
                outcome.peak_concurrent = max(outcome.peak_concurrent, len(self.live))
                self._fire_timers(now)
                self._expire(now)
                wake = [self.deadlines[0].deadline] if self.deadlines else []
                if placed < calls:
                    wake.append(started + placed / rate)
                if self.timers:
                    wake.append(self.timers[0][0])
                wait = max(0.0, min(wake) - time.monotonic()) if wake else 1.0
                for fd, mask in self.poll.poll(wait):
                    call = self.live.get(fd)
                    if call is not None:
                        self._ready(call, mask)
                    elif self.feed is not None and fd == self.feed.fileno:
                        self.feed.writable()
        finally:
            for call in list(self.live.values()):
                self._close(call)
            if self.feed is not None:
                self.feed.finish(timeout=10.0)
            self.poll.close()
        outcome.cpu_seconds = own_cpu_seconds() - cpu
        outcome.elapsed = self.last_end - self.first_start if outcome.completed else 0.0
        outcome.setup_latencies.sort()
        return outcome

    # --- connecting ---------------------------------------------------------------------------

    def _start(self, index: int, now: float) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as mod_event_socket does
        call = Call(index, sock, self.script, now, self.timeout)
        error = sock.connect_ex(self.address)
        if error not in (0, errno.EINPROGRESS):
            sock.close()
            self._fail(call, "refused", f"call {index}: connect: {errno.errorcode.get(error, error)}", close=False)
            return
        self.live[sock.fileno()] = call
        self.deadlines.append(call)
        if error == 0:
            self.poll.register(sock.fileno(), select.EPOLLIN)
            self._connected(call, now)
        else:
            call.writable = True
            self.poll.register(sock.fileno(), select.EPOLLOUT)

    def _connected(self, call: Call, now: float) -> None:
        call.connected_at = now
        self._pump(call, now)

    # --- events -------------------------------------------------------------------------------

    def _ready(self, call: Call, mask: int) -> None:
        now = time.monotonic()
        if not call.connected_at:
            error = call.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                self._fail(call, "refused", f"call {call.index}: connect: {errno.errorcode.get(error, error)}")
                return
            call.writable = False
            self.poll.modify(call.sock.fileno(), select.EPOLLIN)
            self._connected(call, now)
            return
        if mask & select.EPOLLOUT and call.out:
            self._write(call, b"")
            if call.sock.fileno() < 0:
                return
        if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            self._read(call, now)

    def _read(self, call: Call, now: float) -> None:
        try:
            data = call.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._server_closed(call, now)
            return
        call.buffer += data
        try:
            for raw in take_commands(call.buffer):
                self._command(call, raw, now)
        except (DivergedError, FramingError) as exc:
            self._fail(call, "diverged", f"call {call.index}: {exc}")
            return
        self._pump(call, now)

    def _command(self, call: Call, raw: bytes, now: float) -> None:
        script = self.script
        index = len(call.arrivals)
        if index >= len(script.commands):
            raise DivergedError(f"command {index}: {command_line(raw)!r} after the {len(script.commands)} recorded")
        learned = 0
        for found in UUID.findall(raw):
            if found not in call.slots and found not in script.constants:
                slot = script.generated + call.learned
                if slot >= len(script.uuids):
                    raise DivergedError(f"command {index}: more uuids from the server than recorded")
                call.slots[found] = slot
                call.values[slot] = found
                call.learned += 1
                learned += 1
        expected = script.commands[index]
        line, app = normalise(command_line(raw), call.slots), app_name(raw)
        if line != expected.line or app != expected.app or learned != expected.learned:
            got = f"{line.decode(errors='replace')}{' ' + app.decode(errors='replace') if app else ''}"
            raise DivergedError(f"command {index}: expected {describe(expected)!r}, got {got!r}")
        call.arrivals.append(now)
        if index == script.first_execute:
            call.first_execute_at = now

    def _server_closed(self, call: Call, now: float) -> None:
        received, recorded = len(call.arrivals), len(self.script.commands)
        if self.script.closes == "server" and received == recorded:
            self._complete(call, now)
        else:
            why = f"call {call.index}: the server closed after {received} of {recorded} commands"
            self._fail(call, "closed early", why)

    # --- sending ------------------------------------------------------------------------------

    def _pump(self, call: Call, now: float) -> None:
        """Send what is due: the chunks whose command has arrived and whose delay is over, in
        order; the first one not yet due waits on a timer."""
        chunks = self.script.chunks
        arrived = len(call.arrivals)
        batch = []
        while call.next_chunk < len(chunks):
            chunk = chunks[call.next_chunk]
            if chunk.anchor >= arrived:
                break
            if chunk.delay >= IMMEDIATE:
                due = (call.arrivals[chunk.anchor] if chunk.anchor >= 0 else call.connected_at) + chunk.delay
                if due > now:
                    if call.timer_due != due:
                        call.timer_due = due
                        heapq.heappush(self.timers, (due, call.index, call))
                    break
            batch.append(call.chunk_bytes(chunk))
            call.next_chunk += 1
        if batch:
            self._write(call, b"".join(batch))
        if self.feed is not None:
            self._feed(call, now)
        if (
            call.next_chunk == len(chunks) and not call.out and self.script.closes == "freeswitch"
            and call.sock.fileno() >= 0
        ):
            self._goodbye(call, now)

    def _feed(self, call: Call, now: float, everything: bool = False) -> None:
        """The frames for the watcher that are due (all that are left, `everything`, when the
        call has ended: FreeSWITCH destroys the channel once its socket is closed)."""
        assert self.feed is not None
        chunks = self.script.inbound
        arrived = len(call.arrivals)
        batch = []
        while call.next_inbound < len(chunks):
            chunk = chunks[call.next_inbound]
            if not everything:
                if chunk.anchor >= arrived:
                    break
                due = (call.arrivals[chunk.anchor] if chunk.anchor >= 0 else call.connected_at) + chunk.delay
                if chunk.delay >= IMMEDIATE and due > now:
                    if call.inbound_due != due:
                        call.inbound_due = due
                        heapq.heappush(self.timers, (due, call.index, call))
                    break
            batch.append(call.chunk_bytes(chunk))
            call.next_inbound += 1
        if batch:
            self.feed.write(b"".join(batch))

    def _write(self, call: Call, data: bytes) -> None:
        data = call.out + data if call.out else data
        try:
            sent = call.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:  # the server is gone
            self._server_closed(call, time.monotonic())
            return
        call.out = data[sent:]
        if call.out and not call.writable:
            call.writable = True
            self.poll.modify(call.sock.fileno(), select.EPOLLIN | select.EPOLLOUT)
        elif not call.out and call.writable:
            call.writable = False
            self.poll.modify(call.sock.fileno(), select.EPOLLIN)
            if call.next_chunk == len(self.script.chunks) and self.script.closes == "freeswitch":
                self._goodbye(call, time.monotonic())

    def _goodbye(self, call: Call, now: float) -> None:
        """The recording closed after its last chunk: so does the replay, once every command
        the recording received has come."""
        received, recorded = len(call.arrivals), len(self.script.commands)
        if received == recorded:
            self._complete(call, now)
        else:
            self._fail(call, "diverged", f"call {call.index}: {received} of {recorded} commands before the goodbye")

    def _fire_timers(self, now: float) -> None:
        timers = self.timers
        while timers and timers[0][0] <= now:
            due, _, call = heapq.heappop(timers)
            if due in (call.timer_due, call.inbound_due) and call.sock.fileno() >= 0:
                if call.timer_due == due:
                    call.timer_due = 0.0
                if call.inbound_due == due:
                    call.inbound_due = 0.0
                self._pump(call, now)

    def _expire(self, now: float) -> None:
        deadlines = self.deadlines
        while deadlines and (deadlines[0].deadline <= now or deadlines[0].sock.fileno() < 0):
            call = deadlines.popleft()
            if call.sock.fileno() >= 0:
                where = (
                    f"after {len(call.arrivals)} of {len(self.script.commands)} commands"
                    if call.connected_at else "still connecting"
                )
                self._fail(call, "timeout", f"call {call.index}: timed out {where} ({self.timeout:g} s)")

    # --- the end ------------------------------------------------------------------------------

    def _complete(self, call: Call, now: float) -> None:
        outcome = self.outcome
        outcome.completed += 1
        if call.first_execute_at:
            outcome.setup_latencies.append(call.first_execute_at - call.connected_at)
        if self.script.generated:
            outcome.call_uuids.append(call.values[0].decode())
        self.last_end = max(self.last_end, now)
        if self.feed is not None:
            self._feed(call, now, everything=True)
        self._close(call)

    def _fail(self, call: Call, kind: str, why: str, close: bool = True) -> None:
        outcome = self.outcome
        outcome.failures += 1
        outcome.failure_kinds[kind] += 1
        if not outcome.first_failure:
            outcome.first_failure = why
            print(f"replay: first failure: {why}", file=sys.stderr)
        if close:
            self._close(call)

    def _close(self, call: Call) -> None:
        fd = call.sock.fileno()
        if fd < 0:
            return
        self.live.pop(fd, None)
        call.sock.close()  # (which takes it out of the epoll set: one system call less per call)


def _raise_file_limit() -> None:
    """A socket per call in progress: thousands at a time."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_process(
    script: Path, address: tuple[str, int], calls: int, rate: float, timeout: float = 30.0, *,
    watcher: int | None = None,
) -> dict[str, Any]:
    """Replay in a process of its own (this module's command line) and return its figures (the
    JSON of Outcome); `watcher`: the descriptor of the server's watcher connection, handed down.
    From a gevent process, the wait is cooperative (subprocess is patched)."""
    argv = [
        sys.executable, "-m", "controller.lab.replay", "--script", str(script), "--address",
        f"{address[0]}:{address[1]}", "--calls", str(calls), "--rate", str(rate), "--timeout", str(timeout),
    ]
    if watcher is not None:
        argv += ["--inbound-fd", str(watcher)]
    done = subprocess.run(argv, capture_output=True, check=False, pass_fds=() if watcher is None else (watcher,))
    if done.returncode != 0:
        raise RuntimeError(f"the replay failed: {done.stderr.decode(errors='replace').strip()}")
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", type=Path, required=True, help="the recorded call (controller/lab/recording.py)")
    parser.add_argument("--address", type=parse_address, required=True, help="HOST:PORT of the ESL server")
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="calls started per second")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a call may last")
    parser.add_argument("--output", type=Path, help="write the JSON figures here (default: stdout)")
    parser.add_argument("--inbound-fd", type=int, help="a connected descriptor: the server's watcher on the "
                        "inbound event socket, for the script's frames to it")
    args = parser.parse_args(argv)
    _raise_file_limit()
    replayer = Replayer(Script.load(args.script), args.address, args.timeout, watcher=args.inbound_fd)
    outcome = replayer.run(args.calls, args.rate)
    text = json.dumps(outcome.as_json())
    if args.output:
        args.output.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
