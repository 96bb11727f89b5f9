"""`controller lab bench-freeswitch`: what the product costs a real FreeSWITCH, beside the floor.

SIPp places calls at a given rate through a real FreeSWITCH (controller/lab/freeswitch.py, the
project's own configuration) into, one after the other in the same run:

- `floor`: the raw gevent server of controller/lab/baseline.py speaking the product's dialogue
  for this callflow (answer -> 200 ms tone -> hangup) with no parsing, Redis or callflow: what a
  call costs at the least;
- `floor-mail`: the floor plus what the product's design adds at the least
  (controller/lab/floor_mail.py): one job per call on a list of a private Redis and one prepared
  email per job over a kept SMTP connection, all in one process: below it no product with this
  design can go;
- `product`: `controller run` (its private Redis, the inbound watcher on FreeSWITCH's event
  socket, the mail sender delivering to the lab SMTP sink), the callflow missed_call_alert ->
  play a 200 ms tone (answering first) -> hangup, so every call is a missed call with one email.

Printed for each: calls placed, success %, SIPp's INVITE -> 200 OK time (p50/p99), FreeSWITCH's
CPU per call, the server's CPU per call (and its private Redis's), and for the product the emails
delivered per missed call once the sink has them all (or the wait ran out). The product's CPU is
its supervisor's and every role process's (`serve`, `api`, `mailer`) summed; its private Redis is
counted apart.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from controller import localredis
from controller.lab.cpu import cpu_seconds
from controller.lab.freeswitch import (
    ESL_PASSWORD,
    ROOT,
    FreeSwitch,
    FreeSwitchError,
    Ports,
    binary_path,
    free_port,
)
from controller.lab.processes import Process
from controller.roles import ROLES
from controller.store import keys

ACCOUNT = "benchfs0000000000000000000000000"
NUMBER = "+15554449999"
RECIPIENT = "alerts@bench.example.com"
FLOW = {
    "module": "missed_call_alert",
    "data": {"recipients": [{"type": "email", "id": [RECIPIENT]}]},
    "children": {"_": {
        "module": "play", "data": {"id": "tone_stream://%(200,0,440)"},
        "children": {"_": {"module": "hangup", "data": {}, "children": {}}},
    }},
}
BUNDLE = {
    "account": {"id": ACCOUNT, "name": "FreeSWITCH benchmark", "realm": "benchfs.example.com"},
    "callflows": [{"id": "benchfs-flow", "numbers": [NUMBER], "flow": FLOW}],
}
SCENARIO = ROOT / "conf" / "sipp" / "uac_answered.xml"
SERVERS = ("floor", "floor-mail", "product")
READY_SECONDS = 60.0
SIPP_GRACE = 120.0  # seconds past the last call's start before the calls still going count as failed
LIMITS = (1000, 5000)  # FreeSWITCH's new sessions per second and sessions at once
FLOOR_CALLS = "floor:calls"  # controller/lab/floor_mail.py's count of calls (not imported: it patches gevent)


@dataclasses.dataclass(frozen=True)
class Options:
    calls: int = 1000
    rate: float = 100.0
    servers: tuple[str, ...] = SERVERS
    mail_wait: float = 120.0
    keep: Path | None = None  # leave every log, trace and configuration in this folder
    realtime: bool = False  # start each server at SCHED_RR 1, as conf/systemd's units do (docs/deployment.md)


@dataclasses.dataclass(frozen=True)
class Mail:
    """What the product's mail came to: the alerts its calls queued (counted in its Redis: a
    call SIPp gave up on may still have reached it and been missed) and the emails the sink
    accepted, told apart by Message-ID (one per call's alert)."""

    alerts: int
    emails: int
    distinct: int

    def summary(self) -> str:
        return (f"alerts {self.alerts} emails {self.emails} ({self.emails - self.distinct} duplicate, "
                f"{max(0, self.alerts - self.distinct)} lost)")


@dataclasses.dataclass
class Result:
    server: str
    calls: int
    succeeded: int
    failed: int
    invite_to_200_ms: list[float]
    freeswitch_cpu: float
    server_cpu: float
    redis_cpu: float = 0.0
    mail: Mail | None = None
    roles: dict[str, float] = dataclasses.field(default_factory=dict)  # CPU seconds by process

    @property
    def success(self) -> float:
        return 100.0 * self.succeeded / self.calls if self.calls else 0.0

    def per_call(self, seconds: float) -> float:
        return 1000.0 * seconds / self.calls if self.calls else 0.0

    def line(self) -> str:
        p50, p99 = percentile(self.invite_to_200_ms, 50), percentile(self.invite_to_200_ms, 99)
        fs_ms, server_ms = self.per_call(self.freeswitch_cpu), self.per_call(self.server_cpu)
        share = 100.0 * server_ms / fs_ms if fs_ms else 0.0
        text = (f"{self.server:<10} {self.calls:>6} calls  success {self.success:5.1f}%  "
                f"INVITE->200 p50 {p50:7.1f} ms p99 {p99:7.1f} ms  freeswitch {fs_ms:5.2f} ms/call  "
                f"{self.server} {server_ms:5.2f} ms/call ({share:.0f}% of FreeSWITCH's)")
        if self.redis_cpu:
            text += f"  redis {self.per_call(self.redis_cpu):4.2f} ms/call"
        if self.mail is not None:
            text += "  " + self.mail.summary()
        if len(self.roles) > 1:
            text += "\n         by process: " + ", ".join(
                f"{name} {self.per_call(seconds):4.2f}" for name, seconds in self.roles.items()) + " ms/call"
        return text


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100.0 * (len(ordered) - 1)))]


