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
from controller.esl.server import OutboundServer
from controller.executor import Executor
from controller.modules import REGISTRY
from controller.services import Services
from controller.store.connection import connect

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="run the outbound ESL server")
    parser.set_defaults(run=run_serve)


def build_server(settings: Settings) -> OutboundServer:
    services = Services.build(settings, connect(settings))
    return OutboundServer(settings, CallLifecycle(services, Executor(REGISTRY)))


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    server = build_server(settings)
    server.start()
    print(f"controller: outbound ESL server on {settings.esl_listen.host}:{server.address[1]}", flush=True)
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    stopping.wait()
    log.info("stopping: no new calls, %d in progress", server.active_calls)
    server.stop()
    return 0
