"""A real SMTP server for the mail tests: aiosmtpd in a subprocess (its Maildir handler, or one of
`tests/smtp_handlers.py`), and the messages it stored, parsed with the modern email policy."""

import email
import email.policy
import mailbox
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import gevent
from gevent import socket as gsocket

from controller import config
from controller.commands.mailer import build_mailer
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def start_smtp(port: int, maildir: Path, handler: str = "aiosmtpd.handlers.Mailbox") -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", handler]
    if handler.endswith("Mailbox"):
        args.append(str(maildir))
    proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.DEVNULL)
    with gevent.Timeout(10):
        while True:
            try:
                gsocket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc
            except OSError:
                gevent.sleep(0.05)


def running_smtp(tmp_path: Path, handler: str = "aiosmtpd.handlers.Mailbox") -> Iterator[tuple[int, Path]]:
    """(port, Maildir) of a server that lives as long as the generator (for a fixture to yield from)."""
    port, maildir = free_port(), tmp_path / "Maildir"
    proc = start_smtp(port, maildir, handler)
    yield port, maildir
    proc.terminate()
    proc.wait(5)


def delivered(maildir: Path) -> list[EmailMessage]:
    if not maildir.exists():
        return []
    box = mailbox.Maildir(str(maildir))
    return [email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in box]  # type: ignore[misc]


def mail(settings: config.Settings, maildir: Path) -> list[EmailMessage]:
    """Every job the calls left, delivered by the real mail sender (one burst); what reached the
    mailbox."""
    mailer = build_mailer(settings, "test-mailer")
    try:
        mailer.run(burst=True)
    finally:
        mailer.rds.connection_pool.disconnect()
    return delivered(maildir)


def only_message(maildir: Path) -> EmailMessage:
    """The one message in the mailbox (fails when there are none or several)."""
    [message] = delivered(maildir)
    return message


def bodies(message: EmailMessage) -> tuple[str, str]:
    """The message's text and HTML bodies."""
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())