def run(options: Options) -> list[Result]:
    """Start FreeSWITCH and the SMTP sink, then measure each server in turn; print each line."""
    with tempfile.TemporaryDirectory(prefix="bench-freeswitch-") as scratch:
        root = options.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        freeswitch = FreeSwitch(root / "freeswitch", binary_path(), Ports.pick(rtp_span=8000), LIMITS)
        (root / "freeswitch").mkdir()
        freeswitch.start()
        freeswitch.api("fsctl loglevel warning")  # a PBX in service does not log each call at debug
        try:
            results = []
            for server in options.servers:
                result = measure(server, freeswitch, root / server, options)
                print(result.line(), flush=True)
                results.append(result)
            return results
        finally:
            freeswitch.stop()


def measure(server: str, freeswitch: FreeSwitch, folder: Path, options: Options) -> Result:
    folder.mkdir()
    port = free_port()
    starter = {"floor": floor, "floor-mail": floor_mail}.get(server, product)
    prefix = ["chrt", "--rr", "1"] if options.realtime else []
    with starter(port, freeswitch, folder, prefix) as (pid, mailbox):
        freeswitch.point_socket(port)
        redis_pid = child_named(pid, "redis-server")
        before = (cpu_seconds(freeswitch.pid), tree_cpu_seconds(pid, redis_pid),
                  cpu_seconds(redis_pid) if redis_pid else 0.0)
        roles_before = cpu_by_process(pid)
        succeeded, failed, times = place_calls(freeswitch, folder, options)
        freeswitch.wait_idle(timeout=60.0)
        mail = mailbox.collect(options.mail_wait) if mailbox else None
        after = (cpu_seconds(freeswitch.pid), tree_cpu_seconds(pid, redis_pid),
                 cpu_seconds(redis_pid) if redis_pid else 0.0)
        roles = {name: seconds - roles_before.get(name, 0.0) for name, seconds in cpu_by_process(pid).items()}
    return Result(server, options.calls, succeeded, failed, times, after[0] - before[0], after[1] - before[1],
                  after[2] - before[2], mail, roles)


@contextlib.contextmanager
def floor(port: int, freeswitch: FreeSwitch, folder: Path, prefix: list[str]) -> Iterator[tuple[int, Mailbox | None]]:
    command = [*prefix, sys.executable, "-m", "controller.lab.baseline", "--floor", "--dialogue", "tone",
               "--port", str(port)]
    with Process(command, folder / "floor.log") as server:
        server.wait_port(port, READY_SECONDS)
        yield server.pid, None


