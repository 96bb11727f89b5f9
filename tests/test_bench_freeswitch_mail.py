"""bench-freeswitch counts the product's mail against the alerts its calls queued (one enqueued
record per alert in its Redis, which a restarted role does not reset), not against the calls
SIPp saw succeed: duplicates and losses are told apart by Message-ID."""

from pathlib import Path

import redis

from controller.lab.bench_freeswitch import Mail, Mailbox
from controller.store import keys


def queued(rds: redis.Redis, count: int) -> None:
    for n in range(count):
        rds.set(keys.queue_enqueued(f"alert-{n}"), f"job-{n}")


def test_the_product_mail_is_counted_against_its_own_alerts(redis_url: str, rds: redis.Redis, tmp_path: Path) -> None:
    queued(rds, 3)
    sink = tmp_path / "sink.log"
    sink.write_text("<a@x> 1.0 data\n<b@x> 1.1 data\n<b@x> 1.2 data\n<c@x> 1.3 data\n")
    mail = Mailbox(sink, redis_url).collect(timeout=5)
    assert mail == Mail(alerts=3, emails=4, distinct=3)
    assert mail.summary() == "alerts 3 emails 4 (1 duplicate, 0 lost)"


def test_an_alert_whose_email_never_came_is_counted_lost(redis_url: str, rds: redis.Redis, tmp_path: Path) -> None:
    queued(rds, 3)
    sink = tmp_path / "sink.log"
    sink.write_text("<a@x> 1.0 data\n")
    mail = Mailbox(sink, redis_url).collect(timeout=1)
    assert mail.summary() == "alerts 3 emails 1 (0 duplicate, 2 lost)"
