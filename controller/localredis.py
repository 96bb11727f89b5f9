"""A private redis-server for `controller run` when no Redis is configured.

It listens on a unix socket only (`<dir>/redis.sock`: no port to collide with a system Redis, no
network exposure) and keeps its data in `<dir>` with both snapshots and the append-only file, so
nothing is lost across restarts. A supervising greenlet restarts it, with backoff, if it dies;
`stop` shuts it down cleanly (Redis saves on SIGTERM).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import gevent
from gevent import socket as gsocket
from gevent import subprocess

from controller import config
from controller.config import Settings

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0


class LocalRedisError(RuntimeError):
    """The private Redis cannot be started."""


def is_wanted(settings: Settings) -> bool:
    """No Redis configured (no `redis_url` in the TOML file or the environment, no Sentinels):
    the private one is used."""
    return "redis_url" not in config.given() and not settings.redis_sentinels


def socket_in(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve() / "redis" / "redis.sock"


def url_for(sock: Path) -> str:
    return f"unix://{sock}?db=0"


class LocalRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket = self.directory / "redis.sock"  # == socket_in(data_dir) for directory <data_dir>/redis
        self._process: subprocess.Popen[bytes] | None = None
        self._supervisor: gevent.Greenlet | None = None
        self._stopping = False

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
        ]

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._answers():
            raise LocalRedisError(f"a Redis already serves {self.socket} (is another `controller run` running?)")
        self._spawn()
        self._supervisor = gevent.spawn(self._supervise)

    def _spawn(self) -> None:
        self.socket.unlink(missing_ok=True)
        # Its own session: a signal to the controller's process group (Ctrl-C, `timeout`) does not
        # stop Redis under the roles still using it; `stop` shuts it down last.
        self._process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.socket.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise LocalRedisError(f"redis-server did not start; see {self.directory / 'redis.log'}")
            gevent.sleep(0.05)

    def _answers(self) -> bool:
        """Whether a live server listens on the socket (not just a file left by a killed one)."""
        if not self.socket.exists():
            return False
        try:
            with gsocket.socket(gsocket.AF_UNIX, gsocket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect(str(self.socket))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def _supervise(self) -> None:
        delay = 0.5
        while not self._stopping:
            process = self._process
            if process is not None:
                process.wait()
            if self._stopping:
                return
            code = process.returncode if process is not None else None
            log.error("private redis-server exited (%s); restarting in %.1f s", code, delay)
            gevent.sleep(delay)
            delay = min(delay * 2, 30.0)
            try:
                self._spawn()
                delay = 0.5
            except LocalRedisError:
                log.exception("private redis-server did not restart")

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
        if self._supervisor is not None:
            self._supervisor.kill(block=False)
