"""Mail built from hostile input, through the real mail sender, a real Redis and a real SMTP
server: a caller chooses no address and no header, a job cannot attach a file from outside the
voicemail folder nor through a symlink, a job for no account or with values out of range is
dead-lettered with the reason, and a stored template over its limits never stalls the sender."""

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from controller.notify.delivery import SmtpSender
from controller.notify.job import make_job
from controller.notify.macros import address_macros
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
from controller.notify.recording import Recordings
from controller.notify.templates import Templates, packaged
from tests.mailserver import bodies, delivered, running_smtp
from tests.office import ACCOUNT, load

CALLER = "Boss <ceo@bank.example>, x@evil.example\r\nBcc: attacker@evil.example"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


def missed_job(call_id: str = "c-1", account: str = ACCOUNT, **call: Any) -> dict[str, Any]:
    data = {"call_id": call_id, "caller_id_name": "Carol", "caller_id_number": "+15557770000",
            "to_user": "+15554441111", "started_at": 1795440000.0, "hangup_cause": "NO_ANSWER", **call}
    return make_job("missed_call", account, data, instance="fs-hostile",
                    recipients=[{"type": "user", "id": "u-ann"}, {"type": "email", "id": "desk@office.test"}])


def voicemail_job(media_path: str) -> dict[str, Any]:
    call = {"call_id": "c-vm", "caller_id_name": "Carol", "caller_id_number": "+15557770000",
            "started_at": 1795440000.0, "message_left": True}
    voicemail = {"box_id": "vm-ann", "mailbox": "1001", "message_id": "m-1", "length": 5, "media_path": media_path}
    return make_job("voicemail_to_email", ACCOUNT, call, instance="fs-hostile",
                    recipients=[{"type": "user", "id": "u-ann"}], data={"voicemail": voicemail})


def save_template(rds: redis.Redis, **fields: Any) -> None:
    """The account's missed_call template as stored (not through the API, which refuses these)."""
    default = packaged("missed_call")
    assert default is not None
    text = fields.pop("text", default.text)
    Templates(rds).save(ACCOUNT, "missed_call", {**default.fields, **fields}, text, default.html)


def run(rds: redis.Redis, port: int, recordings: Recordings | None = None, **queue: Any) -> Mailer:
    mailer = Mailer(rds, JobQueue(rds, **queue), SmtpSender(f"smtp://127.0.0.1:{port}"), "hostile",
                    recordings=recordings)
    mailer.run(burst=True)
    return mailer


def dead_errors(rds: redis.Redis) -> list[str]:
    return [str(entry["error"]) for entry in JobQueue(rds).dead()]


def test_a_hostile_caller_chooses_no_address_and_no_header(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds)
    save_template(rds, **{"from": "{{ account.name }} <alerts@{{ account.realm }}>{{ caller_id.name }}",
                          "reply_to": "{{ caller_id.name }}"})
    job = missed_job(caller_id_name=CALLER)
    JobQueue(rds).enqueue(job)
    run(rds, port)
    [message] = delivered(maildir)
    one_line = CALLER.replace("\r\n", "  ")
    headers = {name: str(value) for name, value in message.items() if name not in ("Date", "Content-Type")}
    assert headers == {
        "MIME-Version": "1.0",
        "Subject": f"Missed call from {one_line} (+15557770000)",
        "From": "Test Office <alerts@office.test>",
        "To": "ann@office.test, desk@office.test",
        "Message-ID": f"<{job['idempotency_key'][:32]}@office.test>",
        "X-Peer": headers["X-Peer"],
        "X-MailFrom": "alerts@office.test",
        "X-RcptTo": "ann@office.test, desk@office.test",
    }
    text, html = bodies(message)
    assert f"You missed a call from {one_line} (+15557770000)." in text.splitlines()
    assert not any(line.startswith("Bcc:") for line in text.splitlines())
    assert "Boss &lt;ceo@bank.example&gt;, x@evil.example" in html and "<ceo@" not in html


@pytest.mark.parametrize(("field", "source", "reason"), [
    ("from", "{{ caller_id.name }}", "from renders to '', not one email address"),
    ("reply_to", "{{ caller_id.name }}, x@evil.example", "reply_to renders to ', x@evil.example', not one email"),
    ("from", "alerts@office.test, x@evil.example", "from renders to 'alerts@office.test, x@evil.example', not one"),
])
def test_an_address_field_that_is_not_one_address_without_call_data_is_dead_lettered(
    rds: redis.Redis, smtp: tuple[int, Path], field: str, source: str, reason: str
) -> None:
    port, maildir = smtp
    load(rds)
    save_template(rds, **{field: source})
    JobQueue(rds).enqueue(missed_job(caller_id_name="ceo@bank.example"))
    run(rds, port)
    assert delivered(maildir) == []
    [error] = dead_errors(rds)
    assert error.startswith(reason)


