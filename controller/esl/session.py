"""The per-call ESL session: greenswitch's OutboundSession with its defects fixed.

greenswitch stays the client (its handler registry, command queue and outbound API); this
subclass overrides only what is wrong for a call controller, each fix covered by a test in
tests/test_esl_session.py:

1. It URL-decodes a whole frame before splitting lines, so a caller ID name containing `%0A`
   forges a header. Here frames are split first, then each value is decoded (wire.py).
2. It drops the last events when FreeSWITCH sends them in one burst and closes. Here every frame
   already received is dispatched before EOF is acted on.
3. Its blocking commands can wait forever. Here every command waits `command_timeout` at most.
4. It matches an application's completion by name only. Here `sendmsg` carries an `Event-UUID`
   and the completion is the CHANNEL_EXECUTE_COMPLETE whose `Application-UUID` matches.
5. A frame without `Content-Type` kills its reader. Here it is logged and skipped.
6. A `-ERR` reply looks like success. Here it raises CommandError.
7. A body cut short by a closed socket spins its reader. Here it is the end of the session.
Also: nothing with a line break can be sent (wire.py refuses it), and events are applied in the
reader greenlet itself (one greenlet per call reads and dispatches; the call's handler greenlet
sends commands), so no event queue, no second dispatch greenlet and no polling.

The channel is gone at CHANNEL_HANGUP_COMPLETE, the disconnect notice or EOF, whichever comes
first (CHANNEL_DESTROY never reaches the outbound socket).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import random
import re
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gevent
from gevent import socket as gsocket
from gevent.event import AsyncResult, Event
from greenswitch import esl

from controller import tenant_http
from controller.errors import ChannelGoneError, CommandError, ESLProtocolError
from controller.esl import hooks, wire
from controller.esl.confinement import Confinement
from controller.esl.fairness import Turns
from controller.esl.safety import inert, multiset
from controller.logcontext import share_call

log = logging.getLogger(__name__)

# The largest frame body a call's connection may send: FreeSWITCH's biggest, an event with every
# channel variable, is some tens of KiB (the watcher's connection keeps wire.MAX_BODY).
SESSION_MAX_BODY = 1 << 20
# What all the calls of a process may hold in ESL buffers at once (wire.Budget).
PROCESS_BUFFERS = 64 << 20
# A URL that mod_http_cache fetches for playback or record_session (up to a space, or the `!`
# between the files of a file_string://)
HTTP_CACHE = "http_cache://"
HTTP_CACHE_URL = re.compile(r"http_cache://(https?://[^\s!]+)")

EventListener = Callable[[str, Mapping[str, str]], None]
GONE_EVENTS = frozenset({"CHANNEL_HANGUP_COMPLETE"})
# Events whose headers are read; the rest (CHANNEL_STATE, CHANNEL_EXECUTE, ...) are never parsed.
WATCHED_EVENTS = frozenset(
    {"CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE",
     "DTMF", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "RECORD_STOP", *GONE_EVENTS}
)
# What `myevents` subscribes to (mod_event_socket's list) that a call never reads: taken off at
# setup with `nixevent`, so FreeSWITCH neither serialises nor sends them. Six CHANNEL_EXECUTE of
# 5 KB each, two CHANNEL_STATE and a CHANNEL_UNPARK for a short call: about a third of its bytes.
# CHANNEL_HANGUP too: CHANNEL_HANGUP_COMPLETE follows it within milliseconds with the same cause
# and disposition (and says the channel is gone), one 5 KB frame less per call.
UNREAD_EVENTS = (
    "CHANNEL_APPLICATION", "CHANNEL_CREATE", "CHANNEL_DATA", "CHANNEL_DESTROY", "CHANNEL_EXECUTE",
    "CHANNEL_HANGUP", "CHANNEL_ORIGINATE", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_STATE",
    "CHANNEL_UNPARK", "CHANNEL_UUID", "DETECTED_SPEECH", "NOTALK", "TALK",
)


def settled(result: AsyncResult, timeout: float | None = None) -> Any:
    """`result.get(timeout)`, but a failure raised from it leaves no reference cycle. gevent
    raises a stored exception from `gevent._compat.reraise(t, value, tb)`, whose frame keeps
    `value`: the exception's traceback reaches that frame, and through the frames above it the
    session, its socket and its greenlets, all kept until a full garbage collection (rare in
    `controller serve`): 2,000 connections that never answered `connect` were all still held
    so once closed (docs/attacks.md, esl-abandoned-2000)."""
    try:
        return result.get(timeout=timeout)
    except BaseException as error:
        traceback.clear_frames(error.__traceback__)  # the finished frames: reraise's among them
        raise
    finally:
        del result  # (it holds the failure too, and this frame is in the failure's traceback)


class Replies:
    """The replies to commands written together. `done` receives them all, in order, or the
    first failure: a `-ERR` to a command not in `optional`, the socket closing, or no reply
    within the deadline. With `into` (the completion an application waits for) the replies
    are not awaited themselves: only a failure goes there, so a command costs its caller one
    wait. `observe` is given the seconds the write took to be answered (metrics)."""

    __slots__ = ("_deadline", "_seconds", "_settles", "done", "names", "observe", "optional", "received", "started")

    def __init__(
        self,
        names: list[str],
        optional: frozenset[int] = frozenset(),
        into: AsyncResult | None = None,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.names = names
        self.optional = optional  # positions whose -ERR is a reply like any other
        self.received: list[tuple[str, Mapping[str, str]]] = []
        self.done: AsyncResult = AsyncResult() if into is None else into
        self._settles = into is None
        self.observe = observe
        self.started = time.perf_counter()
        self._deadline: Any = None
        self._seconds = 0.0

    def arm(self, seconds: float) -> None:
        """Fail unless every reply is in within `seconds` (a timer of the loop: no greenlet)."""
        if len(self.received) < len(self.names) and not self.done.ready():
            self._seconds = seconds
            self._deadline = gevent.get_hub().loop.timer(seconds)
            self._deadline.start(self._late)

    def add(self, reply: tuple[str, Mapping[str, str]]) -> None:
        self.received.append(reply)
        if len(self.received) == len(self.names):
            self._disarm()
            if self._settles and not self.done.ready():
                self.done.set(self.received)
            if self.observe is not None:
                try:
                    self.observe(time.perf_counter() - self.started)
                except Exception:  # (a metric must not cost the reader its call)
                    log.exception("observing an ESL reply time failed")

    def fail(self, error: Exception) -> None:
        self._disarm()
        if not self.done.ready():
            self.done.set_exception(error)

    def _late(self) -> None:
        self.fail(CommandError(self.names[len(self.received)], f"no reply within {self._seconds:g} s"))

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.close()
            self._deadline = None


class Session(esl.OutboundSession):
    """One FreeSWITCH outbound connection (one channel)."""

    def __init__(self, sock: gsocket.socket, address: tuple[Any, ...], command_timeout: float,
                 budget: wire.Budget | None = None, url_allow: Sequence[tenant_http.Network] = ()) -> None:
        self.budget = budget  # the process's ESL buffers, shared by every call (wire.Budget)
        self.url_allow = tuple(url_allow)  # what a tenant's http_cache:// URL may reach (tenant_http)
        self.confinement: Confinement | None = None  # the call's own files only, once placed
        # greenswitch's __init__ would wrap the socket in a buffered file and start two
        # greenlets (reader + queue poller); its protocol base would also make the queue that
        # poller reads and the event inbound authentication waits on. Neither is used here:
        # the base's attributes are set directly.
        self._run = True
        self._EOL = "\n"
        self._commands_sent: list[Any] = []
        self._auth_request_event = None
        self._receive_events_greenlet = None
        self._process_events_greenlet = None
        self.event_handlers: dict[str, Any] = {}
        self._esl_event_queue = None
        self._process_esl_event_queue = False
        self._lingering = False
        # Commands are small writes answered at once: without TCP_NODELAY, Nagle's algorithm
        # and the peer's delayed ACK add tens of milliseconds to each round trip.
        with contextlib.suppress(OSError):
            sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        self.sock = sock
        self.address = address
        self.connected = True
        self.session_data: Mapping[str, str] | None = None
        # Called with the seconds each write of commands took to be answered (metrics).
        self.observe_reply: Callable[[float], None] | None = None
        self.expected_events: dict[str, Any] = {}
        self._outbound_connected = False
        self.command_timeout = command_timeout
        self.listener: EventListener | None = None
        self._replies: collections.deque[tuple[str, Replies]] = collections.deque()
        self._completions: dict[str, AsyncResult] = {}
        self._gone = Event()
        self._complete = Event()  # CHANNEL_HANGUP_COMPLETE seen (or the socket closed)
        self._socket_closed = False
        # Event-UUIDs: one random prefix per session and a counter (a UUID's shape, unique per
        # application, without an os.urandom call for each: they only need to be unique).
        bits = f"{random.getrandbits(112):028x}"
        self._uuid_prefix = f"{bits[:8]}-{bits[8:12]}-{bits[12:16]}-{bits[16:20]}-{bits[20:]}"
        self._uuid_count = itertools.count(1)
        self.start_event_handlers()

    # --- reading (fixes 1, 2, 5, 7) -----------------------------------------------------------

    def start_event_handlers(self) -> None:
        # A raw greenlet: nothing joins or kills the reader (close() ends it through its socket).
        self._receive_events_greenlet = gevent.spawn_raw(self.receive_events)

    def share_log_context(self) -> None:
        """The reader's log lines (a channel gone, a broken stream, a failed event listener) name
        the call the calling greenlet has bound (controller/logcontext.py)."""
        share_call(self._receive_events_greenlet)

    def receive_events(self) -> None:
        turns = Turns()
        reader = wire.FrameReader(self.sock, SESSION_MAX_BODY, self.budget, turns.received)
        try:
            for frame in reader:
                turns.framed()
                self._dispatch(frame)
        except (ESLProtocolError, OSError) as exc:
            if self._run:  # (not when close() ended it)
                log.warning("call %s: ESL stream broken: %s", self.uuid, exc)
        finally:
            reader.release()
            self._mark_gone("socket closed")

    def _dispatch(self, frame: wire.Frame) -> None:
        kind = frame.content_type
        if kind in ("command/reply", "api/response"):
            self._reply(frame)
        elif kind == "text/event-plain":
            name = wire.event_name(frame)
            if name in WATCHED_EVENTS:  # (the others are not parsed at all)
                self._event(wire.parse_event(frame, name))
        elif kind == "text/disconnect-notice":
            # A lingering socket still brings the events queued before the hangup (the running
            # app's completion among them: the notice can overtake it), so what waits for them
            # is settled at CHANNEL_HANGUP_COMPLETE or at the close, not here.
            lingering = frame.headers.get("Content-Disposition") == "linger"
            self._lingering = self._lingering or lingering
            self._mark_gone("disconnect notice", settle=not lingering)
        elif not kind:
            log.warning("call %s: frame without Content-Type skipped", self.uuid)

    def _reply(self, frame: wire.Frame) -> None:
        if not self._replies:
            log.warning("call %s: unexpected %s", self.uuid, frame.content_type)
            return
        command, replies = self._replies.popleft()
        if frame.content_type == "api/response":
            text = frame.body.decode("utf-8", "replace")
        else:
            text = frame.headers.get("Reply-Text", "")
        if text.startswith("-ERR") and len(replies.received) not in replies.optional:
            replies.fail(CommandError(command, text.strip()))
        else:
            replies.add((text, frame.headers))

    def _event(self, event: wire.Event) -> None:
        name = event.name
        if self.listener is not None:
            try:
                self.listener(name, event)
            except Exception:
                log.exception("call %s: event listener failed on %s", self.uuid, name)
        if name == "CHANNEL_EXECUTE_COMPLETE":
            waiting = self._completions.pop(event.last("Application-UUID") or "", None)
            if waiting is not None:
                waiting.set(event)
        elif name in GONE_EVENTS:
            self._complete.set()
            self._mark_gone(name)

    def _mark_gone(self, why: str, settle: bool = True) -> None:
        """No more commands; `settle`: what waits for a completion is told now."""
        if not self._gone.is_set():
            log.debug("call %s: channel gone (%s)", self.uuid, why)
            self._outbound_connected = False
            self._gone.set()
        if settle and self._completions:
            gone = ChannelGoneError(why)
            for waiting in self._completions.values():
                waiting.set_exception(gone)
            self._completions.clear()
        if why == "socket closed" and not self._socket_closed:
            # Also once the channel was already gone (a disconnect notice, HANGUP_COMPLETE):
            # nothing more can come, so nobody waits for it.
            self._socket_closed = True
            self._complete.set()
            self.connected = False
            closed = ChannelGoneError(why)
            while self._replies:
                self._replies.popleft()[1].fail(closed)

    # --- commands (fixes 3, 4, 6) -------------------------------------------------------------

    def send(self, data: str) -> tuple[str, Mapping[str, str]]:
        """Send one command and wait for its reply (at most `command_timeout`)."""
        return self._send(wire.command(data))

    def _send(self, raw: bytes) -> tuple[str, Mapping[str, str]]:
        return self._send_all([raw])[-1]

    def _send_all(
        self, raws: list[bytes], optional: frozenset[int] = frozenset()
    ) -> list[tuple[str, Mapping[str, str]]]:
        """Write several commands at once (one syscall) and wait for all their replies (one
        wait, at most `command_timeout`); the first `-ERR` raises CommandError, except to the
        commands at the `optional` positions."""
        answered: list[tuple[str, Mapping[str, str]]] = settled(self._write(raws, optional).done)
        return answered

    def _write(
        self, raws: list[bytes], optional: frozenset[int] = frozenset(), into: AsyncResult | None = None
    ) -> Replies:
        """Write commands in one syscall; their replies are expected within `command_timeout`."""
        if not self.connected:
            raise ChannelGoneError("socket closed")
        names = [raw.split(b"\n", 1)[0].decode("ascii", "replace") for raw in raws]
        replies = Replies(names, optional, into, self.observe_reply)
        self._replies.extend((name, replies) for name in names)
        wire.write(self.sock, b"".join(raws))
        replies.arm(self.command_timeout)
        return replies

    def connect(self) -> Mapping[str, str]:
        """`connect`: the reply is the whole channel data block."""
        _, headers = self.send("connect")
        self.session_data = headers
        self._outbound_connected = True
        return headers

    def connect_and_subscribe(self, linger: int) -> Mapping[str, str]:
        """`connect`, `myevents`, `nixevent` (UNREAD_EVENTS) and `linger N` in one write;
        returns the channel data. mod_event_socket reads commands one at a time from the socket
        and answers them in order, so the others wait in its buffer until `connect` is answered.
        A `-ERR` to `nixevent` only costs the bytes it would have saved."""
        commands = [
            wire.command("connect"), wire.command("myevents"), wire.command("nixevent", *UNREAD_EVENTS),
            wire.command(f"linger {int(linger)}"),
        ]
        replies = self._send_all(commands, optional=frozenset({2}))
        if replies[2][0].startswith("-ERR"):
            log.debug("call: nixevent refused (%s); every channel event will be read", replies[2][0])
        self.session_data = replies[0][1]
        self._outbound_connected = True
        return self.session_data

    def myevents(self) -> None:
        self.send("myevents")

    def linger(self, timeout: int | None = None) -> None:
        self.send("linger" if timeout is None else f"linger {int(timeout)}")

    def subscribe_and_linger(self, timeout: int) -> None:
        """`myevents` and `linger N` in one write."""
        self._send_all([wire.command("myevents"), wire.command(f"linger {int(timeout)}")])

    def _refuse_urls(self, app: str, arg: str) -> None:
        """FreeSWITCH fetches an `http_cache://` URL itself (mod_http_cache): one that leads to the
        PBX's own services is refused here, before anything is sent (controller/tenant_http.py)."""
        if HTTP_CACHE not in arg:
            return
        for url in HTTP_CACHE_URL.findall(arg):
            reason = tenant_http.refused_url(url, self.url_allow)
            if reason is not None:
                raise CommandError(app, f"refused to let FreeSWITCH fetch {url}: {reason}")

    def _check(self, app: str, arg: str) -> None:
        """Refuse what this call may not send: a URL to the PBX's own services, another account's
        files (Confinement), a variable FreeSWITCH runs or reads files by (hooks). Every
        application and API command of the call passes here."""
        self._refuse_urls(app, arg)
        if self.confinement is not None and (reason := self.confinement.refusal(arg)) is not None:
            raise CommandError(app, f"refused: {reason}")
        if app in hooks.ASSIGNING and (reason := hooks.refusal(app, arg)) is not None:
            raise CommandError(app, f"refused: {reason}")

    def execute(self, app: str, arg: str = "", timeout: float | None = None) -> Mapping[str, str]:
        """Run an application and wait for its completion event (matched by Event-UUID)."""
        return self.execute_all([(app, arg)], timeout)

    def execute_all(self, steps: Sequence[tuple[str, str]], timeout: float | None = None) -> Mapping[str, str]:
        """Queue several applications in one write (`event-lock` makes FreeSWITCH run them in
        order) and wait for the last one's completion, which it returns."""
        if self._gone.is_set():
            raise ChannelGoneError(f"cannot run {steps[-1][0]}: channel gone")
        for app, arg in steps:
            self._check(app, arg)
        uuids = [self.next_event_uuid() for _ in steps]
        done: AsyncResult = AsyncResult()
        self._completions[uuids[-1]] = done
        try:
            # One wait: for the completion, which a -ERR or a missing reply fails as well.
            commands = [wire.sendmsg(app, arg, event_uuid=u) for (app, arg), u in zip(steps, uuids, strict=True)]
            self._write(commands, into=done)
            completed: Mapping[str, str] = settled(done, timeout)
            return completed
        except gevent.Timeout as exc:
            raise CommandError(steps[-1][0], f"not complete within {timeout:g} s") from exc
        finally:
            self._completions.pop(uuids[-1], None)
            del done  # (it holds the failure, whose traceback holds this frame: see `settled`)

    def call_command(
        self, app_name: str, app_args: str | None = None, block: bool = False,
        response_timeout: float | None = None,
    ) -> Any:
        if block:
            return self.execute(app_name, app_args or "", response_timeout)
        self._check(app_name, app_args or "")
        return self._send(wire.sendmsg(app_name, app_args or "", event_uuid=self.next_event_uuid()))

    def next_event_uuid(self) -> str:
        """A fresh Event-UUID for a `sendmsg` (FreeSWITCH returns it as Application-UUID)."""
        return f"{self._uuid_prefix}{next(self._uuid_count) & 0xFFFF:04x}"

    def set_variables(self, variables: Mapping[str, str]) -> None:
        """Set several channel variables with one `multiset` (values made inert)."""
        if not variables:
            return
        self.execute(*multiset(variables), self.command_timeout)

    def api(self, command: str) -> str:
        """`api <command>` on this socket: the body of its api/response. Checked as application
        arguments are (a module's `uuid_displace` names a file as `playback` does)."""
        name, _, rest = command.partition(" ")
        self._check(name, rest)
        return self.send("api " + command)[0]

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        if self._gone.is_set():
            return
        with contextlib.suppress(ChannelGoneError):
            self.execute("hangup", inert(cause), self.command_timeout)

    # --- lifetime -----------------------------------------------------------------------------

    @property
    def is_gone(self) -> bool:
        return self._gone.is_set()

    @property
    def uuid(self) -> str:
        if self.session_data is None:  # (an Event's truth value would parse all of it)
            return "-"
        return str(self.session_data.get("Unique-ID", "-"))

    def wait_gone(self, timeout: float) -> bool:
        return bool(self._gone.wait(timeout))

    def wait_complete(self, timeout: float) -> bool:
        """After a disconnect notice, CHANNEL_HANGUP_COMPLETE (with the hangup cause and the
        final variables) may still follow on a lingering socket (see the missed_continue
        capture); wait a moment for it."""
        return bool(self._complete.wait(timeout))

    def close(self) -> None:
        """Close the socket (FreeSWITCH then destroys the channel); the reader, waiting on it,
        wakes up with an error and ends. (Killing it instead would leave its traceback in a
        reference cycle with the whole session, for the garbage collector to find.) The
        listener is dropped: nothing of the call is kept alive by the session any longer."""
        self.connected = False
        self._run = False
        self._mark_gone("socket closed")
        self.listener = None
        self.sock.close()
