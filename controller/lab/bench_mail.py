"""`controller lab bench-mail`: how fast one mail-sender worker delivers, and how long an alert
takes from the channel being gone to the SMTP server accepting the email.

1. N jobs delivered by one worker to a local SMTP server (aiosmtpd, accepting and timing every
   message), with the connection reused and with one connection per message: emails/s.
2. Calls at a steady rate through a `controller serve` process (missed_call_alert -> a user
   nobody answers) while a `controller mailer` process delivers: p50/p99 of SMTP acceptance time
   minus the time the call's termination handler ran.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gevent
import redis

from controller.config import Settings
from controller.lab.bench import free_port, server_process
from controller.lab.load import drive
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.notify.delivery import SmtpSender
from controller.notify.job import make_job
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
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


def _smtp(port: int, sink: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CONTROLLER_SINK_FILE=str(sink))
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
            "controller.lab.smtp_sink.TimingSink"]
    return subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)


def throughput(rds: redis.Redis, port: int, jobs: int, reuse: bool) -> float:
    _clear_queue(rds)
    queue = JobQueue(rds)
    for n in range(jobs):
        call = {"call_id": f"bench-{reuse}-{n}-{time.time()}", "caller_id_number": "+15550001111",
                "started_at": time.time()}
        queue.enqueue(make_job("missed_call", ACCOUNT, call, instance="bench",
                               recipients=[{"type": "user", "id": "owner"}]))
    mailer = Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}", reuse=reuse), name="bench")
    started = time.perf_counter()
    sent = mailer.run(burst=True)
    return sent / (time.perf_counter() - started)


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
    accepted = dict(line.split() for line in sink.read_text().splitlines())
    return _delays(rds, accepted)


def _delays(rds: redis.Redis, accepted: dict[str, str]) -> list[float]:
    """SMTP acceptance time minus the moment the call's termination handler ran."""
    delays = []
    for raw in rds.lrange(keys.smtplog(ACCOUNT), 0, -1):
        entry = json.loads(raw)
        ended, ident = entry.get("call_ended_at"), entry.get("message_id")
        if ended and ident in accepted:
            delays.append(float(accepted[ident]) - float(ended))
    return sorted(delays)


def run(settings: Settings, rds: redis.Redis, jobs: int, calls: int, rate: float) -> None:
    load_bundle(rds, BUNDLE, "mail benchmark bundle")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        sink = Path(folder) / "accepted"
        smtp = _smtp(port, sink)
        try:
            gevent.sleep(1.0)
            for reuse in (True, False):
                rate_sent = throughput(rds, port, jobs, reuse)
                label = "reused connection" if reuse else "one connection per email"
                print(f"emails/s     {rate_sent:7.0f} per worker ({jobs} emails, {label})")
            delays = latency(settings, rds, port, sink, calls=calls, rate=rate)
            if delays:
                p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
                print(f"end to end   p50 {statistics.median(delays) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  "
                      f"({len(delays)} missed calls at {rate:.0f}/s: channel gone -> SMTP accepted)")
            else:
                print("end to end   no email was matched to its call")
        finally:
            smtp.terminate()
            smtp.wait(10)
            _clear_queue(rds)
