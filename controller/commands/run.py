"""`controller run`: every role in one process — the outbound ESL server, the inbound FreeSWITCH
watcher, the HTTP API and the mail sender — with the embedded defaults. With no Redis configured
(`redis_url` neither in the TOML file nor in the environment) a private redis-server is started
and supervised, its data in `./var/redis`; with no SMTP server, mail lands in the outbox
directory. SIGTERM or SIGINT stops accepting calls and requests, lets calls finish (up to
`drain_seconds`), finishes the job in hand, then stops the private Redis."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

import gevent

from controller import localredis
from controller.commands.api import build_server
from controller.commands.mailer import build_mailer
from controller.commands.serve import build_call_side
from controller.commands.stopping import wait_for_stop_signal
from controller.config import Settings
from controller.esl.server import settle_garbage_collector
from controller.localredis import LocalRedis, LocalRedisError
from controller.metrics import Metrics
from controller.services import Services
from controller.store.connection import connect

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser("run", help="run every role in one process (ESL server, watcher, API, mailer)")
    parser.set_defaults(run=run_all)


def run_all(args: argparse.Namespace, settings: Settings) -> int:
    local = None
    if localredis.is_wanted(settings):
        local = LocalRedis(Path(settings.data_dir) / "redis")
        try:
            local.start()
        except LocalRedisError as exc:
            print(f"controller: {exc}", flush=True)
            return 1
        settings = dataclasses.replace(settings, redis_url=local.url)
    try:
        return _serve(settings, local)
    finally:
        if local is not None:
            local.stop()


def _serve(settings: Settings, local: LocalRedis | None) -> int:
    metrics = Metrics()
    services = Services.build(settings, connect(settings), metrics)
    esl, watcher = build_call_side(settings, services)
    api = build_server(settings, services, (lambda: watcher.connected) if settings.freeswitch else None)
    mailer = build_mailer(settings, name=None, metrics=metrics)
    esl.start()
    watcher.start()
    api.start()
    delivering = gevent.spawn(mailer.run)
    settle_garbage_collector()
    _announce(settings, local, esl.address, (api.server_host, api.server_port))
    wait_for_stop_signal()
    log.info("stopping: no new calls, %d in progress", esl.active_calls)
    mailer.stopping.set()
    api.stop(timeout=settings.drain_seconds)
    esl.stop()
    watcher.stop()
    delivering.join(timeout=settings.job_lease_seconds)
    return 0


def _announce(settings: Settings, local: LocalRedis | None, esl: tuple[str, int], api: tuple[str, int]) -> None:
    lines = [
        f"outbound ESL server on {esl[0]}:{esl[1]} (dialplan: socket {esl[0]}:{esl[1]} async full)",
        f"HTTP API on http://{api[0]}:{api[1]}/v2/ (metrics: /metrics, health: /healthz)",
        f"Redis: {'private, data in ' + str(local.directory) if local else settings.redis_url}",
        f"mail: {settings.smtp_url or 'written as .eml files into ' + str(Path(settings.outbox_dir).resolve())}",
    ]
    lines += [f"watching FreeSWITCH {endpoint}" for endpoint in settings.freeswitch]
    for line in lines:
        print(f"controller: {line}", flush=True)
