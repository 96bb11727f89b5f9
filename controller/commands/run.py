"""`controller run`: every role as a process of its own — the outbound ESL server with the inbound
FreeSWITCH watcher (`controller serve`), the HTTP API (`controller api`) and the mail sender
(`controller mailer`) — under one supervisor (controller/supervisor.py), with the embedded
defaults. With no Redis configured (`redis_url` neither in the TOML file nor in the environment)
a private redis-server is started first, its data in `<data_dir>/redis`; with no SMTP server,
mail lands in the outbox directory.

The run holds `<data_dir>/run.lock` (controller/runlock.py): a second run on the same data is
refused; a private Redis left by a killed run is stopped and started afresh. A run on a relative
data directory (the default) records where it is in the user's state directory, so that commands
started in another directory find it (controller/runrecord.py). SIGTERM or SIGINT
stops the roles in order: no new calls (calls in progress finish, up to `drain_seconds`), then
the API, then the mail sender (it finishes the job in hand), then the private Redis."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from gevent import subprocess

from controller import children, localredis, roles, runrecord
from controller.config import Settings
from controller.localredis import LocalRedis, LocalRedisError
from controller.logcontext import announce
from controller.roles import ask, socket_path
from controller.runlock import RunLock, RunLockError
from controller.supervisor import Child, Policy, Supervisor

log = logging.getLogger(__name__)

LOCK_WAIT_MARGIN = 20.0  # beyond the drain, for the roles of a killed run to end


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "run", help="run everything: the ESL server, the API and the mail sender, under one supervisor",
        description="Run every role (`serve`, `api`, `mailer`), each in a process of its own, under one "
        "supervisor that restarts any that dies; with no CONTROLLER_REDIS_URL, a private Redis in "
        "CONTROLLER_DATA_DIR first. It prints where everything listens. Ctrl-C or SIGTERM stops the roles in "
        "order, letting calls in progress finish.")
    parser.set_defaults(run=run_all)


class RoleProcess:
    """A role as the supervisor's child: `python -m controller <role> --supervised <run dir>`,
    with this run's environment (and its private Redis), holding the run's lock."""

    def __init__(self, name: str, directory: Path, env: dict[str, str], lock_fd: int, stop_seconds: float) -> None:
        self.name = name
        self.stop_seconds = stop_seconds
        self.socket = socket_path(directory, name)
        self.argv = [sys.executable, "-m", "controller", name, "--supervised", str(directory)]
        self.env = env
        self.lock_fd = lock_fd

    def spawn(self) -> subprocess.Popen[bytes]:
        self.socket.unlink(missing_ok=True)  # a killed predecessor's: `answers` must not see it
        # stdout: the run announces where each role listens, the roles need not; logs go to stderr.
        return children.spawn(self.argv, self.env, pass_fds=(self.lock_fd,), stdout=subprocess.DEVNULL)

    def answers(self, timeout: float) -> bool:
        try:
            return ask(self.socket, "health", timeout) == b"ok"
        except OSError:
            return False


def run_all(args: argparse.Namespace, settings: Settings) -> int:
    data = Path(settings.data_dir).resolve()
    lock = RunLock(data / "run.lock")
    try:
        lock.acquire(wait=settings.drain_seconds + LOCK_WAIT_MARGIN)
    except RunLockError as exc:
        announce(f"refusing to start: {exc}", logging.ERROR)
        return 1
    with lock:
        local = LocalRedis(data / "redis") if localredis.is_wanted(settings) else None
        try:
            tiers = _children(settings, local, roles.run_dir(data), lock)
        except LocalRedisError as exc:
            announce(str(exc), logging.ERROR)
            return 1
        recorded = runrecord.write(settings)  # for commands started in another directory
        try:
            return _supervise(settings, local, tiers, roles.run_dir(data))
        finally:
            if recorded is not None:
                runrecord.remove()


def _children(settings: Settings, local: LocalRedis | None, directory: Path, lock: RunLock) -> list[list[Child]]:
    """The private Redis (a killed run's leftover stopped first), then the three roles."""
    env = dict(os.environ)
    tiers: list[list[Child]] = []
    if local is not None:
        local.command()  # redis-server installed? (else LocalRedisError, before anything starts)
        done = local.stop_leftover()
        if done:
            log.warning("%s", done)
        env["CONTROLLER_REDIS_URL"] = local.url
        tiers.append([local])
    assert lock.fd is not None
    grace = {"serve": settings.drain_seconds + 10, "api": settings.drain_seconds + 5,
             "mailer": settings.job_lease_seconds + 5}
    tiers.append([RoleProcess(name, directory, env, lock.fd, grace[name]) for name in roles.ROLES])
    return tiers


def _supervise(settings: Settings, local: LocalRedis | None, tiers: list[list[Child]], directory: Path) -> int:
    supervisor = Supervisor(tiers, directory, Policy(liveness=settings.liveness_seconds))
    supervisor.stop_on_signals()
    try:
        if supervisor.start():
            _announce(settings, local, directory)
            supervisor.wait()
    finally:
        supervisor.stop()
    if supervisor.failure is not None:
        announce(f"{supervisor.failure}; every role stopped", logging.ERROR)
        return 1
    return 0


def _announce(settings: Settings, local: LocalRedis | None, directory: Path) -> None:
    esl = _address(directory, "serve", str(settings.esl_listen))
    lines = [
        f"outbound ESL server on {esl} (dialplan: socket {esl} async full)",
        f"HTTP API on http://{_address(directory, 'api', str(settings.api_listen))}/ "
        "(what it offers and how to get a token; metrics: /metrics, health: /healthz)",
        f"Redis: {'private, data in ' + str(local.directory) if local else settings.redis_url}",
        f"mail: {settings.smtp_url or 'written as .eml files into ' + str(Path(settings.outbox_dir).resolve())}, "
        f"from {settings.mail_from or 'no-reply@<the account realm> (CONTROLLER_MAIL_FROM to choose)'}",
    ]
    lines += [f"watching FreeSWITCH {endpoint}" for endpoint in settings.freeswitch]
    for line in lines:
        announce(line)


def _address(directory: Path, role: str, configured: str) -> str:
    """Where the role listens, as it says (the configured address if it does not say)."""
    try:
        return ask(socket_path(directory, role), "address").decode() or configured
    except OSError:
        return configured
