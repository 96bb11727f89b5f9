"""receive_fax through a real FreeSWITCH: a fax sent by FreeSWITCH's own `txfax` (mod_spandsp on
the A leg of a loopback call, whose B leg enters the controller's dialplan on the office's main
number) arrives as one email with a PDF of its pages; a caller that hangs up before any fax
tone leaves one error email with mod_spandsp's result text.

Fax over audio runs in real time: two short pages take about 15 s (T.30's negotiation is most of
it); the error takes 2 s.
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import re
from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.fax import write_tiff
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    ALICE,
    CALLER,
    DID,
    ROOT,
    executed,
    mail,
    mailbox,
    main_number,
    node,
    office,
    queued_calls,
    wait_for,
)
from tests.freeswitch_harness import FreeSwitch

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]
BOX = {"id": "fb-main", "name": "Main fax", "owner_id": ALICE["id"],
       "notifications": {"inbound": {"email": {"send_to": ["fax-desk@example.com"]}}}}


@pytest.fixture
def settings(redis_url: str, freeswitch: FreeSwitch, mailbox: tuple[int, Path]) -> config.Settings:
    """freeswitch_calls' settings with the faxes where the session's FreeSWITCH writes them."""
    return config.load({
        "CONTROLLER_CONFIG": str(ROOT / "tests" / "controller-test.toml"),
        "CONTROLLER_REDIS_URL": redis_url,
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{freeswitch.ports.controller_esl}",
        "CONTROLLER_API_LISTEN": "127.0.0.1:0",
        "CONTROLLER_VOICEMAIL_DIR": str(freeswitch.voicemail_dir),
        "CONTROLLER_FAX_DIR": str(freeswitch.fax_dir),
        "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{mailbox[0]}",
    })


def send_from_loopback(fs: FreeSwitch, application: str) -> None:
    """A call from CALLER to the main number whose other end runs `application` (txfax, ...)."""
    fs.api(f"bgapi originate {{origination_caller_id_number={CALLER},origination_caller_id_name='Fax Sender'}}"
           f"loopback/{DID}/controller &{application}")


def pdf_pages(data: bytes) -> int:
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    return len(re.findall(rb"/Type\s*/Page\b", data))


def test_a_fax_sent_with_txfax_arrives_as_one_email_with_a_pdf_of_its_pages(
    fs: FreeSwitch, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], tmp_path: Path,
) -> None:
    assert fs.api("module_exists mod_spandsp").strip() == "true"
    main_number(rds, node("receive_fax", {"faxbox_id": BOX["id"]}), faxboxes=[BOX])
    document = tmp_path / "document.tiff"
    write_tiff(str(document), 2)
    mark = fs.mark()
    send_from_loopback(fs, f"txfax({document})")
    wait_for(lambda: len(queued_calls(rds)) == 1, "the fax's job", timeout=45)
    fs.wait_idle()
    [rxfax] = executed(fs, mark, "rxfax")
    assert f"{fs.fax_dir}/{ACCOUNT_ID}/" in rxfax  # the folder the controller had FreeSWITCH make
    [message] = mail(settings, mailbox[1])
    assert message["Subject"] == f"New fax from Fax Sender ({CALLER})"
    assert sorted(str(message["To"]).split(", ")) == sorted([ALICE["email"], "fax-desk@example.com"])
    _, attachment = message.iter_parts()
    assert attachment.get_content_type() == "application/pdf"
    assert pdf_pages(attachment.get_content()) == 2
    text = message.get_body(("plain",))
    assert text is not None and "Total pages: 2" in text.get_content()
    assert fs.errors_since(mark) == []


def test_a_caller_that_hangs_up_before_any_fax_tone_gets_one_error_email(
    fs: FreeSwitch, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    main_number(rds, node("receive_fax", {"faxbox_id": BOX["id"]}), faxboxes=[BOX])
    mark = fs.mark()
    send_from_loopback(fs, "playback(silence_stream://1500)")
    wait_for(lambda: len(queued_calls(rds)) == 1, "the failed fax's job", timeout=20)
    fs.wait_idle()
    assert len(executed(fs, mark, "rxfax")) == 1
    [message] = mail(settings, mailbox[1])
    assert message["Subject"] == f"Error receiving fax from Fax Sender ({CALLER})"
    assert message.get_content_type() == "multipart/alternative"  # nothing attached
    text = message.get_body(("plain",))
    assert text is not None and "Error reason: The call dropped prematurely" in text.get_content()
    assert fs.errors_since(mark) == []
