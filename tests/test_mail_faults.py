"""The mail sender never dies of one job or one outage, through real processes: a Redis of its
own killed with SIGKILL and restarted under a running `controller mailer`, a Redis still loading
its data, poison jobs, a worker restarted under the same `--name`; each with exact counts of what
was delivered, duplicated, retried and dead-lettered."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import redis
from gevent.server import StreamServer

from controller.notify.job import make_job
from controller.notify.queue import JobQueue
from controller.notify.templates import Templates, packaged
from controller.store import keys
from tests.conftest import free_port
from tests.faults import LoadingProxy, MailerProcess, mailer_env
from tests.mailserver import delivered, running_smtp
from tests.office import ACCOUNT, load
from tests.own_redis import OwnRedis, wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    (tmp_path / "redis").mkdir()
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def job(call_id: str, account: str = ACCOUNT, to: str = "") -> dict[str, Any]:
    call = {"call_id": call_id, "caller_id_name": "Carol", "caller_id_number": "+15557770000",
            "started_at": 1795440000.0, "hangup_cause": "NO_ANSWER"}
    recipients = [{"type": "email", "id": to} if to else {"type": "user", "id": "u-ann"}]
    return make_job("missed_call", account, call, instance="fs-faults", recipients=recipients)


def message_ids(maildir: Path) -> list[str]:
    return [str(m["Message-ID"]) for m in delivered(maildir)]


def test_a_redis_killed_and_restarted_under_a_running_mail_sender_loses_and_duplicates_nothing(
    own_redis: OwnRedis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    port, maildir = smtp
    rds = redis.Redis.from_url(own_redis.url, decode_responses=True)
    load(rds)
    queue = JobQueue(rds)
    mailer = MailerProcess(mailer_env(own_redis.url, port, job_lease_seconds="5"), tmp_path / "mailer.log")
    try:
        for n in range(300):
            queue.enqueue(job(f"before-{n}"))
        wait_for(lambda: len(delivered(maildir)) >= 50)
        own_redis.kill()  # in the middle of the backlog
        wait_for(lambda: len(mailer.lines("Redis unavailable")) == 1)
        own_redis.start()  # same port, same append-only file
        for n in range(20):
            queue.enqueue(job(f"after-{n}"))
        wait_for(lambda: len(delivered(maildir)) >= 320, 30)
        wait_for(lambda: len(mailer.lines("Redis is back")) == 1)
        wait_for(lambda: queue.stats()["processing"] == 0 and queue.stats()["ready"] == 0)
        ids = message_ids(maildir)
        assert len(ids) == 320 and len(set(ids)) == 320  # every alert once: none lost, none twice
        stats = queue.stats()
        assert (stats["scheduled"], stats["dead"], stats["oldest_due_age"], stats["workers"]) == (0, 0, None, 1)
        assert len(mailer.lines("Redis unavailable")) == 1 and len(mailer.lines("Redis is back")) == 1
        assert len(mailer.lines(" delivered job ")) >= 320
        assert mailer.stop() == 0
    finally:
        mailer.kill()
        rds.close()


def test_a_redis_still_loading_its_data_is_waited_out(
    own_redis: OwnRedis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    port, maildir = smtp
    rds = redis.Redis.from_url(own_redis.url, decode_responses=True)
    load(rds)
    proxy = LoadingProxy(own_redis.port)
    mailer = MailerProcess(mailer_env(proxy.url, port), tmp_path / "mailer.log")
    try:
        for n in range(5):
            JobQueue(rds).enqueue(job(f"c-{n}"))
        wait_for(lambda: len(mailer.lines("Redis unavailable")) == 1 and proxy.refused >= 5)
        assert "LOADING" in mailer.lines("Redis unavailable")[0] or "BusyLoading" in mailer.lines("unavailable")[0]
        proxy.loading = False
        wait_for(lambda: len(delivered(maildir)) == 5)
        wait_for(lambda: len(mailer.lines("Redis is back")) == 1)
        assert len(set(message_ids(maildir))) == 5 and mailer.proc.poll() is None
        assert len(mailer.lines("Redis unavailable")) == 1
        assert mailer.stop() == 0
    finally:
        mailer.kill()
        proxy.stop()
        rds.close()


def test_poison_jobs_are_retried_or_dead_lettered_with_the_reason_and_the_sender_goes_on(
    rds: redis.Redis, redis_url: str, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    port, maildir = smtp
    load(rds)
    default = packaged("missed_call")
    assert default is not None
    rds.set(keys.account("acct-broken-template"), json.dumps({"id": "acct-broken-template", "name": "B"}))
    Templates(rds).save("acct-broken-template", "missed_call", default.fields, "{{ 1 / 0 }}", default.html)
    rds.set(keys.account("acct-unreadable"), "{not json")
    queue = JobQueue(rds)
    odd_attempts = job("odd-attempts")
    queue.enqueue(odd_attempts)
    rds.hset(keys.queue_job(odd_attempts["id"]), "attempts", "x")
    missing = job("missing-fields")
    del missing["recipients"]
    queue.enqueue(missing)
    queue.enqueue(job("broken-template", "acct-broken-template", to="desk@office.test"))
    queue.enqueue(job("unreadable-account", "acct-unreadable"))
    mailer = MailerProcess(mailer_env(redis_url, port), tmp_path / "mailer.log")
    try:
        wait_for(lambda: len(delivered(maildir)) == 1)
        queue.enqueue(job("after-the-poison"))
        wait_for(lambda: len(delivered(maildir)) == 2)
        wait_for(lambda: queue.stats()["dead"] == 2 and queue.stats()["scheduled"] == 1)
        errors = sorted(entry["error"].split(":")[0] for entry in queue.dead())
        assert errors == ["invalid job", "template failed"]
        [retry] = rds.zrange(keys.QUEUE_SCHEDULED, 0, -1)
        assert rds.hget(keys.queue_job(retry), "last_error").startswith("reading the job's account or template failed")
        assert len(mailer.lines("dead-lettered job")) == 2 and len(mailer.lines("retry job")) == 1
        assert len(mailer.lines(" delivered job ")) == 2 and len(mailer.lines("attempts 'x' is not a number")) == 1
        assert mailer.proc.poll() is None
        assert mailer.stop() == 0
    finally:
        mailer.kill()


def test_a_worker_restarted_under_the_same_name_reclaims_what_its_predecessor_held(
    rds: redis.Redis, redis_url: str, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    port, maildir = smtp
    load(rds)
    silent = free_port()
    held: list[Any] = []
    blackhole = StreamServer(("127.0.0.1", silent), lambda sock, _: (held.append(sock), gevent.sleep(60)))
    blackhole.start()  # accepts, never answers: the first worker hangs holding its job
    first = MailerProcess(mailer_env(redis_url, silent, job_lease_seconds="1"), tmp_path / "first.log",
                          "--name", "fixed")
    second = None
    try:
        JobQueue(rds).enqueue(job("held"))
        wait_for(lambda: JobQueue(rds).stats()["processing"] == 1)
        first.proc.kill()
        first.proc.wait(5)
        second = MailerProcess(mailer_env(redis_url, port, job_lease_seconds="1"), tmp_path / "second.log",
                               "--name", "fixed")
        wait_for(lambda: len(delivered(maildir)) == 1, 15)
        wait_for(lambda: JobQueue(rds).stats()["workers"] == 1)
        stats = json.loads(subprocess.run([sys.executable, "-m", "controller", "jobs", "stats", "--json"],
                                          env=mailer_env(redis_url, port), capture_output=True, text=True,
                                          timeout=30, check=True).stdout)
        assert stats["workers"] == 1 and stats["worker_names"][0].startswith("fixed@")
        assert (stats["processing"], stats["ready"], stats["dead"]) == (0, 0, 0)
        assert second.stop() == 0
        assert len(delivered(maildir)) == 1
    finally:
        first.kill()
        if second is not None:
            second.kill()
        blackhole.stop(timeout=1)
