"""The real processes a fault benchmark row runs against (`controller lab faults`), each of which
the row may kill and start again: a redis-server of its own (append-only, fsync on every write,
so what it acknowledged survives a SIGKILL) on a free port with its data in the row's folder, the
lab SMTP sink (restartable on the same port and record file), the controller's roles as separate
processes (`controller serve` with its watcher, `controller mailer`, or the whole `controller
run`), and in this process the simulated FreeSWITCH: its inbound event socket and the calls.

Every process started here is ended when the world closes; what a killed `controller run` left
behind (its private redis-server lives in a session of its own) is found by the row's folder in
its command line or environment and ended by pid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import gevent
import redis
from gevent.pool import Pool

from controller.lab.inbound import InboundServer
from controller.lab.processes import START_SECONDS, Process, free_port, wait_until
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import CallRecord, run_call
from controller.store.bundle import load_bundle

ACCOUNT = "faults00000000000000000000000000"
NUMBER = "+15554440100"
GREYLIST_NUMBER = "+15554440101"
RECIPIENT = "alerts@faults.example.com"
GREYLISTED = "greylist-desk@faults.example.com"
TIME_SCALE = 0.05  # FreeSWITCH's own times (linger 10 s -> 0.5 s)
RESTART_SECONDS = 90.0  # a restarted `controller run` may first wait for its killed predecessor's roles


def _flow(recipient: str) -> dict[str, object]:
    """missed_call_alert to one email address, then ring the office's phone until nobody answers."""
    return {"module": "missed_call_alert", "data": {"recipients": [{"type": "email", "id": [recipient]}]},
            "children": {"_": {"module": "user", "data": {"id": "desk", "timeout": 20}, "children": {}}}}


BUNDLE = {
    "account": {"id": ACCOUNT, "name": "Fault benchmark", "realm": "faults.example.com", "timezone": "UTC"},
    "users": [{"id": "desk", "first_name": "Front", "last_name": "Desk", "email": "desk@faults.example.com"}],
    "devices": [{"id": "desk-phone", "owner_id": "desk", "sip": {"username": "2001"}}],
    "callflows": [{"id": "alerted", "numbers": [NUMBER], "flow": _flow(RECIPIENT)},
                  {"id": "greylisted", "numbers": [GREYLIST_NUMBER], "flow": _flow(GREYLISTED)}],
}


class LabRedis:
    """A redis-server of the row's own, killed and started again on the same port and data."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        binary = shutil.which("redis-server") or "redis-server"
        self.process = Process([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "yes", "--appendfsync", "always", "--dir", str(folder)],
                               folder / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process.start()
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            wait_until(lambda: _pings(client), START_SECONDS, "redis-server to answer")
        finally:
            client.close()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class Sink:
    """The lab SMTP sink in its own process; stopped and started again on the same port, it
    appends to the same record."""

    def __init__(self, folder: Path, greylist: int = 1) -> None:
        self.port = free_port()
        self.record = folder / "sink.record"
        self.record.touch()
        self.process = Process([sys.executable, "-m", "controller.lab.smtp_sink", f"127.0.0.1:{self.port}",
                                str(self.record), str(greylist)], folder / "sink.log")

    def start(self) -> None:
        self.process.start().wait_port(self.port)

    def lines(self) -> list[tuple[str, float, str]]:
        """(Message-ID or address, unix time, data|bdat|greylisted) of each record line."""
        found = []
        for line in self.record.read_text(encoding="ascii", errors="replace").splitlines():
            words = line.split()
            if len(words) == 3:
                with contextlib.suppress(ValueError):
                    found.append((words[0], float(words[1]), words[2]))
        return found


@dataclasses.dataclass(frozen=True)
class Layout:
    """What a row runs: the roles split (`serve` + `mailer`) or the whole `controller run` (with
    its private Redis), and whether the ESL side keeps a watcher on the simulated FreeSWITCH."""

    whole_run: bool = False
    watcher: bool = True


class World:
    """One row's processes, files and simulated FreeSWITCH, in a folder of its own."""

    def __init__(self, folder: Path, layout: Layout) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.layout = folder, layout
        self.inbound = InboundServer()
        self.esl_port = free_port()
        self.redis: LabRedis | None = None if layout.whole_run else LabRedis(folder / "redis")
        self.sink = Sink(folder)
        self.roles: dict[str, Process] = {}
        self.calls = Calls(("127.0.0.1", self.esl_port), self.inbound)
        self._client: redis.Redis | None = None

    @property
    def redis_url(self) -> str:
        if self.redis is not None:
            return self.redis.url
        return f"unix://{(self.folder / 'var' / 'redis' / 'redis.sock').resolve()}?db=0"

    @property
    def rds(self) -> redis.Redis:
        """This process's client of the row's Redis (the lab's or `controller run`'s private one)."""
        if self._client is None:
            self._client = redis.Redis.from_url(self.redis_url, decode_responses=True, socket_timeout=5)
        return self._client

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
        (self.folder / "none.toml").touch()
        env.update({
            "CONTROLLER_CONFIG": str(self.folder / "none.toml"), "CONTROLLER_DATA_DIR": str(self.folder / "var"),
            "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{self.esl_port}", "CONTROLLER_LOG_LEVEL": "INFO",
            "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{self.sink.port}",
            "CONTROLLER_API_LISTEN": f"127.0.0.1:{free_port()}", "CONTROLLER_OUTBOX_DIR": str(self.folder / "outbox"),
        })
        if self.redis is not None:
            env["CONTROLLER_REDIS_URL"] = self.redis.url
        if self.layout.watcher:
            host, port = self.inbound.address
            env["CONTROLLER_FREESWITCH"] = f"esl://:{self.inbound.password}@{host}:{port}"
        return env

    def start(self) -> None:
        """Everything up but the mail sender (a row starts it when it wants a backlog first), and
        the benchmark's account loaded."""
        self.inbound.start()
        if self.redis is not None:
            self.redis.start()
        self.sink.start()
        env = self.env()
        role = [sys.executable, "-m", "controller"]
        if self.layout.whole_run:
            self.roles["run"] = Process([*role, "run"], self.folder / "run.log", env)
        else:
            self.roles["serve"] = Process([*role, "serve"], self.folder / "serve.log", env)
            self.roles["mailer"] = Process([*role, "mailer"], self.folder / "mailer.log", env)
        self.start_esl_side()
        load_bundle(self.rds, BUNDLE, "fault benchmark bundle")

    @property
    def esl_role(self) -> Process:
        return self.roles["run" if self.layout.whole_run else "serve"]

    def start_esl_side(self) -> None:
        """`controller serve` (or `run`) started and listening, its watcher connected when it has one."""
        self.esl_role.start().wait_port(self.esl_port, RESTART_SECONDS)
        if self.layout.watcher:
            wait_until(lambda: self.inbound.subscribers > 0, START_SECONDS, "the watcher to connect")

    def close(self) -> None:
        """End every process of the row, then whatever a killed one left running."""
        self.calls.stop()
        for process in self.roles.values():
            process.stop()
        self.sink.process.stop()
        if self.redis is not None:
            self.redis.process.stop()
        if self._client is not None:
            self._client.close()
        self.inbound.stop()
        for pid in leftovers(str(self.folder.resolve())):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def logs(self) -> list[Path]:
        return [p.log for p in self.roles.values()]


