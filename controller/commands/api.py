"""`controller api`: the HTTP API on `api_listen`, served by gevent's WSGI server. SIGTERM or
SIGINT stops accepting and lets requests in progress finish (up to `drain_seconds`). Under
`controller run` (`--supervised`) it answers the supervisor's liveness check, and its `/metrics`
and `/healthz` cover every role of the run (controller/roles.py: Peers)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gevent.pywsgi import WSGIServer

from controller import roles, scheduling
from controller.api.app import create_app
from controller.api.ops import OpsApp
from controller.api.server import ApiServer
from controller.commands.stopping import wait_for_stop_signal
from controller.config import Settings
from controller.heaptrim import start_trimmer
from controller.logcontext import announce
from controller.metrics import Metrics
from controller.services import Services
from controller.store.connection import connect
from controller.workers.pool import WorkerPool

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "api", help="serve the HTTP API (/v2/..., /metrics, /healthz; one role of `run`)",
        description="Serve the HTTP API on CONTROLLER_API_LISTEN: accounts, users, devices, callflows and "
        "notification templates under /v2/ (with an X-Auth-Token from `controller tokens create`), the OpenAPI "
        "document at /v2/openapi.json, Prometheus metrics at /metrics and health at /healthz. `controller run` "
        "starts it for you.")
    roles.add_option(parser)
    parser.set_defaults(run=run_api)


def build_server(
    settings: Settings, services: Services, watcher: Callable[[], Mapping[str, bool]] | None = None,
    peers: roles.Peers | None = None, workers: WorkerPool | None = None,
) -> WSGIServer:
    """The API with `/metrics` and `/healthz` beside it (the process's metrics are
    `services.metrics`; one is made when the services have none), covering the other roles of a
    run when it has `peers`, its CPU-heavy work done by `workers` (else by a pool of its own)."""
    metrics = services.metrics or Metrics()
    metrics.watch_queue(services.queue.stats)
    api = create_app(services, workers)
    api.extensions["peers"] = peers  # the serve role's calls in progress: controller/api/channels.py
    app = OpsApp(api, services.rds, metrics, watcher, settings.alert_max_delay, peers=peers)
    listen = settings.api_listen
    return ApiServer((listen.host, listen.port), app, log=None, error_log=logging.getLogger("controller.api.http"))


def run_api(args: argparse.Namespace, settings: Settings) -> int:
    scheduling.leave_realtime("api")  # not on the call path (controller/scheduling.py)
    services = Services.build(settings, connect(settings))
    peers = None
    if args.supervised:
        peers = roles.Peers(Path(args.supervised), [str(endpoint) for endpoint in settings.freeswitch])
    workers = WorkerPool()
    workers.start()  # warm: the first preview does not wait for them, and the role's memory is all there
    server = build_server(settings, services, peers.freeswitch if peers and settings.freeswitch else None, peers,
                          workers)
    server.start()
    start_trimmer()
    answering = roles.answer_supervisor(args.supervised, "api", {
        "address": f"{server.server_host}:{server.server_port}".encode,
    })
    announce(f"API listening on http://{server.server_host}:{server.server_port}/ (OpenAPI: /v2/openapi.json)")
    wait_for_stop_signal()
    server.stop(timeout=settings.drain_seconds)
    workers.close()
    if answering is not None:
        answering.stop()
    return 0
