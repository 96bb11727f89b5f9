"""The outbound ESL server: FreeSWITCH's `socket <host:port> async full` connects here, one
connection (and one handler greenlet) per call.

gevent's StreamServer accepts as soon as a connection arrives (greenswitch's own server polls its
listening socket every 100 ms). Peers outside the allow-list are closed at once. Past the
concurrent-call cap a call is given back to FreeSWITCH (`connect`, `resume`, close: see
`refuse`), so the dialplan continues with its next action and the call is not left hanging.
On stop (SIGTERM) the server stops accepting and lets calls in progress finish up to a deadline.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
from collections.abc import Callable
from typing import Any

import gevent
from gevent import socket as gsocket
from gevent.event import Event
from gevent.server import StreamServer
from greenlet import getcurrent, greenlet

from controller.config import Settings

log = logging.getLogger(__name__)

Handler = Callable[[gsocket.socket, tuple[Any, ...]], None]
GC_THRESHOLDS = (2_000, 50, 100)  # Python's defaults: 700, 10, 10


def settle_garbage_collector() -> None:
    """Call once start-up is done, in a process that serves calls. What start-up built (modules,
    schemas, settings) lives as long as the process: frozen out of the garbage collector's full
    collections, which then only walk the calls in progress. A finished call leaves no reference
    cycle (tests/test_call_garbage.py), so collections find little: they run less often than by
    default, full ones rarely (with 3,000 calls in progress a full collection takes 100-300 ms,
    the setup-latency tail under overload)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class OutboundServer:
    """Accepts FreeSWITCH's connections and runs `handler(sock, address)` for each call."""

    def __init__(
        self, settings: Settings, handler: Handler, backlog: int = 4096, on_refused: Callable[[], None] | None = None
    ) -> None:
        self._settings = settings
        self._handler = handler
        self._on_refused = on_refused
        # The calls in progress, each in a raw greenlet (a pool's Greenlet costs more than the
        # few facts kept here: how many, and which to end when the drain deadline passes).
        self._calls: set[greenlet] = set()
        self._idle = Event()
        self._idle.set()
        self._server = StreamServer(
            (settings.esl_listen.host, settings.esl_listen.port),
            self._accept,
            spawn=self._spawn,
            backlog=backlog,
        )
        self.refused = 0
        self._allowed: dict[str, bool] = {}

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return str(host), int(port)

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    def start(self) -> None:
        self._server.start()
        log.info("outbound ESL server listening on %s:%s", *self.address)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self, drain_seconds: float | None = None) -> None:
        """Stop accepting; wait for calls in progress up to the deadline, then close them."""
        deadline = self._settings.drain_seconds if drain_seconds is None else drain_seconds
        self._server.close()
        log.info("draining %d calls (up to %.0f s)", len(self._calls), deadline)
        if not self._idle.wait(timeout=deadline):
            log.warning("killing %d calls still up after %.0f s", len(self._calls), deadline)
            for call in list(self._calls):
                gevent.kill(call)
            self._idle.wait(timeout=5)

    def _spawn(self, func: Callable[..., Any], *args: Any) -> None:
        """gevent's server calls this as spawn(_handle_and_close_when_done, handle, close,
        (socket, address)): past the cap, the socket is given back to FreeSWITCH instead."""
        if len(self._calls) >= self._settings.max_calls:
            sock = args[-1][0]
            self.refused += 1
            if self._on_refused is not None:
                self._on_refused()
            log.warning("refusing a call: %d calls in progress", len(self._calls))
            gevent.spawn_raw(refuse, sock)
            return
        self._calls.add(gevent.spawn_raw(self._run, func, args))
        self._idle.clear()

    def _run(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            func(*args)
        finally:
            self._calls.discard(getcurrent())
            if not self._calls:
                self._idle.set()

    def _accept(self, sock: gsocket.socket, address: tuple[Any, ...]) -> None:
        if not self._is_allowed(address[0]):
            log.warning("refusing ESL connection from %s: not in the allow-list", address[0])
            sock.close()
            return
        self._handler(sock, address)

    def _is_allowed(self, host: str) -> bool:
        """Whether a peer is in the allow-list; the answer for each address is kept (the few
        FreeSWITCH hosts connect over and over)."""
        allowed = self._allowed.get(host)
        if allowed is None:
            allowed = self._check_allowed(host)
            if len(self._allowed) >= 4096:
                self._allowed.clear()
            self._allowed[host] = allowed
        return allowed

    def _check_allowed(self, host: str) -> bool:
        try:
            peer = ipaddress.ip_address(host.split("%", maxsplit=1)[0])
        except ValueError:
            return False
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
            peer = peer.ipv4_mapped
        return any(peer in network for network in self._settings.esl_allow)


REFUSAL = b"connect\n\nresume\n\n"
REFUSAL_WAIT = 2.0


def refuse(sock: gsocket.socket) -> None:
    """Give a call back to FreeSWITCH's dialplan: `connect` (in async mode the `socket`
    application waits for it as long as the channel is up: a socket closed without it leaves the
    caller hanging), `resume` (the dialplan goes on with its next action once the socket closes),
    then close after both replies (or `REFUSAL_WAIT` s)."""
    try:
        sock.settimeout(REFUSAL_WAIT)
        sock.sendall(REFUSAL)
        seen = b""
        while seen.count(b"Content-Type: command/reply") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            seen = seen[-64:] + chunk
    except OSError as exc:
        log.info("refused call: %s", exc)
    finally:
        sock.close()
