"""The mail sender against a real SMTP server (aiosmtpd in a subprocess, Maildir) and a real
Redis: the message is checked header by header and part by part."""

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import redis
from gevent import socket as gsocket
from gevent.pywsgi import WSGIServer
from gevent.server import StreamServer

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.notify.delivery import OutboxSender, SmtpSender
from controller.notify.job import make_job
from controller.notify.mailer import Mailer
from controller.notify.queue import Backoff, JobQueue
from controller.notify.sms import SmsSender
from controller.notify.smtplog import SmtpLog
from controller.notify.templates import Templates, packaged
from controller.store.bundle import load_bundle
from tests.conftest import free_port
from tests.mailserver import delivered, running_smtp, start_smtp
from tests.office import ACCOUNT, call, flow, load, node


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


def mailer_for(rds: redis.Redis, port: int, **queue: Any) -> Mailer:
    return Mailer(rds, JobQueue(rds, **queue), SmtpSender(f"smtp://127.0.0.1:{port}"), name="test-mailer")


def missed_job(call_id: str = "c-1", **call: Any) -> dict[str, Any]:
    data = {"call_id": call_id, "caller_id_name": "Carol", "caller_id_number": "+15557770000",
            "to_user": "+15554441111", "started_at": 1795440000.0, "hangup_cause": "ALLOTTED_TIMEOUT",
            "bridged": False, "message_left": False, **call}
    return make_job("missed_call", ACCOUNT, data, instance="fs-test",
                    recipients=[{"type": "user", "id": "u-ann"}, {"type": "email", "id": "desk@office.test"}])


def test_a_missed_call_becomes_an_email(rds: redis.Redis, esl_server: OutboundServer, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds, flow("+15554441111", node("missed_call_alert", {"recipients": [{"type": "user", "id": "u-ann"}]},
                                        _=node("user", {"id": "u-bob", "timeout": 1}))))
    record = call(esl_server, "+15554441111", caller_name="Carol <b>", caller_number="+15557770000",
                  bridges=(BridgeOutcome("busy"),))
    assert mailer_for(rds, port).run(burst=True) == 1
    [message] = delivered(maildir)
    assert message["To"] == "ann@office.test"
    assert message["Subject"] == "Missed call from Carol <b> (+15557770000)"
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part for part in message.iter_parts())
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert "You missed a call from Carol <b> (+15557770000)" in text.get_content()
    assert "Carol &lt;b&gt;" in html.get_content() and "Carol <b>" not in html.get_content()
    assert record.uuid in text.get_content()
    [entry] = SmtpLog(rds).entries(ACCOUNT)
    assert entry["receipt"].startswith("250") and entry["template_id"] == "missed_call"
    assert entry["call_id"] == record.uuid and entry["template_account_id"] == "system"


