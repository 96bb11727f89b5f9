"""`controller serve`: the outbound ESL server (FreeSWITCH's `socket` application connects here).
SIGTERM or SIGINT stops accepting and lets calls in progress finish up to `drain_seconds`."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

import gevent
from gevent.event import Event

from controller.config import Settings
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer, settle_garbage_collector
from controller.esl.watcher import Watcher
from controller.executor import Executor
from controller.modules import REGISTRY, TERMINATION_HANDLERS
from controller.services import Services
from controller.store.connection import connect

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="run the outbound ESL server")
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    services = Services.build(settings, connect(settings))
    server = OutboundServer(settings, CallLifecycle(services, Executor(REGISTRY)))
    watcher = Watcher(settings.freeswitch, services, TERMINATION_HANDLERS)
    server.start()
    watcher.start()
    settle_garbage_collector()
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
