"""`controller run` as a test drives it: a subprocess on free ports in a scratch folder, its output
in a log file (read while it runs, never a pipe that could fill), its children found through the
supervisor's `roles.json`, and every process it started gone when the test ends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.conftest import free_port
from tests.office import flow, node


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
    (folder / "none.toml").touch()
    env.update({
        "CONTROLLER_CONFIG": str(folder / "none.toml"),
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{free_port()}",
        "CONTROLLER_API_LISTEN": f"127.0.0.1:{free_port()}",
        "CONTROLLER_DATA_DIR": str(folder / "var"),
        "CONTROLLER_OUTBOX_DIR": str(folder / "outbox"),
        "CONTROLLER_LINGER_SECONDS": "1",
        "CONTROLLER_DRAIN_SECONDS": "5",
        "CONTROLLER_JOB_LEASE_SECONDS": "5",
        "XDG_STATE_HOME": str(folder / "state"),  # where a run on a relative data directory records itself
    })
    return env


def controller(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def wait_until(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Run:
    """One `controller run` process and what it wrote."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.api = "http://" + env["CONTROLLER_API_LISTEN"]
        self.run_dir = (cwd / env.get("CONTROLLER_DATA_DIR", "var")).resolve() / "run"

    def start(self, announced: bool = True) -> Run:
        """Start it; when `announced`, wait until it says where mail goes (every role is up)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "controller", "run"], env=self.env, cwd=self.cwd,
                                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if announced:
            self.wait_for("controller: mail:")
        return self

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, line: str, timeout: float = 30) -> None:
        def seen() -> bool:
            assert self.process is not None
            if line in self.text:
                return True
            assert self.process.poll() is None, f"controller run exited early:\n{self.text}"
            return False

        wait_until(seen, timeout, repr(line))

    def roles(self) -> dict[str, dict[str, Any]]:
        with contextlib.suppress(OSError, ValueError):
            return dict(json.loads((self.run_dir / "roles.json").read_text()))
        return {}

    def pid(self, role: str) -> int:
        return int(self.roles()[role]["pid"])

    def wait_up(self, role: str, not_pid: int | None = None, timeout: float = 30) -> int:
        """The pid of `role` once it is up (another than `not_pid`)."""
        def up() -> int | None:
            state = self.roles().get(role, {})
            if state.get("state") == "up" and state.get("pid") != not_pid:
                return int(state["pid"])
            return None

        return int(wait_until(up, timeout, f"{role} up again"))

    def health(self) -> tuple[int, dict[str, Any]]:
        reply = requests.get(self.api + "/healthz", timeout=5)
        return reply.status_code, reply.json()

    def stop(self, timeout: float = 40) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self, timeout: float = 40) -> None:
        """The end of a test: a run still going is stopped as an operator would (SIGTERM: every
        role and the private Redis stopped in order), killed only if it does not stop."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.stop(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def leftovers(marker: Path) -> list[str]:
    """Processes other than this one whose command line or environment names `marker` (the
    test's folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if str(marker) in command or str(marker).encode() in (entry / "environ").read_bytes():
                found.append(f"{entry.name} {command}")
    return found


def end_leftovers(marker: Path, timeout: float = 15) -> list[str]:
    """What was still running of the test's processes after `timeout` s (then killed): a test
    fails on any."""
    deadline = time.monotonic() + timeout
    while leftovers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = leftovers(marker)
    for line in left:
        with contextlib.suppress(OSError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    return left


RING_ANN = node("user", {"id": "u-ann", "timeout": 20}, _=node("voicemail", {"id": "vm-ann"}))
ALERTED = flow("+15554441111", node("missed_call_alert", {"recipients": [{"type": "user", "id": "u-ann"}]}, _=RING_ANN))
