"""`controller api`: the HTTP API on `api_listen`, served by gevent's WSGI server. SIGTERM or
SIGINT stops accepting and lets requests in progress finish (up to `drain_seconds`)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping
from typing import Any

from gevent.pywsgi import WSGIServer

from controller.api.app import create_app
from controller.api.ops import OpsApp
from controller.api.server import ApiServer
from controller.commands.stopping import wait_for_stop_signal
from controller.config import Settings
from controller.metrics import Metrics
from controller.services import Services
from controller.store.connection import connect

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser("api", help="serve the HTTP API (/v2/...)")
    parser.set_defaults(run=run_api)


def build_server(
    settings: Settings, services: Services, watcher: Callable[[], Mapping[str, bool]] | None = None
) -> WSGIServer:
    """The API with `/metrics` and `/healthz` beside it (the process's metrics are
    `services.metrics`; one is made when the services have none)."""
    metrics = services.metrics or Metrics()
    metrics.watch_queue(services.queue.stats)
    app = OpsApp(create_app(services), services.rds, metrics, watcher, settings.alert_max_delay)
    listen = settings.api_listen
    return ApiServer((listen.host, listen.port), app, log=None, error_log=logging.getLogger("controller.api.http"))


def run_api(args: argparse.Namespace, settings: Settings) -> int:
    services = Services.build(settings, connect(settings))
    server = build_server(settings, services)
    server.start()
    print(f"controller: API listening on http://{server.server_host}:{server.server_port}/v2/", flush=True)
    wait_for_stop_signal()
    server.stop(timeout=settings.drain_seconds)
    return 0
