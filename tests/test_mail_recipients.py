"""Per-recipient SMTP outcomes, against a real SMTP server (aiosmtpd in a subprocess) and Redis:
a 451 (greylisting) delays that recipient only, a 550 refuses that one only, the others get the
email once and never again; the SMTP log says what happened to each; and what an operator sees
(`/healthz`, metrics) when mail fails or is late."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import redis

from controller import config
from controller.api.ops import OpsApp
from controller.metrics import Metrics
from controller.notify.delivery import SmtpSender
from controller.notify.job import make_job
from controller.notify.mailer import Mailer
from controller.notify.queue import Backoff, JobQueue
from controller.notify.smtplog import SmtpLog
from controller.store import keys
from tests.mailserver import delivered, running_smtp
from tests.office import ACCOUNT, load
from tests.own_redis import wait_for

pytestmark = pytest.mark.timeout(60)
QUICK = {"backoff": Backoff(base=0.2, factor=1, limit=0.2)}


@pytest.fixture(params=["PipeliningGreylistingMailbox", "GreylistingMailbox"])
def greylisting(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[int, Path]]:
    """Greylists `grey...` and refuses `refused...`, with and without PIPELINING."""
    yield from running_smtp(tmp_path, f"tests.smtp_handlers.{request.param}")


def job(*emails: str) -> dict[str, Any]:
    call = {"call_id": "c-1", "caller_id_name": "Carol", "caller_id_number": "+15557770000",
            "started_at": 1795440000.0, "hangup_cause": "NO_ANSWER"}
    return make_job("missed_call", ACCOUNT, call, instance="fs-test",
                    recipients=[{"type": "user", "id": "u-ann"}, {"type": "email", "id": list(emails)}])


def envelopes(maildir: Path) -> list[tuple[str, str]]:
    """(Message-ID, envelope recipients) of each message the server stored, most recipients first."""
    found = [(str(m["Message-ID"]), str(m["X-RcptTo"])) for m in delivered(maildir)]
    return sorted(found, key=lambda found: -len(found[1]))


def outcomes(rds: redis.Redis) -> list[dict[str, str]]:
    return [{r: reply[:3] for r, reply in e["recipients"].items()} for e in reversed(SmtpLog(rds).entries(ACCOUNT))]


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels or None)


def test_a_greylisted_recipient_is_retried_and_the_other_two_get_one_email(
    rds: redis.Redis, greylisting: tuple[int, Path]
) -> None:
    port, maildir = greylisting
    load(rds)
    metrics = Metrics()
    queue = JobQueue(rds, metrics=metrics, **QUICK)
    queued = job("grey@office.test", "desk@office.test")
    queue.enqueue(queued)
    mailer = Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}"), name="m")
    running = gevent.spawn(mailer.run)
    try:
        wait_for(lambda: rds.exists(keys.queue_sent(queued["idempotency_key"])) == 1)
    finally:
        mailer.stopping.set()
        running.join(5)
    stored = envelopes(maildir)
    assert [rcpt for _, rcpt in stored] == ["ann@office.test, desk@office.test", "grey@office.test"]
    assert stored[0][0] == stored[1][0]  # the same message, so a receiver can tell a resend
    assert outcomes(rds) == [{"ann@office.test": "250", "grey@office.test": "451", "desk@office.test": "250"},
                             {"grey@office.test": "250"}]
    stats = queue.stats()
    assert (stats["ready"], stats["scheduled"], stats["processing"], stats["dead"], stats["oldest_due_age"]) == (
        0, 0, 0, 0, None)
    assert sample(metrics, "controller_mail_recipients_total", outcome="delivered") == 3.0
    assert sample(metrics, "controller_mail_recipients_total", outcome="retried") == 1.0
    assert sample(metrics, "controller_jobs_retried_total") == 1.0
    assert sample(metrics, "controller_jobs_dead_total") == 0.0


def test_a_550_refuses_that_recipient_alone_and_a_replay_sends_to_it_alone(
    rds: redis.Redis, greylisting: tuple[int, Path]
) -> None:
    port, maildir = greylisting
    load(rds)
    queue = JobQueue(rds, **QUICK)
    queue.enqueue(job("refused@office.test", "desk@office.test"))
    Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}"), name="m").run(burst=True)
    [dead] = queue.dead()
    assert dead["error"] == ("refused@office.test: 550 5.1.1 No such user here "
                             "(delivered to ann@office.test, desk@office.test)")
    assert queue.replay() == 1
    Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}"), name="m").run(burst=True)
    assert [rcpt for _, rcpt in envelopes(maildir)] == ["ann@office.test, desk@office.test"]  # nothing resent
    assert outcomes(rds) == [{"ann@office.test": "250", "refused@office.test": "550", "desk@office.test": "250"},
                             {"refused@office.test": "550"}]
    assert len(queue.dead()) == 1 and queue.stats()["oldest_due_age"] is None


def ops(rds: redis.Redis, max_delay: float = 300.0) -> tuple[int, dict[str, Any]]:
    app = OpsApp(lambda environ, start: [b""], rds, Metrics(), alert_max_delay=max_delay)
    statuses: list[str] = []
    body = b"".join(app({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}, lambda s, h: statuses.append(s)))
    return int(statuses[0][:3]), json.loads(body)


def test_healthz_degrades_while_mail_fails_for_over_a_minute_or_an_alert_is_late(rds: redis.Redis) -> None:
    queue = JobQueue(rds)
    assert ops(rds) == (200, {"status": "ok", "checks": {"redis": "ok", "mail": "ok", "alerts": "ok"}})
    queue.heartbeat("alive")
    queue.mark_failing("alive", time.time() - 30)
    assert ops(rds)[0] == 200  # failing, but not for a minute yet
    rds.hset(keys.QUEUE_FAILING, "alive", time.time() - 61)
    status, body = ops(rds)
    assert status == 503 and body["status"] == "degraded" and body["checks"]["mail"].startswith("failing for 61 s")
    rds.hset(keys.QUEUE_FAILING, "dead-worker", time.time() - 600)  # no heartbeat: not counted
    queue.mark_failing("alive", None)
    assert ops(rds)[0] == 200
    queued = job("x@office.test")
    queue.enqueue(queued)
    rds.zadd(keys.QUEUE_DUE, {queued["id"]: time.time() - 301})
    status, body = ops(rds)
    assert status == 503 and body["checks"]["alerts"].startswith("oldest undelivered alert is 301 s old")
    assert ops(rds, max_delay=600)[0] == 200


def test_the_alert_delay_limit_is_a_setting() -> None:
    assert config.load({}).alert_max_delay == 300.0
    assert config.load({"CONTROLLER_ALERT_MAX_DELAY": "60"}).alert_max_delay == 60.0
    with pytest.raises(config.ConfigError):
        config.load({"CONTROLLER_ALERT_MAX_DELAY": "0"})
