"""FreeSWITCH's inbound event socket (the 8021 side) for simulated calls, as the `*.inbound.txt`
captures show it: `auth/request` on connect, `auth <password>` -> `+OK accepted` (else
`-ERR invalid` and the close), `event plain NAME ...` (or `ALL`) -> `+OK event listener enabled
plain` (`nixevent`, `noevents` and `filter` as on the outbound socket: subscriptions.py), then
every subscribed event that passes the connection's filters, of every simulated call that
relays here: both legs of a bridge, CHANNEL_CREATE first and CHANNEL_DESTROY once the call's
outbound socket has closed (FreeSWITCH destroys the session only then; the a-leg's destroy is
seen only here). `api global_getvar core_uuid` and `api uuid_exists UUID` answer from the
channels relayed here; `api uuid_transfer UUID TARGET [DIALPLAN] [CONTEXT]` moves a call running
here to TARGET (SimulatedCall.transfer: the same channel connects to the controller again).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from gevent import socket as gsocket
from gevent.lock import Semaphore
from gevent.server import StreamServer

from controller.esl import wire
from controller.lab import render
from controller.lab.subscriptions import Filters, Lookup, Subscriptions, frame_lookup

TRANSFER_USAGE = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"  # mod_commands


class Transferable(Protocol):
    """A call this FreeSWITCH runs that `uuid_transfer` can move (simulator.SimulatedCall)."""

    def transfer(self, target: str, dialplan: str = "", context: str = "") -> str: ...


class _Subscriber:
    """One inbound connection: what it subscribed to, and a lock so frames never interleave."""

    def __init__(self, sock: gsocket.socket) -> None:
        self.sock = sock
        self.events = Subscriptions()
        self.filters = Filters()
        self.authenticated = False
        self.lock = Semaphore()

    def wants(self, event: str, lookup: Callable[[], Lookup]) -> bool:
        return self.events.wants(event) and (not self.filters or self.filters.passes(lookup()))

    def send(self, data: bytes) -> bool:
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                return False
        return True


class InboundServer:
    """One simulated FreeSWITCH's inbound ESL port (listening on 127.0.0.1, port 0)."""

    def __init__(self, password: str = "ClueCon") -> None:
        self.password = password
        self._subscribers: list[_Subscriber] = []
        self._server = StreamServer(("127.0.0.1", 0), self._handle)
        self.channels: set[str] = set()  # the uuids of the channels up now
        self.calls: dict[str, Transferable] = {}  # the calls connected to a controller now, by uuid
        self.on_send: Callable[[bytes], None] | None = None  # told each event frame sent (a recorder)
        self.core_uuid = dict(render.connect_headers())["Core-UUID"]  # what every simulated call carries
        # More API commands, by name: the arguments -> the answer (valet_info, conference, ...).
        self.apis: dict[str, Callable[[list[str]], str]] = {}

    @property
    def address(self) -> tuple[str, int]:
        return str(self._server.address[0]), int(self._server.address[1])

    @property
    def subscribers(self) -> int:
        """Connections that authenticated and subscribed to something."""
        return sum(1 for s in self._subscribers if s.events)

    def subscriber_fds(self) -> list[int]:
        """The file descriptors of those connections: another process may write events to them
        (the benchmark's replay), as long as this one relays none meanwhile."""
        return [s.sock.fileno() for s in self._subscribers if s.events]

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.sock.close()
        self._server.stop(timeout=1)

    def relay(self, event: str, frame: bytes, uuid: str = "") -> None:
        """Send one event frame (already rendered) of channel `uuid` to every connection
        subscribed to it; the channels this FreeSWITCH holds follow CREATE and DESTROY."""
        if event == "CHANNEL_CREATE" and uuid:
            self.channels.add(uuid)
        elif event == "CHANNEL_DESTROY":
            self.channels.discard(uuid)
        parsed: list[Lookup] = []

        def lookup() -> Lookup:  # the frame parsed once, for the connections that filter
            if not parsed:
                parsed.append(frame_lookup(frame))
            return parsed[0]

        for subscriber in list(self._subscribers):
            if not subscriber.wants(event, lookup):
                continue
            if not subscriber.send(frame):
                self._drop(subscriber)
            elif self.on_send is not None:
                self.on_send(frame)

    def _drop(self, subscriber: _Subscriber) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(subscriber)

    def _handle(self, sock: gsocket.socket, address: Any) -> None:
        subscriber = _Subscriber(sock)
        self._subscribers.append(subscriber)
        try:
            subscriber.send(b"Content-Type: auth/request\n\n")
            for command in wire.CommandReader(sock):
                if not self._command(subscriber, command):
                    return
        except (OSError, wire.FrameError):
            pass
        finally:
            self._drop(subscriber)
            with contextlib.suppress(OSError):
                sock.close()

    def _api(self, command: str) -> str:
        """The API commands a watcher asks: `global_getvar core_uuid` and `uuid_exists UUID`
        (mod_commands answers `true` / `false`); anything else is refused as FreeSWITCH does."""
        words = command.split()
        if words == ["global_getvar", "core_uuid"]:
            return self.core_uuid
        if len(words) == 2 and words[0] == "uuid_exists":
            return "true" if words[1] in self.channels else "false"
        if words and words[0] == "uuid_transfer":
            return self._transfer(words[1:])
        if words and words[0] in self.apis:
            return self.apis[words[0]](words[1:])
        return f"-ERR {words[0] if words else ''} Command not found!\n"

    def _transfer(self, args: list[str]) -> str:
        """`uuid_transfer <uuid> <target> [<dialplan>] [<context>]`, as mod_commands answers it:
        `+OK`, `-ERR No such channel!` for a channel this FreeSWITCH does not run, the usage for
        too few or too many words. Moving the other leg (`-bleg`, `-both`) is not simulated."""
        if not 2 <= len(args) <= 5:
            return TRANSFER_USAGE
        if args[1] in ("-bleg", "-both"):
            return "-ERR the simulator transfers the named channel only (no -bleg, -both)\n"
        call = self.calls.get(args[0])
        if call is None:
            return "-ERR No such channel!\n"
        dialplan, context = [*args[2:4], "", ""][:2]
        return call.transfer(args[1], dialplan, context)

    def _command(self, subscriber: _Subscriber, command: wire.Command) -> bool:
        """Answer one command; False ends the connection."""
        name = command.name.lower()
        if not subscriber.authenticated:
            ok = name == "auth" and command.arg == self.password
            subscriber.authenticated = ok
            subscriber.send(render.reply("+OK accepted" if ok else "-ERR invalid"))
            return ok
        if name == "event" and command.arg.split()[:1] == ["plain"]:
            subscriber.events.add(command.arg.split()[1:] or ["ALL"])
            subscriber.send(render.reply("+OK event listener enabled plain"))
        elif name == "noevents":
            subscriber.events.clear()
            subscriber.send(render.reply("+OK no longer listening for events"))
        elif name == "nixevent":
            subscriber.events.nix(command.arg.split())
            subscriber.send(render.reply("+OK events nixed" if command.arg.split() else "-ERR no keywords supplied"))
        elif name == "filter":
            subscriber.send(render.reply(subscriber.filters.command(command.arg)))
        elif name == "api":
            subscriber.send(render.api_response(self._api(command.arg)))
        elif name == "exit":
            subscriber.send(render.reply("+OK bye"))
            return False
        else:
            subscriber.send(render.reply("-ERR command not found"))
        return True