@contextlib.contextmanager
def floor_mail(
    port: int, freeswitch: FreeSwitch, folder: Path, prefix: list[str],
) -> Iterator[tuple[int, Mailbox | None]]:
    """The floor plus one Redis job and one email per call (controller/lab/floor_mail.py)."""
    sink_port, sink = free_port(), folder / "sink.log"
    sink.touch()
    sink_command = [sys.executable, "-m", "controller.lab.smtp_sink", f"127.0.0.1:{sink_port}", str(sink)]
    command = [*prefix, sys.executable, "-m", "controller.lab.floor_mail", "--port", str(port),
               "--smtp", f"127.0.0.1:{sink_port}", "--redis-dir", str(folder / "redis")]
    with Process(sink_command, folder / "sink.out") as sink_process, Process(command, folder / "floor.log") as server:
        sink_process.wait_port(sink_port, READY_SECONDS)
        server.wait_port(port, READY_SECONDS)
        yield server.pid, Mailbox(sink, localredis.url_for(folder / "redis" / "redis.sock"), count_key=FLOOR_CALLS)


@contextlib.contextmanager
def product(port: int, freeswitch: FreeSwitch, folder: Path, prefix: list[str]) -> Iterator[tuple[int, Mailbox | None]]:
    """`controller run` with its private Redis in `folder`, mailing to a lab SMTP sink."""
    sink_port, sink, api_port = free_port(), folder / "sink.log", free_port()
    sink.touch()
    env = {
        **os.environ,
        "CONTROLLER_CONFIG": str(folder / "none.toml"),
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{port}",
        "CONTROLLER_API_LISTEN": f"127.0.0.1:{api_port}",
        "CONTROLLER_DATA_DIR": str(folder / "var"),
        "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{sink_port}",
        "CONTROLLER_FREESWITCH": f"esl://:{ESL_PASSWORD}@127.0.0.1:{freeswitch.ports.esl}",
        "CONTROLLER_VOICEMAIL_DIR": str(folder / "voicemail"),
        "CONTROLLER_LOG_LEVEL": "WARNING",
    }
    (folder / "none.toml").write_text("")
    (folder / "bundle.json").write_text(json.dumps(BUNDLE))
    sink_command = [sys.executable, "-m", "controller.lab.smtp_sink", f"127.0.0.1:{sink_port}", str(sink)]
    controller = [sys.executable, "-m", "controller"]
    with Process(sink_command, folder / "sink.out") as sink_process, \
            Process([*prefix, *controller, "run"], folder / "controller.log", env) as run:
        sink_process.wait_port(sink_port, READY_SECONDS)
        run.wait_port(port, READY_SECONDS)
        loaded = subprocess.run([*controller, "flows", "load", str(folder / "bundle.json")], env=env,
                                capture_output=True, text=True, timeout=60, check=False)
        if loaded.returncode != 0:
            raise FreeSwitchError(f"flows load: {loaded.stdout}{loaded.stderr}")
        yield run.pid, Mailbox(sink, localredis.url_for(localredis.socket_in(folder / "var")))


