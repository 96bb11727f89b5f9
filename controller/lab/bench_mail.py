"""`controller lab bench-mail`: how fast one mail-sender worker delivers, and how long an alert
takes from the channel being gone to the SMTP server accepting the email.

The SMTP server is a sink in its own process that accepts and timestamps every message: by default
the lab's minimal asyncio responder (`controller.lab.smtp_sink`), or aiosmtpd (`--sink aiosmtpd`),
which spends about 1 ms of CPU per message and so bounds one connection near the rates measured.

1. Baseline: plain smtplib sending the worker's own message over one reused connection to the same
   sink, so the worker's figure can be read as a fraction of what the sink and SMTP allow.
2. N jobs delivered by one worker, with the connection reused and with one connection per message:
   emails/s, the worker's CPU time per email and the sink's; repeated `--repeat` times.
3. Calls at a steady rate through a `controller serve` process (missed_call_alert -> a user
   nobody answers) while a `controller mailer` process delivers: p50/p99 of SMTP acceptance time
   minus the time the call's termination handler ran.
"""

from __future__ import annotations

import dataclasses
import json
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
import redis

from controller.config import Settings
from controller.lab.bench import server_process, wait_listening
from controller.lab.cpu import cpu_seconds
from controller.lab.load import drive
from controller.lab.processes import free_port
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.notify.delivery import SmtpSender
from controller.notify.job import make_job
from controller.notify.mailer import Mailer
from controller.notify.queue import Claimed, JobQueue
from controller.store import keys
from controller.store.bundle import load_bundle

ACCOUNT = "bench-mail"
NUMBER = "5550199"
BUNDLE = {
    "account": {"id": ACCOUNT, "name": "Mail Benchmark", "realm": "mail.example.com", "timezone": "UTC"},
    "users": [{"id": "owner", "first_name": "Olive", "email": "olive@mail.example.com"}],
    "devices": [{"id": "phone", "owner_id": "owner", "sip": {"username": "2001"}}],
    "callflows": [{"id": "alerted", "numbers": [NUMBER], "flow": {
        "module": "missed_call_alert", "data": {"recipients": [{"type": "user", "id": "owner"}]},
        "children": {"_": {"module": "user", "data": {"id": "owner", "timeout": 1}, "children": {}}}}}],
}


def _clear_queue(rds: redis.Redis) -> None:
    for key in rds.scan_iter("queue:*"):
        rds.delete(key)


def _smtp(kind: str, port: int, sink: Path) -> subprocess.Popen[bytes]:
    if kind == "aiosmtpd":
        argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
                "controller.lab.smtp_sink.TimingSink"]
    else:
        argv = [sys.executable, "-m", "controller.lab.smtp_sink", f"127.0.0.1:{port}", str(sink)]
    env = dict(os.environ, CONTROLLER_SINK_FILE=str(sink))
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    wait_listening(port, proc)
    return proc


def _job(n: int, tag: str) -> dict[str, Any]:
    call = {"call_id": f"bench-{tag}-{n}-{time.time()}", "caller_id_name": "Bench Caller",
            "caller_id_number": "+15550001111", "started_at": time.time(), "hangup_cause": "NO_ANSWER"}
    return make_job("missed_call", ACCOUNT, call, instance="bench", recipients=[{"type": "user", "id": "owner"}])


def sample_message(rds: redis.Redis, port: int) -> tuple[str, list[str], bytes]:
    """The email the worker sends for one bench job (sender, recipients, bytes), built by its code."""
    mailer = Mailer(rds, JobQueue(rds), SmtpSender(f"smtp://127.0.0.1:{port}"), name="bench-sample")
    job = _job(0, "sample")
    prepared = mailer.prepare(Claimed("sample", job, "", 0), mailer.contexts.read([job])[0])
    assert prepared.rendered is not None and prepared.data is not None
    return prepared.rendered.sender, prepared.rendered.recipients, prepared.data


