"""voicemail_to_email and voicemail_full through the real mail sender and a real SMTP server:
the recording attached when it can be read (checked part by part, byte for byte), linked when it
cannot, and the email saying so when it is neither; the packaged templates' voicemail macros."""

import dataclasses
import email.utils
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.notify.delivery import SmtpSender
from controller.notify.job import job_errors, make_job
from controller.notify.macros import macros, minutes_seconds
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
from controller.notify.recording import Recordings
from controller.notify.smtplog import SmtpLog
from tests.mailserver import bodies, only_message, running_smtp
from tests.office import ACCOUNT, call, flow, load, node

LEFT_AT = 1795440065.0  # 2026-11-23 13:21:05 UTC
RECORDING = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 40  # binary, every byte value


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


def voicemail_job(media_path: str, *, kind: str = "voicemail_to_email", caller_name: str = "Carol",
                  **voicemail: Any) -> dict[str, Any]:
    call = {"call_id": "c-vm", "caller_id_name": caller_name, "caller_id_number": "+15557770000",
            "started_at": LEFT_AT - 30, "message_left": True}
    about = {"box_id": "vm-ann", "mailbox": "1001", "box_name": "Ann's box", "message_id": "m-0001",
             "length": 65, "timestamp": LEFT_AT, "media_path": media_path, "new_count": 3, "saved_count": 1,
             **voicemail}
    job = make_job(kind, ACCOUNT, call, instance="fs-test", recipients=[{"type": "user", "id": "u-ann"}],
                   data={"voicemail": about})
    assert job_errors(job) == []
    return job


def deliver(rds: redis.Redis, port: int, job: dict[str, Any], recordings: Recordings | None = None) -> None:
    """Deliver one job; the recordings are read from the job's own folder unless told otherwise."""
    load(rds)
    JobQueue(rds).enqueue(job)
    path = job["data"]["voicemail"].get("media_path") or "/"
    recordings = recordings or Recordings(root=os.path.dirname(path))
    mailer = Mailer(rds, JobQueue(rds), SmtpSender(f"smtp://127.0.0.1:{port}"), "m", recordings=recordings)
    assert mailer.run(burst=True) == 1
    assert JobQueue(rds).stats()["dead"] == 0


