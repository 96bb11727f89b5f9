"""fax_inbound_to_email and fax_inbound_error_to_email through the real mail sender and a real
SMTP server: the received TIFF attached as a PDF (a valid one, one page per fax page), the error
email with mod_spandsp's result text, caller text escaped in the HTML and kept on one line in the
text, and an account's own copy of a fax template used instead of the packaged one."""

import dataclasses
import io
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis
from PIL import Image

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.fax import FaxSender, write_tiff
from controller.notify import fax_pdf
from controller.notify.delivery import SmtpSender
from controller.notify.fax import Faxes
from controller.notify.job import job_errors, make_job
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
from controller.notify.smtplog import SmtpLog
from controller.notify.templates import Templates, packaged
from tests.mailserver import bodies, only_message, running_smtp
from tests.office import ACCOUNT, call, flow, load, node

SENT_AT = 1795440065.0  # 2026-11-23 13:21:05 UTC
HOSTILE_NAME = "<script>alert(1)</script>\r\nBcc: evil@example.com"
HOSTILE_STATION = "<img src=x onerror=alert(2)>"
BOX = {"id": "fb-front", "name": "Front desk fax", "owner_id": "u-ann",
       "notifications": {"inbound": {"email": {"send_to": "desk@office.test"}}}}


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


def fax_job(media_path: str = "", *, success: bool = True, caller_name: str = "Fax Sender",
            **fax: Any) -> dict[str, Any]:
    call_data = {"call_id": "c-fax", "caller_id_name": caller_name, "caller_id_number": "+15557770000",
                 "to_user": "+15550001000", "started_at": SENT_AT - 5}
    about = {"fax_id": "f-0001", "timestamp": SENT_AT, "success": success, "result_code": 0 if success else 49,
             "result_text": "OK" if success else "The call dropped prematurely",
             "transferred_pages": 3 if success else 0, "total_pages": 3 if success else 0,
             "remote_station_id": "+15557770000", "box_id": "fb-front", "box_name": "Front desk fax", **fax}
    if media_path:
        about["media_path"] = media_path
    kind = "fax_inbound_to_email" if success else "fax_inbound_error_to_email"
    job = make_job(kind, ACCOUNT, call_data, instance="fs-test", recipients=[{"type": "user", "id": "u-ann"}],
                   data={"fax": about})
    assert job_errors(job) == []
    return job


def deliver(rds: redis.Redis, smtp: tuple[int, Path], job: dict[str, Any], root: str) -> EmailMessage:
    """Deliver one job (the faxes read from `root`); the one email it sent."""
    load(rds)
    JobQueue(rds).enqueue(job)
    send(rds, smtp[0], root)
    return only_message(smtp[1])


def send(rds: redis.Redis, port: int, root: str) -> None:
    mailer = Mailer(rds, JobQueue(rds), SmtpSender(f"smtp://127.0.0.1:{port}"), "m", faxes=Faxes(root=root))
    assert mailer.run(burst=True) == 1
    assert JobQueue(rds).stats()["dead"] == 0


def pdf_pages(data: bytes) -> int:
    """A PDF's page count, checked as a reader would start: header, trailer, one page object
    per page and a page tree that says so."""
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    [count] = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data, re.S)] or [
        int(n) for n in re.findall(rb"/Count\s+(\d+)", data)]
    assert count == pages
    return pages


