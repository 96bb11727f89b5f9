"""Operations endpoints beside the API, without a token: `/metrics` (Prometheus text format, this
process's registry) and `/healthz` (200 when Redis answers, every configured FreeSWITCH watcher is
connected and mail goes out, else 503 `degraded`, with the reason per check).

Under `controller run` the API is one role among others (controller/roles.py: Peers): `/metrics`
is then the sum of every role's registry, and `/healthz` also has a `roles` check, degraded while
the supervisor says a role (or the private Redis) is not up, naming it and why.

Mail goes out unless a live mail sender's deliveries have failed for more than `MAIL_FAILING`
seconds in a row (SMTP down, refusing, or the worker erring), or the oldest job neither delivered
nor dead-lettered is older than `alert_max_delay` (no worker running, a backlog, retries that do
not get through). Both are read from Redis, so any process serving the API sees every worker."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST

from controller.api.envelope import error_document
from controller.metrics import Metrics, summed
from controller.notify.queuestats import failing_workers, oldest_due_age
from controller.roles import UP, Peers

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PATHS = ("/metrics", "/healthz")
MAIL_FAILING = 60.0  # seconds of failed deliveries in a row before /healthz degrades


class OpsApp:
    """Routes `/metrics` and `/healthz` here and everything else to the API."""

    def __init__(self, api: WSGIApp, rds: redis.Redis, metrics: Metrics,
                 watcher: Callable[[], Mapping[str, bool]] | None = None, alert_max_delay: float = 300.0,
                 *, peers: Peers | None = None) -> None:
        self.api = api
        self.rds = rds
        self.metrics = metrics
        self.watcher = watcher
        self.alert_max_delay = alert_max_delay
        self.peers = peers

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in PATHS:
            return self.api(environ, start)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            only = {"method": {"enum": "only GET and HEAD are served here"}}
            refusal = error_document(405, "method not allowed", only, request_id=uuid.uuid4().hex)
            return _reply(start, "405 Method Not Allowed", json.dumps(refusal).encode(), "application/json",
                          [("Allow", "GET, HEAD")])
        if path == "/metrics":
            return _reply(start, "200 OK", self.exposition(), CONTENT_TYPE_LATEST)
        healthy, checks = self.health()
        body = json.dumps({"status": "ok" if healthy else "degraded", "checks": checks}).encode()
        return _reply(start, "200 OK" if healthy else "503 Service Unavailable", body, "application/json")

    def exposition(self) -> bytes:
        """This process's metrics, summed with the other roles' under `controller run`."""
        if self.peers is None:
            return self.metrics.exposition()
        return summed([self.metrics.exposition(), *self.peers.expositions()])

    def health(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        if self.peers is not None:
            checks["roles"] = self.peers.health()
        try:
            self.rds.ping()
            checks["redis"] = "ok"
        except redis.RedisError as exc:
            checks["redis"] = f"unreachable: {type(exc).__name__}"
        if self.watcher is not None:
            checks["freeswitch"] = {endpoint: "connected" if up else "disconnected"
                                    for endpoint, up in sorted(self.watcher().items())}
        if checks["redis"] == "ok":
            checks.update(self._mail())
        healthy = (all(checks.get(name, "ok") == "ok" for name in ("redis", "mail", "alerts"))
                   and all(v == "connected" for v in checks.get("freeswitch", {}).values())
                   and all(v == UP for v in checks.get("roles", {}).values()))
        return healthy, checks

    def _mail(self) -> dict[str, str]:
        """The mail checks: deliveries failing, alerts late."""
        now = time.time()
        try:
            failing = failing_workers(self.rds)
            age = oldest_due_age(self.rds, now)
        except redis.RedisError as exc:
            return {"mail": f"unknown: {type(exc).__name__}"}
        checks = {"mail": "ok", "alerts": "ok"}
        since = min(failing.values(), default=None)
        if since is not None and now - since > MAIL_FAILING:
            checks["mail"] = f"failing for {now - since:.0f} s ({', '.join(sorted(failing))})"
        if age is not None and age > self.alert_max_delay:
            checks["alerts"] = f"oldest undelivered alert is {age:.0f} s old (limit {self.alert_max_delay:g} s)"
        return checks


def _reply(start: Callable[..., Any], status: str, body: bytes, content_type: str,
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])])
    return [body]