def baseline(port: int, jobs: int, message: tuple[str, list[str], bytes]) -> float:
    """Plain smtplib, one reused connection, the same message: emails/s."""
    client = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for _ in range(jobs):
        client.sendmail(*message)
    elapsed = time.perf_counter() - started
    client.quit()
    return jobs / elapsed


@dataclasses.dataclass(frozen=True)
class Run:
    rate: float  # emails/s
    cpu: float  # the worker's CPU seconds per email
    sink_cpu: float  # the SMTP sink's CPU seconds per email


def throughput(rds: redis.Redis, smtp: subprocess.Popen[bytes], port: int, jobs: int, reuse: bool) -> Run:
    _clear_queue(rds)
    queue = JobQueue(rds)
    for n in range(jobs):
        queue.enqueue(_job(n, str(reuse)))
    mailer = Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}", reuse=reuse), name="bench")
    sink_before, started, cpu_before = cpu_seconds(smtp.pid), time.perf_counter(), time.process_time()
    sent = mailer.run(burst=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    return Run(sent / elapsed, cpu / max(1, sent), (cpu_seconds(smtp.pid) - sink_before) / max(1, sent))


def latency(settings: Settings, rds: redis.Redis, port: int, sink: Path, *, calls: int, rate: float) -> list[float]:
    _clear_queue(rds)
    sink.write_text("")
    esl_port = free_port()
    env = {"CONTROLLER_REDIS_URL": settings.redis_url, "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{esl_port}",
           "CONTROLLER_LOG_LEVEL": "WARNING", "CONTROLLER_LINGER_SECONDS": "1",
           "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    mailer = subprocess.Popen([sys.executable, "-m", "controller", "mailer"], env={**os.environ, **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with server_process([sys.executable, "-m", "controller", "serve"], esl_port, env):
            scenario = Scenario(destination=NUMBER, account_id=ACCOUNT, playback_seconds=0.005,
                                bridges=(BridgeOutcome("no_answer", timeout=0.05),))
            drive(("127.0.0.1", esl_port), scenario, calls, rate)
            deadline = time.monotonic() + 30
            while len(sink.read_text().splitlines()) < calls and time.monotonic() < deadline:
                gevent.sleep(0.2)
    finally:
        mailer.terminate()
        mailer.wait(10)
    accepted = dict(line.split()[:2] for line in sink.read_text().splitlines())
    return _delays(rds, accepted)


@dataclasses.dataclass(frozen=True)
class Paced:
    rate: float  # emails/s fed
    emails: int
    cpu: float  # the mailer process's CPU seconds while fed and draining
    idle: float  # its CPU seconds per second with nothing to send
    drained: float  # seconds from the last job queued to the last email accepted

    def line(self) -> str:
        per_email = 1000.0 * self.cpu / max(1, self.emails)
        busy = 1000.0 * (self.cpu - self.idle * self.emails / self.rate) / max(1, self.emails)
        return (f"paced        {self.rate:6.0f} emails/s  {self.emails:5d} emails  "
                f"mailer cpu {per_email:5.2f} ms/email ({busy:5.2f} beyond its idle {self.idle * 1000:4.1f} ms/s)  "
                f"last email {self.drained * 1000:6.0f} ms after the last job")


def paced(settings: Settings, rds: redis.Redis, port: int, sink: Path, *, rate: float, seconds: float) -> Paced:
    """A `controller mailer` process fed jobs one by one at `rate` for `seconds` (as calls end on a
    PBX, not in a batch): its CPU per email, and its CPU when idle (heartbeat, waiting)."""
    _clear_queue(rds)
    sink.write_text("")
    env = {**os.environ, "CONTROLLER_REDIS_URL": settings.redis_url, "CONTROLLER_LOG_LEVEL": "WARNING",
           "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    mailer = subprocess.Popen([sys.executable, "-m", "controller", "mailer"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        queue = JobQueue(rds)
        deadline = time.monotonic() + 30
        while not rds.smembers(keys.QUEUE_WORKERS) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # started: imports and first connections are not the idle cost
        before = cpu_seconds(mailer.pid)
        time.sleep(3.0)
        idle = (cpu_seconds(mailer.pid) - before) / 3.0
        count = max(1, round(rate * seconds))
        before, start = cpu_seconds(mailer.pid), time.monotonic()
        for n in range(count):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            queue.enqueue(_job(n, f"paced{rate:g}"))
        queued_at = time.monotonic()
        deadline = queued_at + 60
        while len(sink.read_text().splitlines()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        drained = time.monotonic() - queued_at
        emails = len(sink.read_text().splitlines())
        return Paced(rate, emails, cpu_seconds(mailer.pid) - before, idle, drained)
    finally:
        mailer.terminate()
        mailer.wait(10)


def _delays(rds: redis.Redis, accepted: dict[str, str]) -> list[float]:
    """SMTP acceptance time minus the moment the call's termination handler ran."""
    delays = []
    for raw in rds.lrange(keys.smtplog(ACCOUNT), 0, -1):
        entry = json.loads(raw)
        ended, ident = entry.get("call_ended_at"), entry.get("message_id")
        if ended and ident in accepted:
            delays.append(float(accepted[ident]) - float(ended))
    return sorted(delays)


@dataclasses.dataclass(frozen=True)
class Options:
    jobs: int = 2000
    calls: int = 1000
    rate: float = 100.0
    repeat: int = 3
    sink: str = "fast"  # or "aiosmtpd"
    paced: tuple[float, ...] = ()  # emails/s: measure a mailer process fed at each rate instead
    seconds: float = 10.0  # how long each paced rate is fed


def run(settings: Settings, rds: redis.Redis, options: Options) -> None:
    load_bundle(rds, BUNDLE, "mail benchmark bundle")
    port = free_port()
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        sink = Path(folder) / "accepted"
        smtp = _smtp(options.sink, port, sink)
        try:
            if options.paced:
                for rate in options.paced:
                    print(paced(settings, rds, port, sink, rate=rate, seconds=options.seconds).line(), flush=True)
                return
            _throughputs(rds, smtp, port, options)
            _latency_report(settings, rds, port, sink, options)
        finally:
            smtp.terminate()
            smtp.wait(10)
            _clear_queue(rds)


def _throughputs(rds: redis.Redis, smtp: subprocess.Popen[bytes], port: int, options: Options) -> None:
    """Each worker run right after a baseline run, so that both see the same machine load."""
    message = sample_message(rds, port)
    before = cpu_seconds(smtp.pid)
    baseline(port, options.jobs, message)
    sink_cpu = (cpu_seconds(smtp.pid) - before) / options.jobs
    print(f"sink         {options.sink}: {sink_cpu * 1e6:.0f} us CPU per message of {len(message[2])} bytes; "
          "baseline: plain smtplib, one reused connection, the same message")
    for reuse in (True, False):
        label = "reused connection" if reuse else "one connection per email"
        rates = []
        for _ in range(options.repeat):
            plain = baseline(port, options.jobs, message)
            result = throughput(rds, smtp, port, options.jobs, reuse)
            rates.append(result.rate)
            print(f"emails/s     {result.rate:7.0f} per worker ({options.jobs} emails, {label})  "
                  f"baseline {plain:5.0f}/s ({result.rate / plain:4.2f}x)  cpu {result.cpu * 1000:.2f} ms/email "
                  f"(= {1 / result.cpu:.0f}/s per core)  sink cpu {result.sink_cpu * 1e6:.0f} us/email")
        print(f"emails/s     {statistics.median(rates):7.0f} per worker, median of {len(rates)} ({label})")


def _latency_report(settings: Settings, rds: redis.Redis, port: int, sink: Path, options: Options) -> None:
    delays = latency(settings, rds, port, sink, calls=options.calls, rate=options.rate)
    if delays:
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        print(f"end to end   p50 {statistics.median(delays) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  "
              f"({len(delays)} missed calls at {options.rate:.0f}/s: channel gone -> SMTP accepted)")
    else:
        print("end to end   no email was matched to its call")
