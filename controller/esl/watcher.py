"""The inbound ESL watcher: one connection to each configured FreeSWITCH, subscribed to
CHANNEL_BRIDGE and CHANNEL_DESTROY of the inbound channels (the calls the dialplan hands over).

CHANNEL_DESTROY never reaches the outbound socket (FreeSWITCH destroys the session after that
socket closes), so this is the only place it is seen. It matters when the process that handled a
call died: the call's state is in Redis (controller/callstate.py); a destroy for a call still
there after a grace period means nobody ran its termination handlers, so the watcher claims the
call and runs them — exactly once, whichever controller sharing the Redis gets there first.
A CHANNEL_BRIDGE updates the stored flag (the dead process would have missed it).
The connection is re-established with backoff when FreeSWITCH restarts; on every connection the
stored calls of that FreeSWITCH that it no longer has (`uuid_exists`) are completed, so that a
controller restarted after a crash alerts the calls that ended meanwhile (Kazoo's ecallmgr asks
FreeSWITCH again after a node reconnects, rather than trusting memory).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping

import gevent
from gevent import socket as gsocket

from controller.call import Call
from controller.config import EslEndpoint
from controller.errors import ESLProtocolError
from controller.esl import wire
from controller.esl.fairness import Turns
from controller.esl.localcalls import LocalCalls
from controller.flow import TerminationHandler
from controller.services import Services
from controller.store.cdrs import CdrWriter, record
from controller.store.connection import UNAVAILABLE

log = logging.getLogger(__name__)

GRACE_SECONDS = 3.0
ORPHAN_TRIES = 16  # 0.5 s doubling to a minute: about ten minutes in all
# What ends a watching session (it reconnects): the connection, the stream, or Redis away.
BROKEN: tuple[type[Exception], ...] = (OSError, ESLProtocolError, ConnectionError, *UNAVAILABLE)
EVENTS = "event plain CHANNEL_BRIDGE CHANNEL_DESTROY"
# Only the channels that came in (Call-Direction inbound: a carrier's or a phone's call, the
# leg the dialplan hands to the outbound socket): the legs FreeSWITCH places for a bridge are
# outbound, and a ring group of five phones would otherwise send five more destroys per call,
# each with every channel variable. The captures (esl-traces/*.inbound) show the caller's
# CHANNEL_BRIDGE and CHANNEL_DESTROY inbound and the callee's CHANNEL_DESTROY outbound.
FILTER = "filter Call-Direction inbound"


class Api:
    """`api` commands on the watcher's connection, before its event loop: the events that come
    in between are kept, in order, for the loop."""

    def __init__(self, sock: gsocket.socket, frames: Iterator[wire.Frame], early: list[wire.Frame]) -> None:
        self.sock, self.frames, self.early = sock, frames, early

    def __call__(self, command: str) -> str:
        self.sock.sendall(wire.command("api " + command))
        for frame in self.frames:
            if frame.content_type == "api/response":
                return frame.body.decode("utf-8", "replace")
            self.early.append(frame)
        raise ConnectionError("connection closed")


class Watcher:
    """Keeps an inbound connection to each FreeSWITCH and completes orphaned calls."""

    def __init__(
        self,
        endpoints: tuple[EslEndpoint, ...],
        services: Services,
        handlers: Mapping[str, TerminationHandler],
        grace: float = GRACE_SECONDS,
        local: LocalCalls | None = None,
        *,
        cdrs: CdrWriter | None = None,
    ) -> None:
        self.local = local  # the calls this process's outbound server took: completed there
        self.cdrs = cdrs  # the records of the calls completed here (their own process is gone)
        self.endpoints = endpoints
        self.services = services
        self.handlers = handlers
        self.grace = grace
        self.connected: dict[str, bool] = {str(e): False for e in endpoints}
        self._greenlets: list[gevent.Greenlet] = []

    def start(self) -> None:
        self._greenlets = [gevent.spawn(self._keep_connected, endpoint) for endpoint in self.endpoints]

    def stop(self) -> None:
        gevent.killall(self._greenlets, timeout=2)

    def _keep_connected(self, endpoint: EslEndpoint) -> None:
        delay = 0.5
        while True:
            try:
                self._session(endpoint)
            except BROKEN as exc:
                # Redis away counts too: what this connection would have seen meanwhile is
                # reconciled when it is back (a watcher cannot record a bridge or claim a call
                # without Redis anyway).
                if self.connected[str(endpoint)]:
                    delay = 0.5  # it was watching: a new failure, not the same one again
                log.warning("FreeSWITCH %s: %s; reconnecting in %.1f s", endpoint, exc, delay)
            self.connected[str(endpoint)] = False
            gevent.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _session(self, endpoint: EslEndpoint) -> None:
        sock = gsocket.create_connection((endpoint.host, endpoint.port), timeout=10)
        sock.settimeout(None)
        try:
            # all of FreeSWITCH's channels come here: it yields now and then, but is no flood
            frames = iter(wire.FrameReader(sock, on_fill=Turns(flood_frames=None).received))
            self._expect(frames, "auth/request")
            sock.sendall(wire.command(f"auth {endpoint.password}"))
            self._expect_ok(frames, "auth")
            sock.sendall(wire.command(EVENTS) + wire.command(FILTER))
            self._expect_ok(frames, "event")
            self._expect_ok(frames, "filter")
            self.connected[str(endpoint)] = True
            log.info("FreeSWITCH %s: watching CHANNEL_BRIDGE and CHANNEL_DESTROY", endpoint)
            early: list[wire.Frame] = []
            self._reconcile(endpoint, Api(sock, frames, early))
            for frame in itertools.chain(early, frames):
                if frame.content_type == "text/event-plain":
                    self.on_event(wire.parse_event(frame))
            raise ConnectionError("connection closed")
        finally:
            sock.close()

    @staticmethod
    def _expect(frames: Iterator[wire.Frame], content_type: str) -> wire.Frame:
        frame = next(frames, None)
        if frame is None or frame.content_type != content_type:
            raise ConnectionError(f"expected {content_type}")
        return frame

    def _expect_ok(self, frames: Iterator[wire.Frame], what: str) -> None:
        reply = self._expect(frames, "command/reply").headers.get("Reply-Text", "")
        if not reply.startswith("+OK"):
            raise ConnectionError(f"{what} refused: {reply}")

    def _reconcile(self, endpoint: EslEndpoint, api: Api) -> int:
        """Reconcile, do not remember: every stored call of this FreeSWITCH (its Core-UUID) that
        FreeSWITCH no longer has ended while nobody watched (its controller was killed, or this
        connection was down when its CHANNEL_DESTROY went by): run its handlers now, exactly once
        (the claim). Returns how many calls were completed."""
        core = api("global_getvar core_uuid").strip()
        if not core or core.startswith("-ERR"):
            log.warning("FreeSWITCH %s: no core_uuid (%r); its stored calls are not reconciled", endpoint, core)
            return 0
        ended = [snapshot["uuid"] for snapshot in self.services.calls.stored()
                 if (snapshot.get("data") or {}).get("Core-UUID") == core
                 and api(f"uuid_exists {snapshot['uuid']}").strip() == "false"]
        completed = sum(self.complete_orphan(uuid) for uuid in ended)
        if ended:
            log.info("FreeSWITCH %s: %d stored call(s) ended meanwhile, %d completed here", endpoint, len(ended),
                     completed)
        return completed

    def on_event(self, event: Mapping[str, str]) -> None:
        uuid = event.get("Unique-ID", "")
        name = getattr(event, "name", "") or event.get("Event-Name", "")
        if not uuid:
            return
        if name == "CHANNEL_BRIDGE":
            self.services.calls.mark_bridged(uuid)
        elif name == "CHANNEL_DESTROY":
            if self.local is not None and self.local.pop(uuid):
                return
            gevent.spawn_later(self.grace, self.complete_orphan, uuid, event)

    def complete_orphan(self, uuid: str, destroy: Mapping[str, str] | None = None) -> bool:
        """Run the handlers of a call nobody finished, with what its CHANNEL_DESTROY tells of its
        end; True when this process ran them. While Redis is away it tries again, backing off,
        for about ten minutes (then the next reconciliation has it)."""
        delay = 0.5
        for _ in range(ORPHAN_TRIES):
            try:
                return self._complete(uuid, destroy)
            except UNAVAILABLE as exc:
                log.info("call %s: cannot be completed yet, Redis unavailable (%s); again in %.0f s", uuid, exc, delay)
                gevent.sleep(delay)
                delay = min(delay * 2, 60.0)
        log.error("call %s: not completed, Redis still unavailable; the next reconciliation will", uuid)
        return False

    def _complete(self, uuid: str, destroy: Mapping[str, str] | None) -> bool:
        snapshot = self.services.calls.load(uuid)
        if snapshot is None:
            return False
        call = Call.from_snapshot(snapshot, self.services, self.handlers)
        if destroy is not None:
            call.apply_destroy(destroy)
        ran = call.run_termination()
        if ran:
            log.info("call %s: completed after its controller was gone (%d handlers)", uuid, ran)
            if self.cdrs is not None:
                self.cdrs.add(record(call))
        return ran > 0
