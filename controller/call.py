"""The Call: one live channel as the callflow sees it.

It holds the channel data (from the `connect` reply), the account and whether the caller is one
of the account's own devices (*internal*) or comes from outside (*inbound*), and the state that
the channel's events feed: answered, bridged (CHANNEL_BRIDGE), voicemail left, hangup cause and
disposition. Event updates are small and never block: they run in the session's reader greenlet.

Modules register termination handlers as data (a module-level function and its data); each runs
exactly once, in its own error guard, when the channel is gone — CHANNEL_HANGUP_COMPLETE, the
disconnect notice or EOF on the outbound socket (CHANNEL_DESTROY never arrives there).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from controller.callstate import KEPT_HEADERS
from controller.errors import ChannelGoneError
from controller.flow import TerminationHandler, only_queue_jobs
from controller.store.connection import UNAVAILABLE

log = logging.getLogger(__name__)


class Channel(Protocol):
    """What modules may do to the live channel (implemented by the ESL session)."""

    def execute(self, app: str, arg: str = "", timeout: float | None = None) -> Mapping[str, str]:
        """Run a dialplan application and wait for its CHANNEL_EXECUTE_COMPLETE event."""
        ...

    def execute_all(self, steps: Sequence[tuple[str, str]], timeout: float | None = None) -> Mapping[str, str]:
        """Queue several applications at once; wait for the last one's completion."""
        ...

    def set_variables(self, variables: Mapping[str, str]) -> None:
        """Set channel variables (values are cleaned of line breaks and `${`)."""
        ...

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None: ...

    def api(self, command: str) -> str:
        """Run a FreeSWITCH API command (`valet_info`, `conference ... list`); its answer."""
        ...

    def wait_gone(self, timeout: float) -> bool:
        """Wait until the channel is gone (a call another app bridged ends); False on timeout."""
        ...

    @property
    def is_gone(self) -> bool: ...


def authenticated_username(variable: Callable[[str], str]) -> str:
    """The SIP username FreeSWITCH vouched for, from a call's variables (`variable(name)`): the
    digest-authenticated `sip_auth_username`, else the directory user an inbound ACL admitted
    the device as by its address (`sip_acl_token`, user@domain); "" for neither. Never the From
    user: the caller writes that (an ACL-admitted device could name another phone there)."""
    name = variable("sip_auth_username")
    if name:
        return name
    user, at, _ = variable("sip_acl_token").partition("@")
    return user if at and user else ""


@dataclasses.dataclass
class CallState:
    """What the channel's events have told us so far."""

    answered: bool = False
    bridged: bool = False
    voicemail_left: bool = False
    fax_mailed: bool = False  # receive_fax queued the fax's own email (received or failed)
    conferenced: bool = False  # the caller was put in a conference room (not a missed call)
    hangup_cause: str | None = None
    disposition: str | None = None
    other_leg: str | None = None
    bridge_failure: str | None = None  # the cause of the last failed bridge, if any
    failed: bool = False  # a module raised: the flow was cut short
    answered_at: float | None = None
    ended_at: float | None = None

    @property
    def reached(self) -> str | None:
        """How the caller reached someone, so that the call is not a missed one: `answered`
        (bridged), `voicemail`, `conference` or `fax`; None for none of these. The one rule of
        missed_call_alert and of the call's record."""
        return next((name for flag, name in REACHED if getattr(self, flag)), None)


# CallState's flags that say the caller reached someone, and what each is called, in this order.
REACHED = (("bridged", "answered"), ("voicemail_left", "voicemail"), ("conferenced", "conference"),
           ("fax_mailed", "fax"))