def test_account_values_in_an_address_cannot_add_or_quote_an_address() -> None:
    account = {"id": "a", "name": 'Smith, Jones" <boss@evil.example>\r\nBcc: x@y', "realm": "office.test"}
    values = address_macros(account)
    assert values["account"] == {"id": "a", "name": "Smith Jones boss evil.example Bcc x y", "realm": "office.test"}
    assert "caller_id" not in values and "call_id" not in values


def test_a_job_for_an_account_that_does_not_exist_is_dead_lettered(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    load(rds)
    JobQueue(rds).enqueue(missed_job("c-ghost", account="no-such-account"))
    JobQueue(rds).enqueue(missed_job("c-real"))
    run(rds, port)
    assert dead_errors(rds) == ["account no-such-account does not exist"]
    [message] = delivered(maildir)  # the next job is not held up
    assert message["To"] == "ann@office.test, desk@office.test"


@pytest.mark.parametrize(("where", "value", "reason"), [
    ("call", {"started_at": 1e300}, "invalid job: $.call.started_at: 1e+300 is greater than the maximum of 4294967295"),
    ("call", {"ended_at": -5.0}, "invalid job: $.call.ended_at: -5.0 is less than the minimum of 0"),
    ("voicemail", {"length": 10**30}, "invalid job: $.data.voicemail.length: 1000000000000000000000000000000 is "
                                      "greater than the maximum of 2147483647"),
    ("call", {"started_at": math.nan}, "invalid job: not a JSON object"),
])
def test_a_job_with_values_out_of_range_is_dead_lettered_with_the_reason(
    rds: redis.Redis, smtp: tuple[int, Path], where: str, value: dict[str, Any], reason: str
) -> None:
    port, maildir = smtp
    load(rds)
    job = voicemail_job("") if where == "voicemail" else missed_job("c-odd")
    (job["data"]["voicemail"] if where == "voicemail" else job["call"]).update(value)
    JobQueue(rds).enqueue(job)
    JobQueue(rds).enqueue(missed_job("c-fine"))
    mailer = run(rds, port)
    assert dead_errors(rds) == [reason]
    assert len(delivered(maildir)) == 1 and not mailer.stopping.is_set()


def attached(maildir: Path) -> list[bytes]:
    [message] = delivered(maildir)
    return [part.get_payload(decode=True) for part in message.iter_attachments()]  # type: ignore[misc]


def test_a_recording_inside_the_voicemail_folder_is_attached(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    port, maildir = smtp
    folder = tmp_path / "vm" / ACCOUNT / "vm-ann"
    folder.mkdir(parents=True)
    (folder / "m-1.wav").write_bytes(WAV)
    (tmp_path / "vm" / "alias").symlink_to(folder)  # a symlinked folder that stays inside is fine
    load(rds)
    JobQueue(rds).enqueue(voicemail_job(str(tmp_path / "vm" / "alias" / "m-1.wav")))
    run(rds, port, Recordings(root=str(tmp_path / "vm")))
    assert attached(maildir) == [WAV]


@pytest.mark.parametrize("case", ["file symlink", "folder symlink", "outside", "dot-dot"])
def test_a_recording_path_that_leaves_the_voicemail_folder_is_not_read(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path, case: str
) -> None:
    port, maildir = smtp
    root, elsewhere = tmp_path / "vm", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.wav").write_bytes(b"RIFF secret")
    paths = {"file symlink": root / "m-1.wav", "folder symlink": root / "box" / "secret.wav",
             "outside": elsewhere / "secret.wav", "dot-dot": root / ".." / "elsewhere" / "secret.wav"}
    if case == "file symlink":
        os.symlink("/etc/passwd", root / "m-1.wav")
    elif case == "folder symlink":
        (root / "box").symlink_to(elsewhere)
    load(rds)
    JobQueue(rds).enqueue(voicemail_job(str(paths[case])))
    run(rds, port, Recordings(root=str(root)))
    assert attached(maildir) == []
    text, _ = bodies(delivered(maildir)[0])
    assert "could not be attached" in text


HOSTILE_STORED = ["{{ 3**(3*10**7) % 10 }}", "{{ 'a' * 10**8 }}", "{{ 3**(10**5) }}"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("body", HOSTILE_STORED)
def test_a_stored_template_over_its_limits_is_dead_lettered_at_once_and_not_kept(
    rds: redis.Redis, smtp: tuple[int, Path], body: str
) -> None:
    port, maildir = smtp
    load(rds)
    save_template(rds, text=body)
    JobQueue(rds).enqueue(missed_job())
    started = time.monotonic()
    mailer = run(rds, port)
    assert time.monotonic() - started < 2.0
    assert delivered(maildir) == []
    [error] = dead_errors(rds)
    assert error.startswith("template over its limits: ")
    assert (body, False) not in mailer.renderer
