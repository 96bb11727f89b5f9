"""Helpers for the mail sender's fault tests: a redis-server of the test's own (append-only,
fsync on every write, so what it acknowledged survives a SIGKILL) that can be killed and started
again on the same port and data, a `controller mailer` process whose log is read back, and a TCP
proxy in front of Redis that can play a Redis still loading its data."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import gevent
from gevent import socket as gsocket
from gevent.server import StreamServer


class MailerProcess:
    """`controller mailer` with its log in a file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "controller", "mailer", *args], env=env,
                                         stdout=subprocess.DEVNULL, stderr=out)

    def lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if text in line]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def mailer_env(redis_url: str, smtp_port: int, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
    env.update({"CONTROLLER_REDIS_URL": redis_url, "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
                "CONTROLLER_LOG_LEVEL": "INFO"})
    env.update({f"CONTROLLER_{k.upper()}": v for k, v in more.items()})
    return env


class LoadingProxy:
    """Forwards to a real Redis, except while `loading`: then each connection is answered
    `-LOADING` (what redis-server says while it reads its data at start-up) and closed."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.loading = True
        self.refused = 0
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.server.server_port}/0"

    def _handle(self, sock: gsocket.socket, _: object) -> None:
        if self.loading:
            self.refused += 1
            sock.recv(65536)
            sock.sendall(b"-LOADING Redis is loading the dataset in memory\r\n")
            sock.close()
            return
        upstream = gsocket.create_connection(("127.0.0.1", self.target_port))
        pumps = [gevent.spawn(_pump, sock, upstream), gevent.spawn(_pump, upstream, sock)]
        gevent.joinall(pumps, count=1)
        gevent.killall(pumps)
        upstream.close()
        sock.close()

    def stop(self) -> None:
        self.server.stop(timeout=1)


def _pump(source: gsocket.socket, sink: gsocket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
