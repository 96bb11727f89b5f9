"""Delivering a built email: over SMTP (`smtp://`, `smtps://`, `?starttls=1`, user:password for
AUTH), or, with no SMTP configured, as an `.eml` file in the outbox directory.

SMTP failures are sorted the way a mail sender must: 4xx replies and connection problems are
TransientDeliveryError (retry later: the mail is delayed, not lost); 5xx replies are
PermanentDeliveryError (dead-letter). One connection is kept and reused across messages.
"""

from __future__ import annotations

import smtplib
import time
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from controller.notify.message import SMTP_POLICY


class DeliveryError(Exception):
    """A message could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """Try again later."""


class PermanentDeliveryError(DeliveryError):
    """Will never succeed as it is."""


class OutboxSender:
    """Writes each message as `<time>-<message id>.eml` (the embedded default)."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def send(self, message: Message, recipients: list[str]) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("/", "_").replace("@", "_at_")
        path = self.directory / f"{int(time.time() * 1000)}-{name}.eml"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(message.as_bytes())
        temporary.rename(path)  # readers never see half a message
        return f"written to {path}"

    def close(self) -> None:
        return None


class SmtpSender:
    """An SMTP client that reuses its connection."""

    def __init__(self, url: str, timeout: float = 20.0, reuse: bool = True) -> None:
        parts = urlsplit(url)
        self.reuse = reuse
        self.host = parts.hostname or "127.0.0.1"
        self.tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.tls else 25)
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.username = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.timeout = timeout
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        factory = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
        client = factory(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            client.starttls()
        if self.username:
            client.login(self.username, self.password)
        return client

    def send(self, message: Message, recipients: list[str]) -> str:
        """Send; returns the server's reply to DATA (its receipt)."""
        try:
            if self._client is None:
                self._client = self._connect()
            receipt = self._send(self._client, message, recipients)
        except smtplib.SMTPServerDisconnected:
            self.close()
            self._client = self._connect()  # a reused connection the server dropped: once more
            receipt = self._send(self._client, message, recipients)
        if not self.reuse:
            self.close()
        return receipt

    def _send(self, client: smtplib.SMTP, message: Message, recipients: list[str]) -> str:
        try:
            client.ehlo_or_helo_if_needed()
            sender = str(message["From"])
            code, reply = client.mail(sender)
            self._check(code, reply)
            refused = [r for r in recipients if client.rcpt(r)[0] // 100 != 2]
            if len(refused) == len(recipients):
                raise PermanentDeliveryError(f"every recipient refused: {', '.join(refused)}")
            code, reply = client.data(message.as_bytes(policy=SMTP_POLICY))  # CRLF line ends
            self._check(code, reply)
            return f"{code} {reply.decode('utf-8', 'replace')}"
        except smtplib.SMTPResponseException as exc:
            self._check(exc.smtp_code, exc.smtp_error)
            raise
        except smtplib.SMTPServerDisconnected:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientDeliveryError(f"SMTP connection problem: {exc}") from exc

    def _check(self, code: int, reply: bytes | str) -> None:
        text = f"{code} {reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply}"
        if 400 <= code < 500:
            self.close()
            raise TransientDeliveryError(text)
        if code >= 500:
            try:
                self._client.rset() if self._client else None
            except (OSError, smtplib.SMTPException):
                self.close()
            raise PermanentDeliveryError(text)

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (OSError, smtplib.SMTPException):
                self._client.close()
            self._client = None
