"""A private redis-server for `controller run` when no Redis is configured.

It listens on a unix socket only (`<dir>/redis.sock`: no port to collide with a system Redis, no
network exposure) and keeps its data in `<dir>` with both snapshots and the append-only file, so
nothing is lost across restarts. It is one of the supervisor's children (controller/supervisor.py:
restarted if it dies, stopped last, with SIGTERM, on which Redis saves); it writes its pid to
`<dir>/redis.pid`, by which a run finds and stops one that a killed run left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import gevent
from gevent import subprocess

from controller import children, config
from controller.config import Settings

log = logging.getLogger(__name__)

LEFTOVER_STOP_SECONDS = 10.0
ALIVE_REPLIES = (b"+PONG", b"-NOAUTH", b"-LOADING")  # a server loading its data is alive, not ready


class LocalRedisError(RuntimeError):
    """The private Redis cannot be started."""


def is_wanted(settings: Settings, environ: Mapping[str, str] | None = None) -> bool:
    """No Redis configured (no `redis_url` in the TOML file or the environment, no Sentinels):
    the private one is used."""
    return "redis_url" not in config.given(environ) and not settings.redis_sentinels


def socket_in(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve() / "redis" / "redis.sock"


def url_for(sock: Path) -> str:
    return f"unix://{sock}?db=0"


class LocalRedis:
    """The private Redis as a supervised child (the supervisor's `Child`)."""

    name = "redis"
    stop_seconds = 10.0

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket = self.directory / "redis.sock"  # == socket_in(data_dir) for directory <data_dir>/redis
        self.pidfile = self.directory / "redis.pid"

    @property
    def url(self) -> str:
        return url_for(self.socket)

    def command(self) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise LocalRedisError("redis-server is not installed (conf/bootstrap.sh installs it)")
        return [
            binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "300 1 60 1000", "--daemonize", "no", "--logfile", str(self.directory / "redis.log"),
            "--pidfile", str(self.pidfile),
        ]

    def spawn(self) -> subprocess.Popen[bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        return children.spawn(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers(self, timeout: float = 1.0) -> bool:
        """Whether a live server listens on the socket (not just a file left by a killed one)."""
        if not self.socket.exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(self.socket))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(ALIVE_REPLIES)
        except OSError:
            return False

    def stop_leftover(self) -> str | None:
        """Stop a private Redis that a killed run left in this directory (call it holding the run's
        lock: then no run owns it); what was done, or None when there was none. It is stopped
        rather than reused: a server that is not our child could be neither waited on, nor
        restarted, nor made to die with this run."""
        pid = self._leftover_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)  # Redis saves and exits
            if not _wait(lambda: not _is_redis(pid), LEFTOVER_STOP_SECONDS):
                os.kill(pid, signal.SIGKILL)
            return f"stopped the private redis-server (pid {pid}) left by a killed run; starting a new one"
        if self.answers():  # no pid file (or not ours): ask it to shut down
            self._send(b"SHUTDOWN\r\n")
            if not _wait(lambda: not self.answers(), LEFTOVER_STOP_SECONDS):
                raise LocalRedisError(f"a Redis on {self.socket} left by a killed run would not shut down")
            return f"shut down the Redis left on {self.socket} by a killed run; starting a new one"
        return None

    def _leftover_pid(self) -> int | None:
        try:
            text = self.pidfile.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() and _is_redis(int(text)) else None

    def _send(self, command: bytes) -> None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2.0)
                sock.connect(str(self.socket))
                sock.sendall(command)
                sock.recv(64)
        except OSError:
            pass  # SHUTDOWN closes the connection without a reply


def _is_redis(pid: int) -> bool:
    """Whether `pid` is a live redis-server (not a zombie, nor another program that reused it)."""
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.05)
    return True