def children_of(pid: int) -> list[int]:
    """The direct children of `pid` (`controller run`'s roles and private Redis)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def child_named(pid: int, name: str) -> int | None:
    """A direct child of `pid` running `name` (controller run's private redis-server)."""
    for child in children_of(pid):
        with contextlib.suppress(OSError):
            if name in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                return child
    return None


def tree_cpu_seconds(pid: int, leave_out: int | None) -> float:
    """The CPU time of `pid` and its direct children but `leave_out`: the product's supervisor
    and role processes, its private Redis counted apart."""
    total = cpu_seconds(pid)
    for child in children_of(pid):
        if child != leave_out:
            with contextlib.suppress(OSError):
                total += cpu_seconds(child)
    return total


def cpu_by_process(pid: int) -> dict[str, float]:
    """CPU seconds of `pid` (\"supervisor\") and of each direct child, named by its role (the
    word of its command line: `serve`, `api`, `mailer`) or `redis`."""
    found = {"supervisor": cpu_seconds(pid)}
    for child in children_of(pid):
        with contextlib.suppress(OSError):
            words = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace").split("\0")
            roles = [word for word in words if word in ROLES]
            name = "redis" if any("redis-server" in word for word in words) else \
                roles[0] if roles else str(child)
            found[name] = found.get(name, 0.0) + cpu_seconds(child)
    return found


def place_calls(freeswitch: FreeSwitch, folder: Path, options: Options) -> tuple[int, int, list[float]]:
    """SIPp's uac_answered scenario: `calls` calls at `rate`; (succeeded, failed, INVITE->200 ms)."""
    sipp = shutil.which("sipp") or "/usr/bin/sipp"
    command = [sipp, "-sf", str(SCENARIO), "-s", NUMBER, "-i", "127.0.0.1", "-p", str(free_port()),
               "-mp", str(free_port()), "-r", f"{options.rate:g}", "-m", str(options.calls),
               "-l", str(max(100, int(options.rate * 30))), "-nostdin",
               "-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-fd", "1", "-timeout",
               f"{int(options.calls / options.rate) + 120}s", f"127.0.0.1:{freeswitch.ports.external_sip}"]
    with (folder / "sipp.out").open("wb") as out:
        sipp_run = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        sipp_run.wait(options.calls / options.rate + SIPP_GRACE)
    except subprocess.TimeoutExpired:
        # An overloaded FreeSWITCH leaves calls hanging (SIPp's own -timeout does not end a call
        # in progress): what did not finish by now counts as failed, and FreeSWITCH is cleared.
        sipp_run.kill()
        sipp_run.wait(10)
        freeswitch.api("hupall NORMAL_CLEARING", check=False)
    succeeded, _ = sipp_counts(folder)
    return succeeded, options.calls - succeeded, sipp_times(folder)


def sipp_counts(folder: Path) -> tuple[int, int]:
    """Successful and failed calls from the last line of SIPp's statistics file."""
    [stats] = folder.glob("uac_answered_*_.csv")
    rows = list(csv.reader(stats.read_text().splitlines(), delimiter=";"))
    header, last = rows[0], rows[-1]
    return int(last[header.index("SuccessfulCall(C)")]), int(last[header.index("FailedCall(C)")])


def sipp_times(folder: Path) -> list[float]:
    """Each call's INVITE -> 200 OK time (SIPp's response time 1), in milliseconds."""
    times = []
    for path in folder.glob("uac_answered_*_rtt.csv"):
        for row in csv.reader(path.read_text().splitlines(), delimiter=";"):
            with contextlib.suppress(ValueError, IndexError):
                times.append(float(row[1]))
    return times


@dataclasses.dataclass(frozen=True)
class Mailbox:
    sink: Path  # the SMTP sink's record: one line per message, its Message-ID first
    redis_url: str  # the product's private Redis
    count_key: str = ""  # a counter of the calls that queued an email, instead of the product's records

    def alerts(self) -> int:
        """The alerts the product's calls queued: one `queue:enqueued:<key>` record per call's
        alert (kept two days), counted in its Redis, which a restarted role does not reset."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            if self.count_key:
                return int(client.get(self.count_key) or 0)
            return sum(1 for _ in client.scan_iter(match=keys.queue_enqueued("*"), count=1000))
        finally:
            client.close()

    def collect(self, timeout: float) -> Mail:
        """Once the alert count has settled, wait until the sink holds that many distinct
        messages (or the wait ran out); a duplicate would arrive right after."""
        alerts, deadline = self.alerts(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.25)
            settled, alerts = alerts == (now := self.alerts()), now
            if settled and len(set(self.ids())) >= alerts:
                break
        time.sleep(1.0)
        ids = self.ids()
        return Mail(self.alerts(), len(ids), len(set(ids)))

    def ids(self) -> list[str]:
        return [line.split()[0] for line in self.sink.read_text().splitlines() if line.strip()]