def test_user_email_is_resolved_at_send_time_and_unknown_users_skipped(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    port, maildir = smtp
    load(rds)
    queue = JobQueue(rds)
    job = missed_job()
    job["recipients"] = [{"type": "user", "id": "no-such-user"}, {"type": "user", "id": "u-bob"}]
    queue.enqueue(job)
    mailer_for(rds, port).run(burst=True)
    assert [m["To"] for m in delivered(maildir)] == ["bob@office.test"]


def test_the_same_job_delivered_twice_sends_one_email(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds)
    queue = JobQueue(rds)
    queue.enqueue(missed_job())
    mailer_for(rds, port).run(burst=True)
    rds.delete("queue:enqueued:" + missed_job()["idempotency_key"])  # a second enqueue gets through
    queue.enqueue(missed_job())
    mailer_for(rds, port).run(burst=True)
    assert len(delivered(maildir)) == 1


def test_smtp_down_then_up_delays_but_delivers_once(rds: redis.Redis, tmp_path: Path) -> None:
    load(rds)
    port, maildir = free_port(), tmp_path / "Maildir"
    quick = {"backoff": Backoff(base=0.05, factor=1, limit=0.05), "max_attempts": 50}
    JobQueue(rds).enqueue(missed_job())
    mailer_for(rds, port, **quick).run(burst=True)  # nobody listens: a transient failure
    assert JobQueue(rds).stats()["scheduled"] == 1 and delivered(maildir) == []
    proc = start_smtp(port, maildir)
    try:
        gevent.sleep(0.1)
        mailer_for(rds, port, **quick).run(burst=True)
        assert len(delivered(maildir)) == 1
        assert JobQueue(rds).stats() == {
            "ready": 0, "oldest_ready_age": None, "oldest_due_age": None, "scheduled": 0, "processing": 0,
            "workers": 0, "worker_names": [], "dead": 0}
    finally:
        proc.terminate()
        proc.wait(5)


def test_a_550_dead_letters_the_job_with_the_error(rds: redis.Redis, tmp_path: Path) -> None:
    load(rds)
    port = free_port()
    proc = start_smtp(port, tmp_path, handler="tests.smtp_handlers.Reject550")
    try:
        JobQueue(rds).enqueue(missed_job())
        mailer_for(rds, port).run(burst=True)
        [dead] = JobQueue(rds).dead()
        assert dead["error"].startswith("550 5.1.1 No such user here")
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.mark.parametrize(
    "body",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}", "{% for i in range(99999) %}{% for j in range(99999) %}"
     "{% endfor %}{% endfor %}", "{{ broken"],
)
def test_hostile_or_broken_templates_dead_letter_and_never_crash(
    rds: redis.Redis, smtp: tuple[int, Path], body: str
) -> None:
    port, maildir = smtp
    load(rds)
    default = packaged("missed_call")
    assert default is not None
    Templates(rds).save(ACCOUNT, "missed_call", default.fields, body, default.html)
    JobQueue(rds).enqueue(missed_job())
    quick = {"backoff": Backoff(base=0.01, factor=1, limit=0.01), "max_attempts": 2}
    mailer_for(rds, port, **quick).run(burst=True)
    if "range" in body:  # past the time limit: perhaps a busy machine, so tried once more
        assert JobQueue(rds).stats()["scheduled"] == 1
        gevent.sleep(0.05)
        mailer_for(rds, port, **quick).run(burst=True)
    assert delivered(maildir) == []
    [dead] = JobQueue(rds).dead()
    assert "template" in dead["error"]


def test_header_injection_through_caller_id_is_impossible(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds)
    JobQueue(rds).enqueue(missed_job(caller_id_name="Eve\r\nBcc: victim@evil.test"))
    mailer_for(rds, port).run(burst=True)
    [message] = delivered(maildir)
    assert message["Bcc"] is None
    assert "Eve" in message["Subject"] and "\n" not in message["Subject"]


