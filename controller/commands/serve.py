"""`controller serve`: the outbound ESL server (FreeSWITCH's `socket` application connects here)
and the inbound watcher. SIGTERM or SIGINT stops accepting and lets calls in progress finish up to
`drain_seconds`. Under `controller run` (`--supervised`) it also answers the supervisor's liveness
check and gives its metrics and watcher connections to the API role (controller/roles.py)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from controller import roles
from controller.call import Call
from controller.commands.stopping import wait_for_stop_signal
from controller.config import Settings
from controller.esl.lifecycle import CallLifecycle
from controller.esl.livecalls import LiveCalls
from controller.esl.localcalls import LocalCalls
from controller.esl.server import OutboundServer, settle_garbage_collector
from controller.esl.watcher import Watcher
from controller.executor import Executor
from controller.heaptrim import start_trimmer
from controller.logcontext import announce
from controller.metrics import Metrics
from controller.modules import REGISTRY, TERMINATION_HANDLERS
from controller.services import Services
from controller.spool import Drainer
from controller.store.cache import AccountCache
from controller.store.cdrs import CdrWriter
from controller.store.connection import connect
from controller.store.revisions import RevisionWatch

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve", help="run the outbound ESL server and the FreeSWITCH watcher (one role of `run`)",
        description="Run the outbound ESL server on CONTROLLER_ESL_LISTEN, where FreeSWITCH's `socket` application "
        "hands over each call, and the inbound watcher of each FreeSWITCH in CONTROLLER_FREESWITCH. `controller run` "
        "starts it for you; run it alone to split the roles over processes or machines. SIGTERM lets calls in "
        "progress finish (CONTROLLER_DRAIN_SECONDS).")
    roles.add_option(parser)
    parser.set_defaults(run=run_serve)


def build_call_side(
    settings: Settings, services: Services, live: LiveCalls | None = None
) -> tuple[OutboundServer, Watcher]:
    """The outbound ESL server running callflows and the inbound watcher, for these services
    (refused calls and calls in progress counted in their metrics, when they have some). The
    account cache starts following revision notices, so that calls to an account that has not
    changed read nothing from Redis to know it; the spool's drainer starts handing back the calls
    a Redis outage (or a killed predecessor) left in it."""
    if isinstance(services.cache, AccountCache):
        watch = RevisionWatch(services.rds)
        services.cache.follow(watch)
        watch.start()
    if services.spool is not None:  # calls whose end could not reach Redis, handed back when it answers
        Drainer(services.spool, lambda snapshot: Call.replay(snapshot, services, TERMINATION_HANDLERS)).start()
    metrics = services.metrics
    refused = metrics.calls.labels("refused").inc if metrics is not None else None
    local = LocalCalls()
    lifecycle = CallLifecycle(services, Executor(REGISTRY), local, live)
    server = OutboundServer(settings, lifecycle, on_refused=refused)
    watcher = Watcher(settings.freeswitch, services, TERMINATION_HANDLERS, local=local,
                      cdrs=live.cdrs if live is not None else None)
    if metrics is not None:
        metrics.count_calls_active(lambda: server.active_calls)
        metrics.watch_freeswitch(lambda: watcher.connected)
    return server, watcher


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    metrics = Metrics()
    services = Services.build(settings, connect(settings), metrics)
    live = LiveCalls(CdrWriter(services.rds, settings.cdr_days), settings.freeswitch)  # /channels and /cdrs
    server, watcher = build_call_side(settings, services, live)
    server.start()
    watcher.start()
    settle_garbage_collector()
    start_trimmer()
    host, port = settings.esl_listen.host, server.address[1]
    answering = roles.answer_supervisor(args.supervised, "serve", {
        "metrics": metrics.exposition,
        "freeswitch": lambda: json.dumps(watcher.connected).encode(),
        "address": f"{host}:{port}".encode,
    }, {"channels": live.answer, "transfer": live.transfer})
    announce(f"outbound ESL server on {host}:{port}")
    for endpoint in settings.freeswitch:
        announce(f"watching FreeSWITCH {endpoint}")
    wait_for_stop_signal()
    log.info("stopping: no new calls, %d in progress", server.active_calls)
    server.stop()
    watcher.stop()
    if live.cdrs is not None:
        live.cdrs.flush()
    if answering is not None:
        answering.stop()
    return 0