def leftovers(marker: str) -> list[int]:
    """Processes other than this one and its ancestors whose command line or environment names
    `marker` (the row's folder): what a SIGKILLed `controller run` left behind. (With --keep the
    folder is on the command line of whatever started the benchmark too: never those.)"""
    found = []
    spared = ancestors()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in spared:
            continue
        with contextlib.suppress(OSError):
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
            if marker.encode() in seen:
                found.append(int(entry.name))
    return found


def ancestors() -> set[int]:
    """This process and every process above it, up to init."""
    chain, pid = set(), os.getpid()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rpartition(")")[2].split()[1])
    return chain


def scenario(destination: str = NUMBER, ring: float = 0.2) -> Scenario:
    """A caller from outside the account whose call rings `ring` s, nobody answers: a missed call."""
    return Scenario(destination=destination, caller_number="+15550001111", caller_name="Fault Caller",
                    account_id=ACCOUNT, playback_seconds=0.005, time_scale=TIME_SCALE,
                    bridges=(BridgeOutcome("no_answer", timeout=ring),))


class Calls:
    """Simulated calls placed on schedule into the ESL server, each relayed to the inbound side;
    the records of those that connected, and how many could not."""

    def __init__(self, address: tuple[str, int], inbound: InboundServer) -> None:
        self.address, self.inbound = address, inbound
        self.records: list[CallRecord] = []
        self.failures: list[str] = []
        self.placed = 0
        self.pool = Pool()
        self._schedulers: list[gevent.Greenlet] = []

    def place(self, call: Scenario, count: int, rate: float) -> gevent.Greenlet:
        """Start `count` calls at `rate` per second in the background."""
        def schedule() -> None:
            started = time.monotonic()
            for index in range(count):
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    gevent.sleep(delay)
                self.placed += 1
                self.pool.spawn(self._one, call)

        greenlet = gevent.spawn(schedule)
        self._schedulers.append(greenlet)
        return greenlet

    def _one(self, call: Scenario) -> None:
        try:
            self.records.append(run_call(self.address, call, timeout=120.0, inbound=self.inbound))
        except OSError as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")

    def join(self, timeout: float = 180.0) -> None:
        gevent.joinall(self._schedulers, timeout=timeout)
        self.pool.join(timeout=timeout)

    @property
    def ringing(self) -> int:
        """Calls whose bridge is ringing now (the callee's leg is up on the simulated FreeSWITCH)."""
        return max(0, len(self.inbound.channels) - len(self.pool))

    def stop(self) -> None:
        gevent.killall(self._schedulers)
        self.pool.kill()