def test_an_invalid_job_document_is_dead_lettered_with_the_reason(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, _ = smtp
    job = missed_job()
    job["media"] = ["fax"]
    JobQueue(rds).enqueue(job)
    mailer_for(rds, port).run(burst=True)
    [dead] = JobQueue(rds).dead()
    assert dead["error"].startswith("invalid job: $.media[0]")


def test_a_disabled_template_sends_nothing_and_says_so(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds)
    default = packaged("missed_call")
    assert default is not None
    Templates(rds).save(ACCOUNT, "missed_call", default.fields | {"enabled": False}, default.text, default.html)
    JobQueue(rds).enqueue(missed_job())
    mailer_for(rds, port).run(burst=True)
    assert delivered(maildir) == []
    assert SmtpLog(rds).entries(ACCOUNT)[0]["error"] == "template disabled"


def test_without_smtp_mail_lands_in_the_outbox(rds: redis.Redis, tmp_path: Path) -> None:
    load(rds)
    JobQueue(rds).enqueue(missed_job())
    Mailer(rds, JobQueue(rds), OutboxSender(str(tmp_path / "outbox"))).run(burst=True)
    [path] = (tmp_path / "outbox").glob("*.eml")
    assert email.message_from_bytes(path.read_bytes())["To"] == "ann@office.test, desk@office.test"


def test_a_mailer_killed_holding_a_job_leaves_it_to_another(
    rds: redis.Redis, redis_url: str, smtp: tuple[int, Path]
) -> None:
    port, maildir = smtp
    load(rds)
    silent_port = free_port()
    held: list[gsocket.socket] = []
    blackhole = StreamServer(("127.0.0.1", silent_port), lambda sock, _: (held.append(sock), gevent.sleep(60)))
    blackhole.start()  # accepts, never answers: the first mailer hangs holding its job
    env = dict(os.environ, CONTROLLER_REDIS_URL=redis_url, CONTROLLER_SMTP_URL=f"smtp://127.0.0.1:{silent_port}",
               CONTROLLER_JOB_LEASE_SECONDS="1")
    env.pop("CONTROLLER_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "controller", "mailer"], env=env, stdout=subprocess.DEVNULL)
    try:
        JobQueue(rds).enqueue(missed_job())
        wait_for(lambda: JobQueue(rds).stats()["processing"] == 1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        wait_for(lambda: not rds.exists("queue:heartbeat:" + str(rds.smembers("queue:workers").pop())), 10)
        assert mailer_for(rds, port, lease=1).run(burst=True) == 1
        assert len(delivered(maildir)) == 1
    finally:
        proc.kill()
        blackhole.stop(timeout=1)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    with gevent.Timeout(timeout, AssertionError("condition not met in time")):
        while not condition():
            gevent.sleep(0.05)


def test_sms_goes_to_the_users_mobile_and_a_retry_resends_no_email(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    port, maildir = smtp
    load(rds)
    received: list[tuple[str, dict[str, Any]]] = []
    answers = iter(["503 Service Unavailable", "200 OK"])

    def gateway(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = json.loads(environ["wsgi.input"].read())
        received.append((environ.get("HTTP_AUTHORIZATION", ""), body))
        start_response(next(answers, "200 OK"), [("Content-Type", "application/json")])
        return [b"{}"]

    http = WSGIServer(("127.0.0.1", 0), gateway, log=None)
    http.start()
    try:
        job = missed_job()
        job["media"] = ["email", "sms"]
        JobQueue(rds).enqueue(job)
        quick = {"backoff": Backoff(base=0.01, factor=1, limit=0.01)}
        sms = SmsSender(f"http://127.0.0.1:{http.server_port}/sms", token="t0k", sender="+15550000000")
        mailer = Mailer(rds, JobQueue(rds, **quick), SmtpSender(f"smtp://127.0.0.1:{port}"), "m", sms)
        mailer.run(burst=True)  # SMS answered 503: retry scheduled, the email already sent
        gevent.sleep(0.05)
        mailer = Mailer(rds, JobQueue(rds, **quick), SmtpSender(f"smtp://127.0.0.1:{port}"), "m", sms)
        mailer.run(burst=True)
        assert len(delivered(maildir)) == 1
        assert [(auth, body["to"], body["from"]) for auth, body in received] == [
            ("Bearer t0k", "+15550100101", "+15550000000")] * 2
        assert received[-1][1]["text"].startswith("Missed call from Carol")
        assert JobQueue(rds).stats()["dead"] == 0 and JobQueue(rds).stats()["scheduled"] == 0
    finally:
        http.stop()


def test_non_ascii_subjects_and_bodies_arrive_intact(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds)
    JobQueue(rds).enqueue(missed_job(caller_id_name="Zoë Ångström"))
    mailer_for(rds, port).run(burst=True)
    [message] = delivered(maildir)
    assert message["Subject"].strip() == "Missed call from Zoë Ångström (+15557770000)"
    text = next(part for part in message.iter_parts() if part.get_content_type() == "text/plain")
    assert "Zoë Ångström" in text.get_content()


def test_templates_cascade_from_the_account_to_its_parent_to_the_system(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    port, maildir = smtp
    load_bundle(rds, {"account": {"id": "reseller", "name": "Reseller"}}, "parent")
    child = {"account": {"id": ACCOUNT, "name": "Test Office", "parent_id": "reseller"},
             "users": [{"id": "u-ann", "first_name": "Ann", "email": "ann@office.test"}]}
    load_bundle(rds, child, "child")
    default = packaged("missed_call")
    assert default is not None
    Templates(rds).save("reseller", "missed_call", default.fields | {"subject": "Reseller: {{ caller_id.number }}"},
                        default.text, default.html)
    JobQueue(rds).enqueue(missed_job("c-parent"))
    mailer_for(rds, port).run(burst=True)
    Templates(rds).save(ACCOUNT, "missed_call", default.fields | {"subject": "Own: {{ caller_id.number }}"},
                        default.text, default.html)
    JobQueue(rds).enqueue(missed_job("c-own"))
    mailer_for(rds, port).run(burst=True)
    subjects = sorted(str(m["Subject"]) for m in delivered(maildir))
    assert subjects == ["Own: +15557770000", "Reseller: +15557770000"]
    owners = sorted(entry["template_account_id"] for entry in SmtpLog(rds).entries(ACCOUNT))
    assert owners == [ACCOUNT, "reseller"]
