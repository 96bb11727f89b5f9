"""What the lab's benchmarks start and wait for: free loopback ports, a deadline on a condition,
and child processes with their output in a log file (stopped with SIGTERM, then SIGKILL)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import gevent

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 30.0


class WaitTimeoutError(RuntimeError):
    """A condition a benchmark waited for did not come in time."""


def free_port() -> int:
    """A loopback port free for both TCP and UDP (a SIP profile binds both)."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def wait_until(condition: Callable[[], object], seconds: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise WaitTimeoutError(f"timed out after {seconds:.0f} s waiting for {what}")
        gevent.sleep(step)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """One child process with its output appended to a log file; started again with the same
    command and log after a kill. As a context manager: started, and stopped at the end."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.command, self.log, self.env = command, log, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env, cwd=ROOT)
        return self

    def __enter__(self) -> Process:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.command!r} was not started")
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, the fault: nothing is flushed or handed back."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if not self.alive:
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def wait_port(self, port: int, seconds: float = START_SECONDS) -> None:
        def up() -> bool:
            if not self.alive:
                code = self.proc.returncode if self.proc is not None else None
                raise RuntimeError(f"{' '.join(self.command[2:4])} exited with {code}; see {self.log}")
            return listening(port)

        wait_until(up, seconds, f"{self.command[-1]} to listen on {port}")