def test_a_received_fax_arrives_as_a_pdf_with_one_page_per_fax_page(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    tiff = tmp_path / ACCOUNT / "f-0001.tiff"
    tiff.parent.mkdir()
    write_tiff(str(tiff), 3)
    message = deliver(rds, smtp, fax_job(str(tiff)), str(tmp_path))
    assert message["Subject"] == "New fax from Fax Sender (+15557770000)"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "fax-+15557770000-20261123-132105.pdf"
    assert pdf_pages(attachment.get_content()) == 3
    text, html = bodies(message)
    assert "in your faxbox Front desk fax" in text and "Total pages: 3" in text
    assert "attached as a PDF (fax-+15557770000-20261123-132105.pdf)" in text
    assert "Hi Ann," in text and "Received: 2026-11-23 13:21:05 UTC" in text
    assert "attached as a PDF" in html
    [entry] = SmtpLog(rds).entries(ACCOUNT)
    assert entry["attachments"][0]["content_type"] == "application/pdf"


def test_a_fax_that_cannot_be_read_is_mailed_without_attachment_saying_so(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    bad = tmp_path / ACCOUNT / "f-0001.tiff"
    bad.parent.mkdir()
    bad.write_bytes(b"II*\x00 not really a tiff")
    message = deliver(rds, smtp, fax_job(str(bad)), str(tmp_path))
    assert message.get_content_type() == "multipart/alternative"
    text, _ = bodies(message)
    assert "could not be attached" in text and "f-0001" in text


@pytest.mark.parametrize("folder", ["other-account", "", f"{ACCOUNT}/sub"], ids=["another-account", "root", "below"])
def test_a_fax_outside_its_accounts_own_folder_is_not_attached(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path, folder: str
) -> None:
    tiff = tmp_path / folder / "f-0001.tiff"
    tiff.parent.mkdir(parents=True, exist_ok=True)
    write_tiff(str(tiff), 1)
    message = deliver(rds, smtp, fax_job(str(tiff)), str(tmp_path))
    assert message.get_content_type() == "multipart/alternative"  # nothing attached
    text, _ = bodies(message)
    assert "could not be attached" in text


def test_a_tiff_whose_page_is_too_large_or_pages_too_many_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = io.BytesIO()
    Image.new("1", (8000, fax_pdf.MAX_PAGE_PIXELS // 8000 + 1), 1).save(huge, "TIFF", compression="group4")
    assert len(huge.getvalue()) < 100_000  # a few bytes of G4 say it is tens of millions of pixels
    with pytest.raises(fax_pdf.FaxConversionError, match="pixels"):
        fax_pdf.convert(huge.getvalue())
    write_tiff(str(tmp_path / "three.tiff"), 3)
    three = (tmp_path / "three.tiff").read_bytes()
    assert fax_pdf.convert(three).pages == 3
    monkeypatch.setattr(fax_pdf, "MAX_PAGES", 2)
    with pytest.raises(fax_pdf.FaxConversionError, match="more than 2 pages"):
        fax_pdf.convert(three)


def test_a_failed_fax_sends_the_error_email_with_the_result_text(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    message = deliver(rds, smtp, fax_job(success=False), str(tmp_path))
    assert message["Subject"] == "Error receiving fax from Fax Sender (+15557770000)"
    assert message.get_content_type() == "multipart/alternative"  # nothing attached
    text, html = bodies(message)
    assert "Error reason: The call dropped prematurely" in text
    assert "The call dropped prematurely" in html and "Front desk fax" in html


def test_caller_text_is_escaped_in_html_and_kept_on_one_line_in_text(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    job = fax_job(success=False, caller_name=HOSTILE_NAME, remote_station_id=HOSTILE_STATION)
    message = deliver(rds, smtp, job, str(tmp_path))
    assert message["Bcc"] is None and "evil@example.com" not in str(message["To"])
    text, html = bodies(message)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert not any(line.startswith("Bcc:") for line in text.splitlines())


def test_an_accounts_own_copy_of_the_fax_template_is_used(
    rds: redis.Redis, smtp: tuple[int, Path], tmp_path: Path
) -> None:
    load(rds)
    default = packaged("fax_inbound_to_email")
    assert default is not None
    Templates(rds).put(ACCOUNT, "fax_inbound_to_email", {**default.fields, "subject": "Fax {{ fax.id }} is in"},
                       "Our own text: {{ fax.transferred_pages }} pages", "<p>Our own: {{ fax.id }}</p>")
    message = deliver(rds, smtp, fax_job(), str(tmp_path))
    assert message["Subject"] == "Fax f-0001 is in"
    text, _ = bodies(message)
    assert text.strip() == "Our own text: 3 pages"


@pytest.fixture
def settings(settings: config.Settings, tmp_path: Path) -> config.Settings:
    return dataclasses.replace(settings, fax_dir=str(tmp_path / "fax"))


def test_a_fax_received_on_a_call_arrives_once_to_the_box_owner_and_its_addresses(
    rds: redis.Redis, esl_server: OutboundServer, smtp: tuple[int, Path], settings: config.Settings
) -> None:
    load(rds, flow("700", node("receive_fax", {"faxbox_id": "fb-front"})), faxboxes=[BOX])
    call(esl_server, "700", caller_name="Fax Sender", caller_number="+15557770000", fax=FaxSender(pages=2))
    send(rds, smtp[0], settings.fax_dir)
    message = only_message(smtp[1])
    assert sorted(str(message["To"]).split(", ")) == ["ann@office.test", "desk@office.test"]
    _, attachment = message.iter_parts()
    assert pdf_pages(attachment.get_content()) == 2
