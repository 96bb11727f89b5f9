"""The mail sender's speed-ups keep its guarantees: compiled templates are cached by source (an
edit is used at once, the cache is bounded), jobs are claimed in batches (a warm stop hands the
rest back; two jobs with one key still send once), SMTP PIPELINING is used when offered (refused
recipients are still told apart), and the benchmark's own SMTP sink records what it accepts."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from controller.lab.bench import wait_listening
from controller.notify.delivery import SmtpSender
from controller.notify.job import make_job
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
from controller.notify.render import Renderer
from controller.notify.smtplog import SmtpLog
from controller.notify.templates import Templates, packaged
from controller.store import keys
from controller.store.bundle import load_bundle
from tests.conftest import free_port
from tests.mailserver import delivered, running_smtp
from tests.office import ACCOUNT, load


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


@pytest.fixture(params=["PipeliningMailbox", "RefusingMailbox"])
def refusing_smtp(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[int, Path]]:
    """A server that refuses `refused@...`, with and without PIPELINING."""
    yield from running_smtp(tmp_path, f"tests.smtp_handlers.{request.param}")


def job(call_id: str, recipients: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    call = {"call_id": call_id, "caller_id_name": "Carol", "caller_id_number": "+15557770000",
            "started_at": 1795440000.0, "hangup_cause": "NO_ANSWER"}
    return make_job("missed_call", ACCOUNT, call, instance="fs-test",
                    recipients=recipients or [{"type": "user", "id": "u-ann"}])


def save_subject(rds: redis.Redis, subject: str) -> None:
    default = packaged("missed_call")
    assert default is not None
    Templates(rds).save(ACCOUNT, "missed_call", default.fields | {"subject": subject}, default.text, default.html)


class StopAfterFirst:
    """The real SMTP sender; after its first email it asks the worker for a warm stop (as the
    first SIGTERM does)."""

    def __init__(self, inner: SmtpSender) -> None:
        self.inner = inner
        self.mailer: Mailer | None = None

    def send(self, message: Any, recipients: list[str], data: bytes | None = None) -> str:
        receipt = self.inner.send(message, recipients, data)
        assert self.mailer is not None
        self.mailer.stopping.set()
        return receipt

    def close(self) -> None:
        self.inner.close()


def test_a_template_edited_in_redis_is_used_by_the_next_job(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds)
    mailer = Mailer(rds, JobQueue(rds), SmtpSender(f"smtp://127.0.0.1:{port}"), name="m")
    save_subject(rds, "First: {{ caller_id.number }}")
    JobQueue(rds).enqueue(job("c-1"))
    mailer.run(burst=True)
    compiled = mailer.renderer.compilations
    JobQueue(rds).enqueue(job("c-2"))
    mailer.run(burst=True)
    assert mailer.renderer.compilations == compiled  # the same sources: nothing compiled again
    save_subject(rds, "Edited: {{ caller_id.number }}")
    JobQueue(rds).enqueue(job("c-3"))
    mailer.run(burst=True)
    assert mailer.renderer.compilations == compiled + 1  # only the edited subject
    subjects = sorted(str(m["Subject"]) for m in delivered(maildir))
    assert subjects == ["Edited: +15557770000", "First: +15557770000", "First: +15557770000"]


def test_the_compiled_template_cache_is_bounded_and_keeps_the_recent_ones() -> None:
    renderer = Renderer(cache_size=2)
    for source in ("a {{ x }}", "b {{ x }}", "a {{ x }}", "c {{ x }}"):
        renderer.render(source, {"x": 1})
    assert len(renderer) == 2 and renderer.compilations == 3
    assert renderer.render("a {{ x }}", {"x": 2}) == "a 2" and renderer.compilations == 3  # used recently: kept
    assert renderer.render("b {{ x }}", {"x": 3}) == "b 3" and renderer.compilations == 4  # the oldest: dropped
    assert len(renderer) == 2


def test_a_batch_is_claimed_at_once_and_a_warm_stop_hands_back_the_rest(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    port, maildir = smtp
    load(rds)
    queue = JobQueue(rds)
    for n in range(5):
        queue.enqueue(job(f"c-{n}"))
    claimed = queue.claim_batch("w", 3)
    assert len(claimed) == 3 and rds.llen(keys.queue_processing("w")) == 3 and rds.llen(keys.QUEUE_READY) == 2
    assert queue.release("w") == 3
    sender = StopAfterFirst(SmtpSender(f"smtp://127.0.0.1:{port}"))
    mailer = Mailer(rds, queue, sender, name="w", batch=4)
    sender.mailer = mailer
    assert mailer.run() == 1
    assert len(delivered(maildir)) == 1
    stats = queue.stats()
    assert (stats["ready"], stats["processing"], stats["scheduled"], stats["dead"]) == (4, 0, 0, 0)
    assert Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}"), name="w2").run(burst=True) == 4
    assert len(delivered(maildir)) == 5


def test_two_jobs_with_one_key_in_one_batch_send_one_email(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds)
    queue = JobQueue(rds)
    first, second = job("c-1"), job("c-1")
    assert first["idempotency_key"] == second["idempotency_key"] and first["id"] != second["id"]
    queue.enqueue(first)
    rds.delete(keys.queue_enqueued(first["idempotency_key"]))  # as if its enqueue record had expired
    queue.enqueue(second)
    assert Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}"), name="m").run(burst=True) == 2
    assert len(delivered(maildir)) == 1
    assert queue.stats()["ready"] == 0 and queue.stats()["processing"] == 0


def test_refused_recipients_are_told_apart_and_the_connection_stays_usable(
    rds: redis.Redis, refusing_smtp: tuple[int, Path]
) -> None:
    port, maildir = refusing_smtp
    load(rds)
    queue = JobQueue(rds)
    queue.enqueue(job("c-1", [{"type": "email", "id": ["refused@office.test", "desk@office.test"]}]))
    queue.enqueue(job("c-2", [{"type": "email", "id": ["refused@office.test"]}]))
    queue.enqueue(job("c-3", [{"type": "user", "id": "u-ann"}]))
    sender = SmtpSender(f"smtp://127.0.0.1:{port}")
    assert Mailer(rds, queue, sender, name="m", batch=1).run(burst=True) == 3
    messages = delivered(maildir)
    assert sorted(str(m["To"]) for m in messages) == ["ann@office.test", "refused@office.test, desk@office.test"]
    assert all("You missed a call" in m.get_body(("plain",)).get_content() for m in messages)  # type: ignore[union-attr]
    whole, half = sorted(queue.dead(), key=lambda d: d["error"])  # only the refused recipient, in both
    assert half["error"] == "refused@office.test: 550 5.1.1 No such user here (delivered to desk@office.test)"
    assert whole["error"] == "every recipient refused: refused@office.test: 550 5.1.1 No such user here"
    receipts = [e.get("receipt") for e in SmtpLog(rds).entries(ACCOUNT) if e.get("receipt")]
    assert len(receipts) == 2 and all(r.startswith("250") for r in receipts)
    outcomes = [{k: v[:3] for k, v in e["recipients"].items()} for e in reversed(SmtpLog(rds).entries(ACCOUNT))]
    assert outcomes == [{"refused@office.test": "550", "desk@office.test": "250"}, {"refused@office.test": "550"},
                        {"ann@office.test": "250"}]


def test_chunking_sends_each_message_in_one_write_and_the_benchmark_sink_records_it(
    rds: redis.Redis, tmp_path: Path
) -> None:
    """The lab sink offers PIPELINING and CHUNKING (as Postfix does): envelope and BDAT in one write."""
    load(rds)
    port, record = free_port(), tmp_path / "accepted"
    sink = subprocess.Popen([sys.executable, "-m", "controller.lab.smtp_sink", f"127.0.0.1:{port}", str(record)])
    try:
        wait_listening(port, sink)  # type: ignore[arg-type]
        queue = JobQueue(rds)
        for n in range(3):
            queue.enqueue(job(f"c-{n}"))
        queue.enqueue(job("c-refused", [{"type": "email", "id": ["refused@office.test"]}]))
        queue.enqueue(job("c-half", [{"type": "email", "id": ["refused@office.test", "desk@office.test"]}]))
        sender = SmtpSender(f"smtp://127.0.0.1:{port}")
        assert Mailer(rds, queue, sender, name="m").run(burst=True) == 5
        ids = sorted(e["message_id"] for e in SmtpLog(rds).entries(ACCOUNT) if e["receipt"].startswith("250"))
        assert len(ids) == 4
        lines = [line.split() for line in record.read_text().splitlines()]
        assert sorted(words[0] for words in lines) == ids and {words[2] for words in lines} == {"bdat"}
        assert sorted(d["error"].split(":")[0] for d in queue.dead()) == ["every recipient refused",
                                                                          "refused@office.test"]
    finally:
        sink.terminate()
        sink.wait(5)


def test_one_batch_of_several_accounts_gives_each_job_its_own_account_users_and_template(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    port, maildir = smtp
    load(rds)
    other = {"account": {"id": "acct-other", "name": "Other", "parent_id": ACCOUNT},
             "users": [{"id": "u-zed", "first_name": "Zed", "email": "zed@other.test"}]}
    load_bundle(rds, other, "other")
    save_subject(rds, "Office: {{ account.name }}")  # the parent's copy serves the child too
    queue = JobQueue(rds)
    for n, (aid, user) in enumerate([(ACCOUNT, "u-ann"), ("acct-other", "u-zed"), (ACCOUNT, "u-bob")]):
        queued = job(f"c-{n}", [{"type": "user", "id": user}])
        queue.enqueue(queued | {"account_id": aid})
    assert Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}"), name="m").run(burst=True) == 3
    got = sorted((str(m["To"]), str(m["Subject"])) for m in delivered(maildir))
    assert got == [("ann@office.test", "Office: Test Office"), ("bob@office.test", "Office: Test Office"),
                   ("zed@other.test", "Office: Other")]