def test_a_readable_recording_is_attached_beside_the_text_and_html(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    port, maildir = smtp
    media = tmp_path / "m-0001.wav"
    media.write_bytes(RECORDING)
    deliver(rds, port, voicemail_job(str(media)))
    message = only_message(maildir)
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "audio/wav"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_filename() == "voicemail-Carol-+15557770000-20261123-132105.wav"
    assert attachment.get_content() == RECORDING
    text, html = bodies(message)
    assert "mailbox 1001 (Ann's box)" in text and "Length: 1:05" in text
    assert "Left: 2026-11-23 13:21:05 UTC" in text
    assert "The recording is attached (voicemail-Carol-+15557770000-20261123-132105.wav)" in text
    assert "3 new and 1 saved messages" in text
    assert "Ann&#39;s box" in html and "1:05" in html and "The recording is attached" in html
    assert message["Subject"] == "New voicemail from Carol (+15557770000) (1:05)"
    [entry] = SmtpLog(rds).entries(ACCOUNT)
    assert entry["attachments"] == [{"filename": "voicemail-Carol-+15557770000-20261123-132105.wav",
                                     "content_type": "audio/wav", "size": len(RECORDING)}]


@pytest.mark.parametrize(("name", "kind"), [("m-0001.MP3", "audio/mpeg"), ("m-0001.ogg", "audio/ogg")])
def test_other_recording_formats_get_their_own_type(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path, name: str, kind: str
) -> None:
    port, maildir = smtp
    media = tmp_path / name
    media.write_bytes(b"ID3" + RECORDING)
    deliver(rds, port, voicemail_job(str(media)))
    _, attachment = only_message(maildir).iter_parts()
    assert attachment.get_content_type() == kind
    assert attachment.get_filename().endswith(name.lower()[-4:])  # type: ignore[union-attr]
    assert attachment.get_content() == b"ID3" + RECORDING


def test_a_recording_on_another_host_is_linked_by_its_media_url(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    url = "https://media.office.test/vm/m-0001.wav?token=a&b=c"
    deliver(rds, port, voicemail_job("/var/lib/freeswitch/storage/elsewhere/m-0001.wav", media_url=url))
    message = only_message(maildir)
    assert message.get_content_type() == "multipart/alternative"
    text, html = bodies(message)
    assert f"Listen to the recording: {url}" in text
    assert 'href="https://media.office.test/vm/m-0001.wav?token=a&amp;b=c"' in html
    assert "attached" not in text


def test_the_media_url_setting_builds_a_link_from_the_message_id(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    deliver(rds, port, voicemail_job("/nowhere/m 1.wav", message_id="m 1/x"),
            Recordings(media_url="https://vm.office.test/recordings/", root="/nowhere"))
    text, _ = bodies(only_message(maildir))
    assert "Listen to the recording: https://vm.office.test/recordings/m%201%2Fx" in text


@pytest.mark.parametrize("case", ["missing", "directory", "fifo", "oversized", "not audio"])
def test_a_recording_that_cannot_be_attached_nor_linked_is_said_so(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path, case: str
) -> None:
    port, maildir = smtp
    media = tmp_path / ("m-0001.txt" if case == "not audio" else "m-0001.wav")
    if case == "directory":
        media.mkdir()
    elif case == "fifo":
        os.mkfifo(media)  # opening it must not wait for a writer
    elif case != "missing":
        media.write_bytes(RECORDING)
    deliver(rds, port, voicemail_job(str(media)), Recordings(max_bytes=len(RECORDING) - 1, root=str(tmp_path)))
    message = only_message(maildir)
    assert message.get_content_type() == "multipart/alternative"
    text, html = bodies(message)
    assert "could not be attached and there is no link to it" in text
    assert "could not be attached and there is no link to it" in html
    assert SmtpLog(rds).entries(ACCOUNT)[0]["attachments"] == []


def test_a_recording_at_the_size_limit_is_attached(rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path) -> None:
    port, maildir = smtp
    media = tmp_path / "m-0001.wav"
    media.write_bytes(RECORDING)
    deliver(rds, port, voicemail_job(str(media)), Recordings(max_bytes=len(RECORDING), root=str(tmp_path)))
    _, attachment = only_message(maildir).iter_parts()
    assert attachment.get_content() == RECORDING


def test_a_hostile_caller_name_cannot_shape_the_file_name_or_the_headers(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    port, maildir = smtp
    media = tmp_path / "m-0001.wav"
    media.write_bytes(RECORDING)
    hostile = 'Eve"; filename="x.exe\r\nBcc: victim@evil.test\r\n\r\n../../etc/passwd\u202e'
    deliver(rds, port, voicemail_job(str(media), caller_name=hostile))
    message = only_message(maildir)
    assert message["Bcc"] is None
    _, attachment = message.iter_parts()
    name = attachment.get_filename()
    assert name is not None and re.fullmatch(r"[A-Za-z0-9+_-]+\.wav", name)
    assert name == "voicemail-Eve_filename_x_exe_Bcc_victim_evil_test-+15557770000-20261123-132105.wav"
    assert attachment.get_content() == RECORDING
    assert "\n" not in str(message["Subject"])


def test_voicemail_full_shows_the_box_and_its_counts(rds: redis.Redis, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    job = voicemail_job("", kind="voicemail_full", max_messages=4)
    del job["data"]["voicemail"]["media_path"]
    deliver(rds, port, job)
    message = only_message(maildir)
    assert message["Subject"] == "Your voicemail box 1001 is full"
    text, html = bodies(message)
    assert "Voicemail box 1001 (Ann's box) is full: it holds 3 new and 1 saved messages, its limit is 4." in text
    assert "holds 3 new and 1 saved messages, its limit of 4" in html
    assert email.utils.parseaddr(str(message["To"]))[1] == "ann@office.test"


def test_lengths_read_as_minutes_and_seconds() -> None:
    assert [minutes_seconds(s) for s in (0, 7, 65, 600, 3725)] == ["0:00", "0:07", "1:05", "10:00", "62:05"]


def test_the_message_time_falls_back_to_the_call_start_and_follows_the_users_timezone() -> None:
    job = voicemail_job("", kind="voicemail_full")
    del job["data"]["voicemail"]["timestamp"]
    values = macros(job, {"id": ACCOUNT, "timezone": "UTC"}, {"timezone": "America/New_York"})
    assert values["voicemail"]["date"] == {"utc": "2026-11-23 13:20:35 UTC", "local": "2026-11-23 08:20:35 EST"}
    assert values["voicemail"]["length"] == "1:05" and values["voicemail"]["attached"] is False


@pytest.fixture
def settings(settings: config.Settings, tmp_path: Path) -> config.Settings:
    """The test settings with FreeSWITCH's voicemail storage in a scratch folder."""
    return dataclasses.replace(settings, voicemail_dir=str(tmp_path / "storage"))


def test_a_message_left_on_a_call_arrives_with_its_recording(
    rds: redis.Redis, esl_server: OutboundServer, smtp: tuple[int, Path], settings: config.Settings
) -> None:
    port, maildir = smtp
    load(rds, flow("600", node("voicemail", {"id": "vm-bob"})))
    record = call(esl_server, "600", caller_name="Carol", caller_number="+15557770000", record_seconds=0.05)
    [path] = [args.split()[0] for args in record.args_of("record")]
    assert path.startswith(settings.voicemail_dir)
    mailer = Mailer(rds, JobQueue(rds), SmtpSender(f"smtp://127.0.0.1:{port}"), "m",
                    recordings=Recordings(root=settings.voicemail_dir))
    assert mailer.run(burst=True) == 1
    message = only_message(maildir)
    assert sorted(str(message["To"]).split(", ")) == ["bob@office.test", "desk@office.test"]
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    # the WAV the simulator's record wrote, as FreeSWITCH's record leaves it
    assert attachment.get_content_type() == "audio/wav" and attachment.get_content() == Path(path).read_bytes()
    assert re.fullmatch(r"voicemail-Carol-\+15557770000-\d{8}-\d{6}\.wav", attachment.get_filename() or "")
    text, _ = bodies(message)
    assert "mailbox 1002 (Bob's voicemail)" in text and "1 new and 0 saved messages" in text
    assert record.uuid in [e["call_id"] for e in SmtpLog(rds).entries(ACCOUNT)]
