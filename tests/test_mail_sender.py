"""Mail that a real server accepts and a reader trusts: the From of an email whose template has no
`from` is the account's (or its reseller's) `notifications.from`, else CONTROLLER_MAIL_FROM, else
no-reply@<the account's realm>, never a bare host; the Message-ID has that address's domain; an
email to several people greets none of them by the first one's name, and the SMTP log lists each
recipient. Against a real SMTP server (aiosmtpd) and Redis."""

import json
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.errors import ConfigError
from controller.notify.delivery import SmtpSender
from controller.notify.job import make_job
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
from controller.notify.sender import LEGACY_FROM
from controller.notify.smtplog import SmtpLog
from controller.store import codec, keys
from controller.store.bundle import load_bundle
from controller.store.documents import Accounts
from tests.mailserver import delivered, running_smtp
from tests.office import ACCOUNT, bundle, load

pytestmark = pytest.mark.timeout(60)
CALL = {"call_id": "c-1", "caller_id_name": "Carol", "caller_id_number": "+15557770000",
        "started_at": 1795440000.0, "hangup_cause": "NO_ANSWER"}


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


def send(rds: redis.Redis, port: int, maildir: Path, *recipients: dict[str, Any], mail_from: str = "",
         account: str = ACCOUNT) -> list[EmailMessage]:
    """One missed-call job to these recipients, delivered; the messages the server stored."""
    queue = JobQueue(rds)
    call = {**CALL, "call_id": uuid.uuid4().hex}  # another call each time (one job per call)
    queue.enqueue(make_job("missed_call", account, call, instance="fs-test", recipients=list(recipients)))
    Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}"), name="m", mail_from=mail_from).run(burst=True)
    assert queue.stats()["dead"] == 0
    return delivered(maildir)


ANN = {"type": "user", "id": "u-ann"}


def set_account(rds: redis.Redis, account: str, **fields: Any) -> None:
    doc = codec.load(rds.get(keys.account(account))) or {}
    Accounts(rds).save({**doc, **fields})


def test_with_nothing_set_mail_comes_from_no_reply_at_the_account_realm(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    load(rds)
    [message] = send(rds, *smtp, ANN)
    assert message["From"] == "no-reply@office.test"
    assert str(message["Message-ID"]).endswith("@office.test>")


def test_the_setting_then_the_account_then_the_template_choose_the_sender(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    load(rds)
    port, maildir = smtp
    [first] = send(rds, port, maildir, ANN, mail_from="Office PBX <pbx@mail.example.com>")
    assert first["From"] == "Office PBX <pbx@mail.example.com>"
    assert str(first["Message-ID"]).endswith("@mail.example.com>")
    set_account(rds, ACCOUNT, notifications={"from": "Test Office <alerts@office.test>"})
    second = send(rds, port, maildir, ANN, mail_from="pbx@mail.example.com")
    assert "Test Office <alerts@office.test>" in {str(m["From"]) for m in second}
    template = {"fields": {"from": "{{ account.name }} <desk@office.test>", "to": {"type": "original"}},
                "text": "hi", "html": "<p>hi</p>"}
    rds.set(keys.template(ACCOUNT, "missed_call"), json.dumps(template))
    third = send(rds, port, maildir, ANN, mail_from="pbx@mail.example.com")
    assert "Test Office <desk@office.test>" in {str(m["From"]) for m in third}


def test_a_reseller_sender_reaches_its_customers_and_a_copied_legacy_from_reads_as_empty(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    reseller = {"id": "acct-reseller", "name": "Reseller", "realm": "reseller.test",
                "notifications": {"from": "Reseller Voice <voice@reseller.test>"}}
    load_bundle(rds, {"account": reseller}, "reseller")
    office = bundle([])
    office["account"]["parent_id"] = "acct-reseller"
    load_bundle(rds, office, "office")
    stale = {"fields": {"from": LEGACY_FROM, "subject": "Missed", "to": {"type": "original"}},
             "text": "Hello", "html": "<p>Hello</p>"}
    rds.set(keys.template(ACCOUNT, "missed_call"), json.dumps(stale))  # a copy made by an earlier release
    [message] = send(rds, *smtp, ANN, mail_from="pbx@mail.example.com")
    assert message["From"] == "Reseller Voice <voice@reseller.test>"


def greeting(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).splitlines()[0]


def test_an_email_to_several_people_greets_none_of_them_by_the_first_ones_name(
    rds: redis.Redis, smtp: tuple[int, Path]
) -> None:
    load(rds)
    port, maildir = smtp
    desks = {"type": "email", "id": ["support@office.test", "frontdesk@office.test"]}
    [message] = send(rds, port, maildir, ANN, desks)
    assert greeting(message) == "Hello,"
    html = message.get_body(("html",))
    assert html is not None and "Ann" not in str(html.get_content())
    [entry] = SmtpLog(rds).entries(ACCOUNT)
    assert sorted(entry["recipients"]) == ["ann@office.test", "frontdesk@office.test", "support@office.test"]
    alone = send(rds, port, maildir, ANN)  # to Ann alone (another call), she is greeted by name
    assert "Hello Ann," in {greeting(m) for m in alone}


def test_a_sender_without_a_domain_is_refused_where_it_is_set(rds: redis.Redis) -> None:
    with pytest.raises(ConfigError, match="CONTROLLER_MAIL_FROM"):
        config.load({"CONTROLLER_CONFIG": "/dev/null", "CONTROLLER_MAIL_FROM": "no-reply@vm"})
    load(rds)
    with pytest.raises(Exception, match="notifications"):
        set_account(rds, ACCOUNT, notifications={"from": "no-reply@vm"})
