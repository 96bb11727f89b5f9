"""delete_after_notify and save_after_notify through a real call, the real mail sender and a real
SMTP server: the message and its recording go only once the email with the recording attached
reached every recipient; a failed, partial or linked send keeps them."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from controller.config import Settings
from controller.esl.server import OutboundServer
from controller.notify.after_notify import remove_recording
from controller.notify.delivery import SmtpSender
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
from controller.notify.recording import Recordings
from controller.store.voicemail import VoicemailMessages
from tests.mailserver import delivered, running_smtp
from tests.office import ACCOUNT, call, flow, load, node

REVIEW = ("play_and_get_digits", 0.01)  # the caller hangs up once the message is recorded
BOX = {"id": "vm-gone", "owner_id": "u-ann", "mailbox": "1007", "min_message_length": 0}


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path, "tests.smtp_handlers.RefusingMailbox")


def leave(rds: redis.Redis, server: OutboundServer, **box: Any) -> dict[str, Any]:
    """A caller leaves a message in a box with these settings; the message."""
    load(rds, flow("800", node("voicemail", {"id": BOX["id"]})), vmboxes=[{**BOX, **box}])
    call(server, "800", record_seconds=0.05, hangup_during=REVIEW)
    [message] = VoicemailMessages(rds).all(ACCOUNT, BOX["id"])
    assert Path(message["media_path"]).exists()
    return message


def send(rds: redis.Redis, settings: Settings, port: int, max_bytes: int = 1 << 20) -> JobQueue:
    queue = JobQueue(rds)
    recordings = Recordings(max_bytes, "https://pbx.example/vm", root=settings.voicemail_dir)
    Mailer(rds, queue, SmtpSender(f"smtp://127.0.0.1:{port}"), "m", recordings=recordings).run(burst=True)
    return queue


def test_a_message_is_deleted_once_its_email_went_out_with_the_recording(
        rds: redis.Redis, esl_server: OutboundServer, settings: Settings, smtp: tuple[int, Path]) -> None:
    message = leave(rds, esl_server, delete_after_notify=True)
    send(rds, settings, smtp[0])
    [mail] = delivered(smtp[1])
    assert [part.get_content_type() for part in mail.iter_attachments()] == ["audio/wav"]
    assert VoicemailMessages(rds).all(ACCOUNT, BOX["id"]) == []
    assert not Path(message["media_path"]).exists()


def test_a_message_is_kept_while_its_email_cannot_be_sent(
        rds: redis.Redis, esl_server: OutboundServer, settings: Settings) -> None:
    message = leave(rds, esl_server, delete_after_notify=True)
    queue = send(rds, settings, port=1)  # nothing listens: the send fails and is retried later
    assert queue.stats()["scheduled"] == 1
    assert VoicemailMessages(rds).all(ACCOUNT, BOX["id"]) == [message]
    assert Path(message["media_path"]).exists()


def test_a_message_is_kept_when_a_recipient_refused_its_email(
        rds: redis.Redis, esl_server: OutboundServer, settings: Settings, smtp: tuple[int, Path]) -> None:
    message = leave(rds, esl_server, delete_after_notify=True, notify_email_addresses=["refused@office.test"])
    queue = send(rds, settings, smtp[0])
    assert len(delivered(smtp[1])) == 1 and queue.stats()["dead"] == 1  # Ann got it, the other did not
    assert VoicemailMessages(rds).all(ACCOUNT, BOX["id"]) == [message]
    assert Path(message["media_path"]).exists()


def test_a_message_is_kept_when_its_email_only_linked_the_recording(
        rds: redis.Redis, esl_server: OutboundServer, settings: Settings, smtp: tuple[int, Path]) -> None:
    message = leave(rds, esl_server, delete_after_notify=True)
    send(rds, settings, smtp[0], max_bytes=10)  # too large to attach
    [mail] = delivered(smtp[1])
    assert list(mail.iter_attachments()) == []
    assert VoicemailMessages(rds).all(ACCOUNT, BOX["id"]) == [message]


def test_save_after_notify_saves_the_message_and_wins_over_delete(
        rds: redis.Redis, esl_server: OutboundServer, settings: Settings, smtp: tuple[int, Path]) -> None:
    message = leave(rds, esl_server, delete_after_notify=True, save_after_notify=True)
    send(rds, settings, smtp[0])
    assert VoicemailMessages(rds).all(ACCOUNT, BOX["id"]) == [{**message, "folder": "saved"}]
    assert Path(message["media_path"]).exists()


def test_a_box_without_either_keeps_its_message_new(
        rds: redis.Redis, esl_server: OutboundServer, settings: Settings, smtp: tuple[int, Path]) -> None:
    message = leave(rds, esl_server)
    send(rds, settings, smtp[0])
    assert len(delivered(smtp[1])) == 1
    assert VoicemailMessages(rds).all(ACCOUNT, BOX["id"]) == [message]


def test_the_recording_removed_is_only_ever_inside_the_voicemail_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"x")
    folder = tmp_path / "vm" / ACCOUNT
    folder.mkdir(parents=True)
    (folder / "link.wav").symlink_to(outside)
    remove_recording(str(tmp_path / "vm"), str(outside))
    remove_recording(str(tmp_path / "vm"), str(folder / ".." / ".." / "outside.wav"))
    assert outside.exists()
    remove_recording(str(tmp_path / "vm"), str(folder / "link.wav"))
    assert outside.exists() and not (folder / "link.wav").exists()  # the link itself, not its target
