"""A voicemail left through the real server arrives as an email with the recording attached."""

import dataclasses
import email
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.executor import Executor
from controller.modules import REGISTRY
from controller.notify.delivery import OutboxSender
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
from controller.notify.recording import Recordings
from controller.notify.templates import Templates
from controller.services import Services
from controller.store.connection import connect
from controller.store.voicemail import VoicemailMessages
from tests.office import ACCOUNT, call, flow, load, node

REVIEW = ("play_and_get_digits", 0.05)  # the caller hangs up when asked to review the message

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)


@pytest.fixture
def vm_server(settings: config.Settings, rds: redis.Redis, tmp_path: Path) -> Iterator[OutboundServer]:
    services = Services.build(dataclasses.replace(settings, voicemail_dir=str(tmp_path / "vm")), connect(settings))
    server = OutboundServer(services.settings, CallLifecycle(services, Executor(REGISTRY)))
    server.start()
    yield server
    server.stop(drain_seconds=2)
    services.rds.connection_pool.disconnect()


def mails(outbox: Path) -> list[EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=default) for p in sorted(outbox.glob("*.eml"))]


def test_a_voicemail_reaches_the_owner_with_its_recording(rds: redis.Redis, vm_server: OutboundServer,
                                                          tmp_path: Path) -> None:
    alert = {"recipients": [{"type": "user", "id": "u-bob"}]}
    load(rds, flow("900", node("missed_call_alert", alert, _=node("voicemail", {"id": "vm-bob"}))))
    call(vm_server, "900", caller_name="Erin <b>", caller_number="+15558880000", record_seconds=0.02,
         hangup_during=REVIEW)
    [message] = VoicemailMessages(rds).all(ACCOUNT, "vm-bob")
    recording = Path(message["media_path"])  # written by the simulator's record, as FreeSWITCH's
    outbox = tmp_path / "outbox"
    recordings = Recordings(root=str(tmp_path / "vm"))
    Mailer(rds, JobQueue(rds), OutboxSender(str(outbox)), name="vm-test", recordings=recordings).run(burst=True)
    [mail] = mails(outbox)  # the voicemail email only: a call that reached voicemail is not missed
    assert mail["To"] == "bob@office.test, desk@office.test"  # the owner and the box's notify addresses
    assert "Erin" in mail["Subject"]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "audio/wav"
    assert attachment.get_content() == recording.read_bytes()
    html = mail.get_body(("html",))
    assert html is not None and "Erin &lt;b&gt;" in html.get_content()


def test_a_kazoo_template_renders_the_box_and_message_under_teletypes_names(
    rds: redis.Redis, vm_server: OutboundServer, tmp_path: Path
) -> None:
    fields = {"subject": "Box {{ voicemail.vmbox_id }} message {{ voicemail.msg_id }}", "to": {"type": "original"}}
    text = "{{ voicemail.vmbox_number }} {{ voicemail.vmbox_name }} {{ voicemail.box_id }}"
    Templates(rds).put(ACCOUNT, "voicemail_to_email", fields, text, "")
    load(rds, flow("901", node("voicemail", {"id": "vm-bob"})))
    call(vm_server, "901", caller_number="+15558880000", record_seconds=0.02, hangup_during=REVIEW)
    [message] = VoicemailMessages(rds).all(ACCOUNT, "vm-bob")
    outbox = tmp_path / "outbox"
    Mailer(rds, JobQueue(rds), OutboxSender(str(outbox)), name="vm-test",
           recordings=Recordings(root=str(tmp_path / "vm"))).run(burst=True)
    [mail] = mails(outbox)
    assert mail["Subject"] == f"Box vm-bob message {message['media_id']}"
    body = mail.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "1002 Bob's voicemail vm-bob"
