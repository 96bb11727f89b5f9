"""One call from FreeSWITCH's connect to the socket's close.

connect (channel data), myevents and linger N in one write -> place the call in its account ->
match the callflow -> run it -> hang up when the flow ends -> wait until the channel is gone
(CHANNEL_HANGUP_COMPLETE, disconnect notice or EOF) -> run termination handlers once -> close the
socket (FreeSWITCH destroys the session only after that: see the captures).
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from gevent import socket as gsocket

from controller.call import Call, authenticated_username
from controller.callflows.matcher import ACCOUNT_VARIABLE, resolve_account
from controller.errors import ChannelGoneError, CommandError, ESLProtocolError
from controller.esl import wire
from controller.esl.confinement import Confinement, account_roots
from controller.esl.livecalls import LiveCalls
from controller.esl.localcalls import LocalCalls
from controller.esl.session import PROCESS_BUFFERS, Session
from controller.executor import Executor, run_call_flow
from controller.logcontext import bind_call
from controller.modules import TERMINATION_HANDLERS
from controller.services import Services
from controller.store.cache import AccountCache
from controller.store.cdrs import outcome
from controller.store.connection import UNAVAILABLE
from controller.store.revisions import Stamp

log = logging.getLogger(__name__)

NO_ROUTE_CAUSE = "UNALLOCATED_NUMBER"
# Extra time past the linger for FreeSWITCH to finish the hangup before we close regardless.
GONE_GRACE = 5.0
# How long the handlers wait for CHANNEL_HANGUP_COMPLETE after a disconnect notice came first.
COMPLETE_GRACE = 1.0
# Numbers whose owning account this process remembers for a Redis outage (least recent dropped).
KNOWN_OWNERS = 100_000


def is_internal_caller(services: Services, account_id: str, data: Mapping[str, str]) -> bool:
    """The caller is one of the account's devices: FreeSWITCH authenticated it
    (`sip_authorized`) as a SIP username that belongs to a device of this account."""
    if data.get("variable_sip_authorized") != "true":
        return False
    username = authenticated_username(lambda name: data.get("variable_" + name, ""))
    return bool(username) and services.calling_device(account_id, str(username)) is not None


class GivenBackError(Exception):
    """The call could not be placed and went back to FreeSWITCH's dialplan (`resume`)."""


@contextlib.contextmanager
def giving_back_if_unavailable(session: Session) -> Iterator[None]:
    """Before any application ran: when Redis cannot say where the call goes, `resume` gives it
    back to FreeSWITCH, so that the dialplan's next action (conf/freeswitch: `respond 503`, which
    a carrier may retry elsewhere) runs once the socket closes, instead of silence or a hangup."""
    try:
        yield
    except UNAVAILABLE as exc:
        session.send("resume")
        raise GivenBackError(f"Redis unavailable ({exc})") from exc


