"""FreeSWITCH's inbound event socket (the 8021 side) for simulated calls: `auth/request`,
`auth <password>` -> `+OK accepted`, `event plain ...` -> `+OK event listener enabled plain`, then
the subscribed events of every simulated call that publishes here — CHANNEL_BRIDGE while bridged,
and CHANNEL_DESTROY once the call's outbound socket has closed (as the inbound captures show)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from gevent import socket as gsocket
from gevent.server import StreamServer

from controller.lab import render

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall


class InboundServer:
    """One simulated FreeSWITCH's inbound ESL port."""

    def __init__(self, password: str = "ClueCon") -> None:
        self.password = password
        self._subscribers: dict[gsocket.socket, set[str]] = {}
        self._server = StreamServer(("127.0.0.1", 0), self._handle)

    @property
    def address(self) -> tuple[str, int]:
        return str(self._server.address[0]), int(self._server.address[1])

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        for sock in list(self._subscribers):
            sock.close()
        self._server.stop(timeout=1)

    def publish(self, call: SimulatedCall, event: str, **overrides: str) -> None:
        """Send one of the call's events to every connection subscribed to it."""
        lines = dict(call.value_lines)
        lines.update(render.now_lines())
        for key, value in overrides.items():
            name = key.replace("_", "-")
            lines[name] = render.line(name, value)
        frame = render.event_frame(event, lines, call.variables_block())
        for sock, events in list(self._subscribers.items()):
            if event in events or "ALL" in events:
                try:
                    sock.sendall(frame)
                except OSError:
                    self._subscribers.pop(sock, None)

    def _handle(self, sock: gsocket.socket, address: Any) -> None:
        sock.sendall(b"Content-Type: auth/request\n\n")
        buffer = b""
        try:
            while data := sock.recv(65536):
                buffer += data
                while (end := buffer.find(b"\n\n")) >= 0:
                    command, buffer = buffer[:end].decode().strip(), buffer[end + 2 :]
                    if not self._command(sock, command):
                        return
        except OSError:
            pass
        finally:
            self._subscribers.pop(sock, None)
            with contextlib.suppress(OSError):
                sock.close()

    def _command(self, sock: gsocket.socket, command: str) -> bool:
        verb, _, rest = command.partition(" ")
        if verb == "auth":
            if rest != self.password:
                sock.sendall(render.reply("-ERR invalid"))
                return False
            sock.sendall(render.reply("+OK accepted"))
        elif verb == "event":
            self._subscribers[sock] = set(rest.split()[1:])
            sock.sendall(render.reply("+OK event listener enabled plain"))
        elif verb == "exit":
            sock.sendall(render.reply("+OK bye"))
            return False
        else:
            sock.sendall(render.reply("-ERR command not found"))
        return True
