"""The serve role's live calls in a test: the outbound ESL server keeping its calls in memory
(LiveCalls, their records written by a CdrWriter), the role's socket answering `channels` and
`transfer`, and the API asking that socket, as `controller run` wires them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controller import roles
from controller.api.app import close_app, create_app
from controller.api.server import ApiServer
from controller.config import EslEndpoint
from controller.esl.lifecycle import CallLifecycle
from controller.esl.livecalls import LiveCalls
from controller.esl.server import OutboundServer
from controller.executor import Executor
from controller.modules import REGISTRY
from controller.services import Services
from controller.store.cdrs import CdrWriter


@contextmanager
def serving_live_calls(services: Services, run_dir: Path,
                       freeswitch: tuple[EslEndpoint, ...] = ()) -> Iterator[tuple[OutboundServer, LiveCalls]]:
    """The outbound server and its live calls, the serve role's socket in `run_dir`."""
    live = LiveCalls(CdrWriter(services.rds, services.settings.cdr_days, window=0.01), freeswitch)
    server = OutboundServer(services.settings, CallLifecycle(services, Executor(REGISTRY), live=live))
    serve_socket = roles.RoleSocket(roles.socket_path(run_dir, "serve"), {},
                                    {"channels": live.answer, "transfer": live.transfer})
    server.start()
    serve_socket.start()
    try:
        yield server, live
    finally:
        serve_socket.stop()
        server.stop(drain_seconds=2)


@contextmanager
def api_asking_serve(services: Services, run_dir: Path) -> Iterator[str]:
    """The API, asking the serve role's socket in `run_dir`; yields its base URL."""
    app = create_app(services)
    app.extensions["peers"] = roles.Peers(run_dir, [])
    api = ApiServer(("127.0.0.1", 0), app, log=None)
    api.start()
    try:
        yield f"http://127.0.0.1:{api.server_port}"
    finally:
        api.stop(timeout=2)
        close_app(app)