class CallLifecycle:
    """Drives calls on outbound connections; one instance per process."""

    def __init__(
        self, services: Services, executor: Executor, local: LocalCalls | None = None, live: LiveCalls | None = None
    ) -> None:
        self.services = services
        self.executor = executor
        self.local = local  # the calls taken here, for this process's watcher
        self.live = live  # the calls in progress here, for the API's channels; their records
        self.budget = wire.Budget(PROCESS_BUFFERS)  # shared by this process's calls
        self.roots = account_roots(services.settings)  # the folders of per-account files
        # number -> (account, why, the watch's stamp when read): see _resolve
        self.owners: collections.OrderedDict[str, tuple[str | None, str, Stamp | None]] = collections.OrderedDict()

    def __call__(self, sock: gsocket.socket, address: tuple[Any, ...]) -> None:
        settings = self.services.settings
        session = Session(sock, address, settings.command_timeout, self.budget, settings.tenant_http_allow)
        if self.services.metrics is not None:
            session.observe_reply = self.services.metrics.esl_command_seconds.observe
        call: Call | None = None
        try:
            data = session.connect_and_subscribe(settings.linger_seconds)
            bind_call(str(data.get("Unique-ID", "-")))
            session.share_log_context()
            if self.local is not None and data.get("Unique-ID"):
                self.local.add(str(data["Unique-ID"]))
            call = self._place(session, data)
            if call is not None:
                self._started(call, data)
                bind_call(call.uuid, call.account_id)
                session.share_log_context()
                session.listener = call.on_event
                self._run(session, call)
            if session.wait_gone(settings.linger_seconds + GONE_GRACE):
                session.wait_complete(COMPLETE_GRACE)
        except GivenBackError as exc:
            call = None  # nothing ran: no handler is due
            uuid = (session.session_data or {}).get("Unique-ID")
            log.warning("call %s given back to FreeSWITCH's dialplan: %s", uuid, exc)
        except (ChannelGoneError, CommandError, ESLProtocolError) as exc:
            log.info("call from %s ended: %s", address[0], exc)
        except Exception:
            log.exception("call from %s failed", address[0])
        finally:
            if call is not None:
                call.run_termination()  # nothing to run when the call was handed over (a transfer)
                if self.local is not None and call.kvs.get("transferred_to"):
                    self.local.pop(call.uuid)  # should no connection take it, a watcher ends it
            session.close()
            self._count(call)
            if call is not None and self.live is not None:
                self.live.ended(call)

    def _started(self, call: Call, data: Mapping[str, str]) -> None:
        if data.get("variable_transfer_source"):  # transferred: take what the flows before registered
            try:
                call.adopt(TERMINATION_HANDLERS)
            except UNAVAILABLE as exc:  # left in Redis: a watcher ends it at the channel's destroy
                log.warning("call %s: transferred; what its earlier flow registered stays for a watcher (%s)",
                            call.uuid, exc)
                if self.local is not None:
                    self.local.pop(call.uuid)
        if self.live is not None:
            self.live.started(call)

    def _count(self, call: Call | None) -> None:
        """The call's outcome in the metrics: as its record says (cdrs.outcome), failed when no
        call was placed, transferred when its flow handed it to another (whose end counts it)."""
        metrics = self.services.metrics
        if metrics is None:
            return
        if call is None:
            result = "failed"
        elif call.kvs.get("transferred_to"):
            result = "transferred"
        else:
            result = outcome(call)
        metrics.calls.labels(result).inc()

    def _place(self, session: Session, data: Mapping[str, str]) -> Call | None:
        destination = data.get("Caller-Destination-Number", "")
        with giving_back_if_unavailable(session):
            account_id, why = self._resolve(destination, data.get("variable_" + ACCOUNT_VARIABLE))
        if account_id is None:
            log.warning("call %s to %r: %s", data.get("Unique-ID"), destination, why)
            session.hangup(NO_ROUTE_CAUSE)
            return None
        services = self.services.for_call()
        session.confinement = Confinement(account_id, self.roots)
        return Call(session, data, account_id, is_internal_caller(services, account_id, data), services)

    def _resolve(self, destination: str, channel_account: str | None) -> tuple[str | None, str]:
        """resolve_account, remembering each number's owner: while the revision watch vouches
        that no account changed since, a number is routed without asking Redis again; while
        Redis is unavailable a number this process has routed goes to the same account (its
        cached views do the rest)."""
        cache = self.services.cache
        stamp = cache.any_stamp() if isinstance(cache, AccountCache) and not channel_account else None
        known = self.owners.get(destination)
        if stamp is not None and known is not None and known[2] == stamp:
            return known[0], known[1]
        try:
            account_id, why = resolve_account(
                self.services.rds, destination, channel_account, self.services.settings.default_account
            )
        except UNAVAILABLE:
            if known is None or known[0] is None:
                raise
            return known[0], "the number's owner when Redis last answered"
        if not channel_account:
            self.owners[destination] = (account_id, why, stamp)
            self.owners.move_to_end(destination)
            if len(self.owners) > KNOWN_OWNERS:
                self.owners.popitem(last=False)
        return account_id, why

    def _run(self, session: Session, call: Call) -> None:
        services = call.services
        with giving_back_if_unavailable(session):
            route = services.matcher.match(
                call.account_id, call.destination, is_internal=call.is_internal, views=services.cache
            )
        if route is None:
            log.info("call %s: no callflow for %r in %s", call.uuid, call.destination, call.account_id)
            session.hangup(NO_ROUTE_CAUSE)
            return
        call.callflow_id = route.callflow_id
        call.capture_group = route.capture_group
        call.capture_groups = dict(route.capture_groups)
        why = run_call_flow(self.executor, call, route.callflow.get("flow") or {})
        call.state.failed = call.state.failed or why == "module failed"
        log.debug("call %s: flow stopped (%s)", call.uuid, why)
        if not session.is_gone:
            session.hangup(call.state.bridge_failure or "NORMAL_CLEARING")