class Call:
    """One call: channel data, routing facts, state and termination handlers."""

    def __init__(
        self,
        channel: Channel,
        data: Mapping[str, str],
        account_id: str,
        is_internal: bool,
        services: Any = None,
    ) -> None:
        self.channel = channel
        self.data = data
        self.account_id = account_id
        self.is_internal = is_internal
        self.services = services
        self.state = CallState()
        self.started_at = time.time()
        self.capture_group: str | None = None
        self.capture_groups: dict[str, str] = {}
        self.callflow_id: str | None = None
        self.kvs: dict[str, Any] = {}
        # The child keys of the node running now (set by the executor): how a menu knows which
        # digits lead somewhere, as Kazoo's cf_exe:attempt does.
        self.children: frozenset[str] = frozenset()
        self._handlers: list[tuple[TerminationHandler, dict[str, Any]]] = []
        # A call completed after its process died: the channel's variables in its CHANNEL_DESTROY
        self.last_variables: Mapping[str, str] = {}
        self._terminated = False
        self.kept = False  # its end went to the spool: Redis could not take it
        # While handlers marked queues_jobs_only run: the jobs they queue, each with what to do
        # once it is in the queue (they go out with the call's finish, in one step).
        self._finishing: list[tuple[dict[str, Any], Callable[[], None] | None]] | None = None

    # --- channel data -------------------------------------------------------------------------

    def header(self, name: str, default: str = "") -> str:
        return self.data.get(name) or default

    def variable(self, name: str, default: str = "") -> str:
        return self.data.get("variable_" + name) or default

    @property
    def uuid(self) -> str:
        return self.header("Unique-ID")

    @property
    def caller_id_name(self) -> str:
        return self.header("Caller-Caller-ID-Name")

    @property
    def caller_id_number(self) -> str:
        return self.header("Caller-Caller-ID-Number")

    @property
    def destination(self) -> str:
        return self.header("Caller-Destination-Number")

    @property
    def is_inbound(self) -> bool:
        return not self.is_internal

    # --- events -------------------------------------------------------------------------------

    def on_event(self, name: str, event: Mapping[str, str]) -> None:
        """Apply one channel event to the state (never blocks)."""
        self._apply(name, event)
        if name in PERSISTED_EVENTS:
            self._persist()

    def _apply(self, name: str, event: Mapping[str, str]) -> None:
        state = self.state
        if name == "CHANNEL_ANSWER":
            state.answered = True
            state.answered_at = state.answered_at or time.time()
        elif name == "CHANNEL_BRIDGE":
            state.bridged = True
            state.other_leg = event.get("Other-Leg-Unique-ID") or state.other_leg
        elif name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
            state.hangup_cause = event.get("Hangup-Cause") or state.hangup_cause
            state.disposition = (
                event.get("variable_originate_disposition")
                or event.get("variable_endpoint_disposition")
                or state.disposition
            )
            state.ended_at = state.ended_at or time.time()

    def apply_destroy(self, event: Mapping[str, str]) -> None:
        """What a CHANNEL_DESTROY seen on an inbound connection tells of a call rebuilt from
        Redis: its hangup and, where the stored state missed them, its answer and bridge."""
        self._apply("CHANNEL_HANGUP_COMPLETE", event)
        self.last_variables = event  # the channel's variables at its end, for a handler to read
        if event.get("Caller-Channel-Answered-Time", "0") not in ("", "0"):
            self.state.answered = True
        if event.get("Caller-Channel-Bridged-Time", "0") not in ("", "0"):
            self.state.bridged = True

    def mark_voicemail_left(self) -> None:
        """The caller reached voicemail and recorded (kept or not): the call is not missed."""
        self.state.voicemail_left = True
        self._persist()

    def mark_conferenced(self) -> None:
        """The caller is joining a conference room: they reached people, the call is not missed."""
        self.state.conferenced = True
        self._persist()

    def save_state(self) -> None:
        """A registered handler's data changed: write the call's state again soon."""
        self._persist()

    def mark_fax_mailed(self) -> None:
        """receive_fax has this call's fax email (the fax or its error) queued when it ends: that
        is the call's one email, so it is not a missed call as well."""
        self.state.fax_mailed = True
        self._persist()

    # --- termination --------------------------------------------------------------------------

    def register_termination(self, handler: TerminationHandler, data: dict[str, Any]) -> None:
        """Run `handler(call, data)` once when the channel is gone; from now on the call's state
        is also kept in Redis, so the handler runs even if this process dies."""
        self._handlers.append((handler, data))
        self._persist()

    def run_termination(self, claimed: bool = False) -> int:
        """Run every registered handler once, each in its own guard; returns how many ran.
        With several processes sharing Redis, only the one that claims the call runs them
        (`claimed`: this process holds the claim already, for a call replayed from its spool).
        When Redis cannot serve, what is left to run goes to the spool (controller/spool.py)."""
        if self._terminated:
            return 0
        self._terminated = True
        self.state.ended_at = self.state.ended_at or time.time()
        calls = getattr(self.services, "calls", None)
        if not self._handlers or calls is None:
            return self._run_handlers(self._handlers)[0]
        calls.settle(self.uuid)
        if only_queue_jobs(self._handlers):
            return self._finish(calls, claimed)
        try:
            if not claimed and not calls.claim(self.uuid):
                log.info("call %s: termination handlers already run elsewhere", self.uuid)
                return 0
        except UNAVAILABLE as exc:
            self._keep(self._handlers, False, exc)
            return 0
        ran, left = self._run_handlers(self._handlers)
        if left:
            self._keep(left, True, "a handler could not reach Redis")
        else:
            with contextlib.suppress(*UNAVAILABLE):
                calls.forget(self.uuid)
        return ran

    def _finish(self, calls: Any, claimed: bool) -> int:
        """Handlers that only queue jobs: run them, then claim the call, queue their jobs and
        forget it in one Redis step; nothing happens outside until the claim is won."""
        self._finishing = []
        try:
            ran, _ = self._run_handlers(self._handlers)
            jobs = self._finishing
        finally:
            self._finishing = None
        try:
            added = calls.finish(self.uuid, [job for job, _ in jobs], self.services.queue, claimed=claimed)
        except UNAVAILABLE as exc:
            self._keep(self._handlers, claimed, exc)
            return 0
        if added is None:
            log.info("call %s: termination handlers already run elsewhere", self.uuid)
            return 0
        for (_, queued), was_added in zip(jobs, added, strict=True):
            if was_added and queued is not None:
                queued()
        return ran

    def hand_over(self) -> None:
        """The call is about to be transferred to another callflow: the same channel comes back
        to the controller as a new connection (FreeSWITCH's `transfer_source` set), which adopts
        what this flow registered (adopt). Called before the transfer is sent, so that the state
        is in Redis when that connection looks. Its termination handlers do not run at this
        flow's end: they are left in Redis, unclaimed, to run once at the call's real end (or,
        should no connection come back, by a watcher at the channel's CHANNEL_DESTROY). Redis
        away: they run now, as at any end (spooled until Redis answers)."""
        calls = getattr(self.services, "calls", None)
        if self._terminated or not self._handlers or calls is None:
            self._terminated = True
            return
        calls.settle(self.uuid)
        try:
            calls.save(self.snapshot())
        except UNAVAILABLE:
            self.run_termination()
            return
        self._terminated = True
        log.info("call %s: transferred; %d termination handler(s) handed over", self.uuid, len(self._handlers))

    def take_back(self) -> None:
        """The transfer did not happen: this flow keeps its handlers after all."""
        self._terminated = False

    def adopt(self, handlers: Mapping[str, TerminationHandler]) -> int:
        """A transferred call's new flow takes over what its earlier flows registered and saw
        (hand_over): their handlers (each once) and their answer, bridge, voicemail and fax, so
        that the call ends with one set of handlers judging the whole call. Returns how many
        handlers were adopted."""
        calls = getattr(self.services, "calls", None)
        earlier = calls.load(self.uuid) if calls is not None else None
        if not earlier:
            return 0
        mine = {(handler_name(h), json.dumps(d, sort_keys=True)) for h, d in self._handlers}
        adopted = 0
        for name, data in earlier.get("handlers", []):
            if name in handlers and (name, json.dumps(data, sort_keys=True)) not in mine:
                self._handlers.append((handlers[name], data))
                adopted += 1
        state = self.state
        for flag in ("answered", *(flag for flag, _ in REACHED)):
            setattr(state, flag, getattr(state, flag) or bool(earlier.get(flag)))
        state.answered_at = state.answered_at or earlier.get("answered_at")
        self.started_at = min(self.started_at, float(earlier.get("started_at") or self.started_at))
        if self._handlers:
            self._persist()
        return adopted

    def queue_job(self, job: dict[str, Any], queued: Callable[[], None] | None = None) -> None:
        """Queue a notification job for this call; `queued` runs once it is in the queue (not
        when its idempotency key was queued before). From a queues_jobs_only termination
        handler the job goes out with the call's finish."""
        if self._finishing is not None:
            self._finishing.append((job, queued))
        elif self.services.queue.enqueue(job) and queued is not None:
            queued()

    def _run_handlers(self, handlers: list[tuple[TerminationHandler, dict[str, Any]]]) -> tuple[int, list[Any]]:
        """(how many ran, the handlers Redis kept from running)."""
        ran, left = 0, []
        for handler, data in handlers:
            try:
                handler(self, data)
                ran += 1
            except UNAVAILABLE:
                left.append((handler, data))
            except Exception:
                log.exception("termination handler %s failed", getattr(handler, "__qualname__", handler))
        return ran, left

    def _keep(self, handlers: list[tuple[TerminationHandler, dict[str, Any]]], claimed: bool, why: object) -> None:
        """Spool the call with the handlers still to run, for the drainer to hand back."""
        self.kept = True
        spool = getattr(self.services, "spool", None)
        if spool is None:
            log.error("call %s: Redis unavailable (%s): %d termination handler(s) lost (no spool)",
                      self.uuid, why, len(handlers))
            return
        snapshot = {**self.snapshot(), "handlers": [[handler_name(h), d] for h, d in handlers], "claimed": claimed}
        spool.put(self.uuid, snapshot)
        log.warning("call %s: Redis unavailable (%s): kept in the spool until it answers", self.uuid, why)

    @classmethod
    def replay(cls, snapshot: Mapping[str, Any], services: Any, handlers: Mapping[str, TerminationHandler]) -> bool:
        """Run the handlers of a call taken from the spool; False when Redis is still away (it
        went back to the spool)."""
        call = cls.from_snapshot(snapshot, services, handlers)
        ran = call.run_termination(claimed=bool(snapshot.get("claimed")))
        if not call.kept:
            log.info("call %s: handed back from the spool (%d handler(s) run)", call.uuid, ran)
        return not call.kept

    # --- persistence (controller/callstate.py) ---------------------------------------------------

    def _persist(self) -> None:
        """Have the call's state written to Redis soon (events must not block): the latest
        state, with other calls' in one round trip (CallStates.save_soon)."""
        if not self._handlers or self._terminated or getattr(self.services, "calls", None) is None:
            return
        self.services.calls.save_soon(self.uuid, self.snapshot)

    def snapshot(self) -> dict[str, Any]:
        """What another process needs to run this call's termination handlers."""
        state = dataclasses.asdict(self.state)
        return {
            "uuid": self.uuid,
            "account_id": self.account_id,
            "is_internal": self.is_internal,
            "callflow_id": self.callflow_id,
            "started_at": self.started_at,
            "data": {name: self.data[name] for name in KEPT_HEADERS if name in self.data},
            "handlers": [[handler_name(handler), data] for handler, data in self._handlers],
            **state,
        }

    @classmethod
    def from_snapshot(
        cls, snapshot: Mapping[str, Any], services: Any, handlers: Mapping[str, TerminationHandler]
    ) -> Call:
        """A call whose channel is gone, rebuilt from Redis, with its handlers re-registered."""
        call = cls(GoneChannel(), snapshot["data"], snapshot["account_id"], snapshot["is_internal"], services)
        call.started_at = snapshot.get("started_at") or call.started_at
        call.callflow_id = snapshot.get("callflow_id")
        fields = {f.name for f in dataclasses.fields(CallState)}
        call.state = CallState(**{k: v for k, v in snapshot.items() if k in fields})
        for name, data in snapshot.get("handlers", []):
            if name in handlers:
                call._handlers.append((handlers[name], data))
            else:
                log.warning("call %s: unknown termination handler %s", call.uuid, name)
        return call


def handler_name(handler: TerminationHandler) -> str:
    return f"{handler.__module__}:{handler.__qualname__}"


class GoneChannel:
    """The channel of a call rebuilt after its process died: nothing can be done to it."""

    is_gone = True

    def execute(self, app: str, arg: str = "", timeout: float | None = None) -> Mapping[str, str]:
        raise ChannelGoneError("channel gone")

    def execute_all(self, steps: Sequence[tuple[str, str]], timeout: float | None = None) -> Mapping[str, str]:
        raise ChannelGoneError("channel gone")

    def set_variables(self, variables: Mapping[str, str]) -> None:
        raise ChannelGoneError("channel gone")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        return None

    def api(self, command: str) -> str:
        raise ChannelGoneError("channel gone")

    def wait_gone(self, timeout: float) -> bool:
        return True


# The events whose news must be in Redis before the call ends: only a bridge decides whether a
# call was missed. What the hangup says (cause, disposition) reaches a watcher that completes an
# orphaned call in its CHANNEL_DESTROY (Call.apply_destroy), so it is not written on every call:
# each write cost about 0.2 ms of the controller's CPU per call on a real FreeSWITCH.
PERSISTED_EVENTS = frozenset({"CHANNEL_BRIDGE"})
