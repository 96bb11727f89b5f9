"""Operations endpoints beside the API, without a token: `/metrics` (Prometheus text format, this
process's registry) and `/healthz` (200 when Redis answers and every configured FreeSWITCH
watcher is connected, else 503, with the reason per check)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST

from controller.metrics import Metrics

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PATHS = ("/metrics", "/healthz")


class OpsApp:
    """Routes `/metrics` and `/healthz` here and everything else to the API."""

    def __init__(self, api: WSGIApp, rds: redis.Redis, metrics: Metrics,
                 watcher: Callable[[], Mapping[str, bool]] | None = None) -> None:
        self.api = api
        self.rds = rds
        self.metrics = metrics
        self.watcher = watcher

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in PATHS:
            return self.api(environ, start)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _reply(start, "405 Method Not Allowed", b"", "text/plain", [("Allow", "GET, HEAD")])
        if path == "/metrics":
            return _reply(start, "200 OK", self.metrics.exposition(), CONTENT_TYPE_LATEST)
        healthy, checks = self.health()
        body = json.dumps({"status": "ok" if healthy else "degraded", "checks": checks}).encode()
        return _reply(start, "200 OK" if healthy else "503 Service Unavailable", body, "application/json")

    def health(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        try:
            self.rds.ping()
            checks["redis"] = "ok"
        except redis.RedisError as exc:
            checks["redis"] = f"unreachable: {type(exc).__name__}"
        if self.watcher is not None:
            checks["freeswitch"] = {endpoint: "connected" if up else "disconnected"
                                    for endpoint, up in sorted(self.watcher().items())}
        healthy = checks["redis"] == "ok" and all(v == "connected" for v in checks.get("freeswitch", {}).values())
        return healthy, checks


def _reply(start: Callable[..., Any], status: str, body: bytes, content_type: str,
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])])
    return [body]
