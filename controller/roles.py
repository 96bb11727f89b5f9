"""How `controller run`'s supervisor and its role processes learn of each other: files in
`<data_dir>/run/`, nothing shared in memory.

- `<role>.sock`: each supervised role (`serve`, `api`, `mailer`) answers one-word questions on a
  unix socket of its own. `health` is the supervisor's liveness check: the answer comes from the
  role's event loop, so a loop stalled by a CPU-bound request or template does not answer (a pid
  that merely exists would). `metrics` is the role's Prometheus exposition, which the API role
  sums into its `/metrics`; `address` is where the role listens; the ESL role also answers
  `freeswitch` (its watcher's connections, for `/healthz`), `channels <account id>` (its
  calls in progress, for the API's `/channels`) and `transfer <account id> <uuid> <target>`.
- `roles.json`: the supervisor's view of every child (`up`, `starting`, `down`, `stopping`), with
  its pid, restarts and why it is down, rewritten whenever one changes; the API role's `/healthz`
  reads it to degrade while a role is down or restarting.

Postfix's master(8) learns of its children through a status pipe; Kazoo's OTP supervisors through
links. A socket per role does both jobs here, and the file lets any process read the run's state.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gevent.server import StreamServer

log = logging.getLogger(__name__)

ROLES = ("serve", "api", "mailer")
STATES = "roles.json"
ASK_TIMEOUT = 2.0
UP = "up"

Answer = Callable[[], bytes]
Query = Callable[[str], bytes]


def run_dir(data_dir: str | Path) -> Path:
    """Where a run's sockets and state file live."""
    return Path(data_dir).resolve() / "run"


def socket_path(directory: Path, role: str) -> Path:
    return directory / f"{role}.sock"


def add_option(parser: argparse.ArgumentParser) -> None:
    """`--supervised RUN_DIR`: how the supervisor starts a role (not for operators: hidden)."""
    parser.add_argument("--supervised", metavar="RUN_DIR", help=argparse.SUPPRESS)


class RoleSocket:
    """A role's side: answers the supervisor's and its peers' questions, one per connection."""

    def __init__(self, path: Path, answers: Mapping[str, Answer], queries: Mapping[str, Query] | None = None) -> None:
        self.path = path
        self.answers: dict[str, Answer] = {"health": lambda: b"ok", **answers}
        self.queries: dict[str, Query] = dict(queries or {})  # `word argument` questions
        self._server: StreamServer | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        os.chmod(self.path, 0o600)
        listener.listen(64)
        self._server = StreamServer(listener, self._answer)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.path.unlink(missing_ok=True)

    def _answer(self, sock: socket.socket, address: Any) -> None:
        sock.settimeout(ASK_TIMEOUT)
        try:
            question = _read_line(sock)
            answer = self.answers.get(question)
            word, _, argument = question.partition(" ")
            query = self.queries.get(word) if answer is None else None
            sock.sendall(answer() if answer is not None else query(argument) if query is not None else b"")
        except OSError:
            pass  # the asker gave up: nothing to tell anyone


def _read_line(sock: socket.socket) -> str:
    data = b""
    while b"\n" not in data and len(data) < 256:
        chunk = sock.recv(64)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].strip().decode(errors="replace")


def ask(path: Path, question: str, timeout: float = ASK_TIMEOUT) -> bytes:
    """A role's answer, read to the end; OSError (a timeout included) when it does not answer
    within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(question.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{path.name} did not finish answering {question!r} in {timeout:g} s")
            sock.settimeout(left)
        return b"".join(chunks)


def answer_supervisor(
    directory: str | None, role: str, answers: Mapping[str, Answer], queries: Mapping[str, Query] | None = None
) -> RoleSocket | None:
    """A supervised role's socket, listening (None when the role runs on its own)."""
    if directory is None:
        return None
    role_socket = RoleSocket(socket_path(Path(directory), role), answers, queries)
    role_socket.start()
    return role_socket


@dataclasses.dataclass(frozen=True)
class ChildState:
    """One child as the supervisor sees it."""

    state: str  # starting, up, down (exited or killed, restart pending), stopping, stopped
    pid: int | None = None
    restarts: int = 0
    detail: str = ""  # why it is down: "killed by SIGKILL", "did not answer for 10 s", ...
    since: float = dataclasses.field(default_factory=time.time)

    def describe(self) -> str:
        """`up`, or the state and why (what `/healthz` shows for the child)."""
        if self.state == UP:
            return UP
        return f"{self.state}: {self.detail}" if self.detail else self.state


def write_states(directory: Path, states: Mapping[str, ChildState]) -> None:
    """Replace `roles.json` at once (a reader sees the old file or the new one, never half)."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{STATES}.{os.getpid()}"
    temporary.write_text(json.dumps({name: dataclasses.asdict(state) for name, state in states.items()}))
    temporary.replace(directory / STATES)


def read_states(directory: Path) -> dict[str, ChildState]:
    """The supervisor's last word on each child ({} when it wrote none)."""
    try:
        found = json.loads((directory / STATES).read_text())
    except (OSError, ValueError):
        return {}
    return {str(name): ChildState(**state) for name, state in found.items()}


class Peers:
    """What the API role of a run learns of the others: their state (from the supervisor's
    file), their metrics and the watcher's connections (asked of the roles themselves)."""

    def __init__(self, directory: Path, endpoints: Sequence[str], timeout: float = 1.0) -> None:
        self.directory = directory
        self.endpoints = list(endpoints)
        self.timeout = timeout

    def health(self) -> dict[str, str]:
        """Each child: `up` or what it is instead, e.g. `down: killed by SIGKILL`."""
        states = read_states(self.directory)
        if not states:
            return {"supervisor": f"unknown: no readable {STATES} in {self.directory}"}
        return {name: state.describe() for name, state in states.items()}

    def expositions(self) -> list[bytes]:
        """The metrics of every other role that answers now (a role being restarted has none)."""
        found = []
        for role in ROLES:
            if role != "api":
                try:
                    found.append(ask(socket_path(self.directory, role), "metrics", self.timeout))
                except OSError as exc:
                    log.debug("no metrics from %s: %s", role, exc)
        return found

    def channels(self, aid: str) -> list[dict[str, Any]]:
        """The account's calls in progress on the ESL role (controller/esl/livecalls.py); OSError
        when it does not answer."""
        found = json.loads(ask(socket_path(self.directory, "serve"), f"channels {aid}", self.timeout) or b"[]")
        return [dict(item) for item in found] if isinstance(found, list) else []

    def transfer(self, aid: str, uuid: str, target: str) -> str:
        """Have the ESL role transfer one of its calls (controller/esl/livecalls.py): `+OK` or
        `-ERR` and why; OSError when it does not answer."""
        return ask(socket_path(self.directory, "serve"), f"transfer {aid} {uuid} {target}", 10.0).decode()

    def freeswitch(self) -> dict[str, bool]:
        """The ESL role's watcher connections (all down while it does not answer)."""
        try:
            answer = json.loads(ask(socket_path(self.directory, "serve"), "freeswitch", self.timeout))
        except (OSError, ValueError):
            return dict.fromkeys(self.endpoints, False)
        return {endpoint: bool(answer.get(endpoint)) for endpoint in self.endpoints}
