"""The system `controller lab attack` attacks, started as an operator starts it: `controller run`
(its private Redis, its roles) from environment variables alone, in a folder of its own, mail
written to an outbox folder. Then, as an operator would: a bootstrap account from a bundle
(`controller flows load`) and a super admin token (`controller tokens create --super`); through the
API with that token, two customer accounts A and B, each with a user and callflows; for each an
admin and a read-only token (`controller tokens create`: the API creates no tokens).

Beside it runs the normal traffic (controller/lab/attack_probe.py) in its own process. The world
also measures what an attack must not change: the resident memory of `controller run`, its role
processes and the API's workers (not its Redis), the roles' restarts (the supervisor's
`roles.json`), and the run's log (a traceback is a failure).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
import requests

from controller import localredis
from controller.lab.fault_world import leftovers
from controller.lab.processes import Process, free_port, listening, wait_until

ROOT_ACCOUNT = "labroot"
PROBE_NUMBER = "+15550100001"  # account A: answer, a short tone, hangup (the concurrent normal call)
ALERT_NUMBER = "+15550100002"  # account A: missed_call_alert to a user, then a phone nobody answers
B_NUMBER = "+15550200001"  # account B's own number
START_SECONDS = 60.0
ROLES = ("serve", "api", "mailer")
API_WORKER = "controller.workers"


def _answer_flow() -> dict[str, Any]:
    return {"module": "answer", "data": {}, "children": {"_": {
        "module": "play", "data": {"id": "tone_stream://%(20,0,440)"}, "children": {"_": {
            "module": "hangup", "data": {}, "children": {}}}}}}


def alert_flow(user_id: str) -> dict[str, Any]:
    return {"module": "missed_call_alert", "data": {"recipients": [{"type": "user", "id": user_id}]},
            "children": {"_": {"module": "user", "data": {"id": user_id, "timeout": 5}, "children": {}}}}


@dataclasses.dataclass
class Verdict:
    """What one attack found: whether the expected refusal or limit happened, and what was seen
    (a few short lines: the figures when it held, the evidence when it broke)."""

    held: bool
    seen: list[str] = dataclasses.field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        """One expectation: `what` is kept either way, marked when it failed."""
        self.seen.append(what if ok else f"BROKEN: {what}")
        self.held = self.held and ok


@dataclasses.dataclass
class Tenant:
    """A customer account made through the API, its user, and its tokens."""

    id: str
    name: str
    realm: str
    user: str = ""
    admin: str = ""
    read_only: str = ""
    callflows: dict[str, str] = dataclasses.field(default_factory=dict)  # number -> callflow id


class World:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder.resolve()
        self.data = self.folder / "var"
        self.voicemail = self.folder / "voicemail"
        self.outbox = self.folder / "outbox"
        for path in (self.voicemail, self.outbox):
            path.mkdir(exist_ok=True)
        self.esl_port, self.api_port = free_port(), free_port()
        self.log = self.folder / "run.log"
        self.run = Process([sys.executable, "-m", "controller", "run"], self.log, self.env())
        self.probe: Process | None = None
        self.probe_file = self.folder / "probes.jsonl"
        self.http = requests.Session()
        self.super_token = ""
        self.a = Tenant("", "Alpha Dental", "alpha.example")
        self.b = Tenant("", "Bravo Freight", "bravo.example")
        self._rds: redis.Redis | None = None

    # --- the system ----------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
        (self.folder / "none.toml").touch()
        env.update({
            "CONTROLLER_CONFIG": str(self.folder / "none.toml"), "CONTROLLER_DATA_DIR": str(self.data),
            "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{self.esl_port}",
            "CONTROLLER_API_LISTEN": f"127.0.0.1:{self.api_port}",
            "CONTROLLER_OUTBOX_DIR": str(self.outbox), "CONTROLLER_VOICEMAIL_DIR": str(self.voicemail),
            "CONTROLLER_LOG_LEVEL": "INFO",
        })
        env.update(extra)
        return env

    @property
    def esl(self) -> tuple[str, int]:
        return ("127.0.0.1", self.esl_port)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def redis_url(self) -> str:
        return localredis.url_for(localredis.socket_in(self.data))

    @property
    def rds(self) -> redis.Redis:
        """This process's client of the run's private Redis."""
        if self._rds is None:
            self._rds = redis.Redis.from_url(self.redis_url, decode_responses=True, socket_timeout=10)
        return self._rds

    def start(self) -> None:
        self.run.start()
        wait_until(lambda: "HTTP API on" in self.log_text(), START_SECONDS, "controller run's banner")
        self.run.wait_port(self.esl_port, START_SECONDS)
        self.run.wait_port(self.api_port, START_SECONDS)
        self._bootstrap()
        self.probe = Process([sys.executable, "-m", "controller.lab.attack_probe", f"127.0.0.1:{self.esl_port}",
                              f"127.0.0.1:{self.api_port}", PROBE_NUMBER, self.a.id, str(self.probe_file)],
                             self.folder / "probe.log")
        self.probe.start()
        wait_until(lambda: bool(self.probes(0.0)), 30.0, "the first probe")

    def cli(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "controller", *args], env=env or self.env(), capture_output=True,
                              text=True, timeout=timeout, check=False, cwd=self.folder)

    def _bootstrap(self) -> None:
        bundle = self.folder / "root.json"
        bundle.write_text(json.dumps({"account": {"id": ROOT_ACCOUNT, "name": "Lab operator", "realm": "lab.example"}}))
        loaded = self.cli("flows", "load", str(bundle))
        if loaded.returncode != 0:
            raise RuntimeError(f"flows load: {loaded.stdout}{loaded.stderr}")
        self.super_token = self.token(ROOT_ACCOUNT, "--super")
        for tenant, numbers in ((self.a, [PROBE_NUMBER, ALERT_NUMBER]), (self.b, [B_NUMBER])):
            made = self.ok("PUT", "/v2/accounts", json={"data": {"name": tenant.name, "realm": tenant.realm}})
            tenant.id = made["id"]
            user = self.ok("PUT", f"/v2/accounts/{tenant.id}/users", json={"data": {
                "first_name": tenant.name.split()[0], "last_name": "Desk", "email": f"desk@{tenant.realm}"}})
            tenant.user = user["id"]
            self.ok("PUT", f"/v2/accounts/{tenant.id}/devices", json={"data": {
                "name": "desk phone", "owner_id": tenant.user, "sip": {"username": f"desk-{tenant.realm[0]}"}}})
            for number in numbers:
                flow = alert_flow(tenant.user) if number == ALERT_NUMBER else _answer_flow()
                made = self.ok("PUT", f"/v2/accounts/{tenant.id}/callflows",
                               json={"data": {"name": f"{tenant.name} {number}", "numbers": [number], "flow": flow}})
                tenant.callflows[number] = made["id"]
            tenant.admin = self.token(tenant.id, "--admin")
            tenant.read_only = self.token(tenant.id)

    def token(self, account: str, *rights: str) -> str:
        made = self.cli("tokens", "create", "--account", account, *rights)
        if made.returncode != 0:
            raise RuntimeError(f"tokens create: {made.stdout}{made.stderr}")
        return made.stdout.splitlines()[0].strip()

    # --- the API -------------------------------------------------------------------------------

    def call(self, method: str, path: str, token: str | None = None, timeout: float = 30.0,
             **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        headers.setdefault("X-Auth-Token", token if token is not None else self.super_token)
        return self.http.request(method, self.api + path, headers=headers, timeout=timeout, **kwargs)

    def ok(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        response = self.call(method, path, token, **kwargs)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()["data"]

    # --- what is measured ----------------------------------------------------------------------

    def probes(self, since: float, until: float | None = None) -> list[dict[str, Any]]:
        found = []
        with contextlib.suppress(FileNotFoundError), self.probe_file.open(encoding="utf-8") as lines:
            for line in lines:
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record["t"] >= since and (until is None or record["t"] <= until):
                        found.append(record)
        return found

    def pids(self) -> list[int]:
        """`controller run`, its role processes and theirs (the API's workers), not its
        private redis-server."""
        if self.run.proc is None or not self.run.alive:
            return []
        found, parents = [self.run.proc.pid], [self.run.proc.pid]
        while parents:
            for pid in _children(parents.pop()):
                with contextlib.suppress(OSError):
                    if b"redis-server" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                        found.append(pid)
                        parents.append(pid)
        return found

    def rss_mb(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024

    def restarts(self) -> dict[str, int]:
        """Each role's restarts so far, as the supervisor records them (none: a one-process run)."""
        try:
            states = json.loads((self.data / "run" / "roles.json").read_text())
        except (OSError, ValueError):
            return {}
        return {name: int(state.get("restarts", 0)) for name, state in states.items()}

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_text(self, since: int = 0) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as file:
            file.seek(since)
            return file.read().decode(errors="replace")

    def settle(self, seconds: float = 10.0) -> None:
        """Until no call but the probes' is in progress (an attack's connections are gone)."""
        def quiet() -> bool:
            return self.calls_active() <= 3

        with contextlib.suppress(RuntimeError):
            wait_until(quiet, seconds, "calls to end", step=0.2)

    def calls_active(self) -> float:
        try:
            text = self.http.get(self.api + "/metrics", timeout=5).text
        except requests.RequestException:
            return -1.0
        found = re.search(r"^controller_calls_active(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    def close(self) -> None:
        if self.probe is not None:
            self.probe.stop()
        self.run.stop()
        if self._rds is not None:
            self._rds.close()
        self.http.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._leftovers():
            time.sleep(0.2)
        for pid in self._leftovers():
            with contextlib.suppress(OSError):
                os.kill(pid, 9)

    def _leftovers(self) -> list[int]:
        """What a stopped run left (its roles, its Redis); never this process's own parents."""
        return leftovers(str(self.folder))

    def rss_by_process(self) -> dict[str, float]:
        """Resident MB of the run's processes by role (`run` for the supervisor, `workers` for the
        API's worker processes, together)."""
        found: dict[str, float] = {}
        for pid in self.pids():
            with contextlib.suppress(OSError):
                words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                role = next((w.decode() for w in words if w.decode() in ROLES), "run")
                role = "workers" if API_WORKER.encode() in words else role
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        found[role] = found.get(role, 0.0) + int(line.split()[1]) / 1024
        return found


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    return found


__all__ = ["ALERT_NUMBER", "B_NUMBER", "PROBE_NUMBER", "ROLES", "Tenant", "Verdict", "World", "alert_flow", "listening"]
