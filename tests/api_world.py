"""The HTTP API served by gevent's WSGI server on a free loopback port, a client for it, and a
small tree of accounts with tokens:

    reseller ── child ── grandchild        other (a separate customer)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import redis
import requests

from controller.api.app import close_app, create_app
from controller.api.server import ApiServer
from controller.config import EslEndpoint, Settings
from controller.lab.inbound import InboundServer
from controller.services import Services
from controller.store.tokens import Tokens
from controller.workers.pool import WorkerPool

ACCOUNTS = (
    {"id": "reseller", "name": "Reseller", "realm": "reseller.test"},
    {"id": "child", "name": "Child Office", "realm": "child.test", "parent_id": "reseller"},
    {"id": "grandchild", "name": "Grandchild", "realm": "grand.test", "parent_id": "child"},
    {"id": "other", "name": "Other Customer", "realm": "other.test"},
)


@dataclasses.dataclass
class Client:
    base: str
    tokens: dict[str, str]
    session: requests.Session

    def call(self, method: str, path: str, who: str | None = "reseller", **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if who is not None:
            headers.setdefault("X-Auth-Token", self.tokens.get(who, who))
        return self.session.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def ok(self, method: str, path: str, who: str | None = "reseller", **kwargs: Any) -> Any:
        response = self.call(method, path, who, **kwargs)
        assert response.status_code in (200, 201, 202), (response.status_code, response.text)
        return response.json()["data"]


@contextmanager
def serve_api(services: Services, workers: WorkerPool | None = None) -> Iterator[Client]:
    """The accounts above with their tokens, and the API serving them (a test module's `api`
    fixture wraps this), its CPU-heavy work done by `workers` (else by a pool of its own)."""
    for account in ACCOUNTS:
        services.accounts.save(dict(account))
    tokens = Tokens(services.rds)
    secrets = {
        "super": tokens.create("reseller", super_admin=True)[0],
        "reseller": tokens.create("reseller", admin=True)[0],
        "reseller_ro": tokens.create("reseller")[0],
        "child": tokens.create("child", admin=True)[0],
        "other": tokens.create("other", admin=True)[0],
    }
    app = create_app(services, workers)
    server = ApiServer(("127.0.0.1", 0), app, log=None)
    server.start()
    session = requests.Session()
    try:
        yield Client(f"http://127.0.0.1:{server.server_port}", secrets, session)
    finally:
        session.close()
        server.stop(timeout=2)
        close_app(app)


@contextmanager
def simulated_switch(apis: Mapping[str, Callable[[list[str]], str]]) -> Iterator[InboundServer]:
    """The simulator's inbound event socket answering these `api` commands (a module's
    `switch` fixture wraps this)."""
    server = InboundServer()
    server.apis.update(apis)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def serve_api_asking(settings: Settings, rds: redis.Redis, switch: InboundServer) -> Iterator[Client]:
    """serve_api, its CONTROLLER_FREESWITCH the simulated switch."""
    host, port = switch.address
    services = Services.build(dataclasses.replace(settings, freeswitch=(EslEndpoint(host, port, "ClueCon"),)), rds)
    with serve_api(services) as client:
        yield client
