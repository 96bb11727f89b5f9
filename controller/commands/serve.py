"""`controller serve`: the outbound ESL server (FreeSWITCH's `socket` application connects here).
SIGTERM or SIGINT stops accepting and lets calls in progress finish up to `drain_seconds`."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
from typing import Any

import gevent
from gevent.event import Event

from controller.config import Settings
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.esl.watcher import Watcher
from controller.executor import Executor
from controller.modules import REGISTRY, TERMINATION_HANDLERS
from controller.services import Services
from controller.store.connection import connect

log = logging.getLogger(__name__)

GC_THRESHOLDS = (2_000, 50, 100)  # Python's defaults: 700, 10, 10


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="run the outbound ESL server")
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    services = Services.build(settings, connect(settings))
    server = OutboundServer(settings, CallLifecycle(services, Executor(REGISTRY)))
    watcher = Watcher(settings.freeswitch, services, TERMINATION_HANDLERS)
    server.start()
    watcher.start()
    # What start-up built (modules, schemas, settings) lives as long as the process: kept out of
    # the garbage collector's full collections, which then only walk the calls in progress. A
    # finished call leaves no reference cycle (tests/test_call_garbage.py), so collections find
    # little: they run less often than by default, full ones rarely (with 3,000 calls in
    # progress a full collection takes 100-300 ms: the setup-latency tail under overload).
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    print(f"controller: outbound ESL server on {settings.esl_listen.host}:{server.address[1]}", flush=True)
    for endpoint in settings.freeswitch:
        print(f"controller: watching FreeSWITCH {endpoint}", flush=True)
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    stopping.wait()
    log.info("stopping: no new calls, %d in progress", server.active_calls)
    server.stop()
    watcher.stop()
    return 0
