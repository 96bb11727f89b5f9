"""Delivering a built email: over SMTP (`smtp://`, `smtps://`, `?starttls=1`, user:password for
AUTH), or, with no SMTP configured, as an `.eml` file in the outbox directory.

SMTP failures are sorted the way a mail sender must: 4xx replies and connection problems are
TransientDeliveryError (retry later: the mail is delayed, not lost); 5xx replies are
PermanentDeliveryError (dead-letter). One connection is kept and reused across messages; with a
server that offers PIPELINING (RFC 2920) the envelope and DATA go in one write, and when it also
offers CHUNKING (RFC 3030) the whole message goes in that write.
"""

from __future__ import annotations

import re
import smtplib
import time
from email.message import Message
from pathlib import Path
from smtplib import quoteaddr
from urllib.parse import parse_qs, unquote, urlsplit

from controller.notify.message import serialize

Reply = tuple[int, bytes]
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)  # dot-stuffing (RFC 5321 4.5.2)


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

    def send(self, message: Message, recipients: list[str], data: bytes | None = None) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("/", "_").replace("@", "_at_")
        path = self.directory / f"{int(time.time() * 1000)}-{name}.eml"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(serialize(message) if data is None else data)
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

    def send(self, message: Message, recipients: list[str], data: bytes | None = None) -> str:
        """Send (`data`: the message already serialised); returns the server's reply to DATA."""
        sender, payload = str(message["From"]), serialize(message) if data is None else data
        try:
            if self._client is None:
                self._client = self._connect()
            receipt = self._send(self._client, sender, recipients, payload)
        except smtplib.SMTPServerDisconnected:
            self.close()
            self._client = self._connect()  # a reused connection the server dropped: once more
            receipt = self._send(self._client, sender, recipients, payload)
        if not self.reuse:
            self.close()
        return receipt

    def _send(self, client: smtplib.SMTP, sender: str, recipients: list[str], payload: bytes) -> str:
        try:
            client.ehlo_or_helo_if_needed()
            if client.has_extn("pipelining") and client.has_extn("chunking"):
                code, reply = self._transaction_chunked(client, sender, recipients, payload)
            elif client.has_extn("pipelining"):
                code, reply = self._transaction_pipelined(client, sender, recipients, payload)
            else:
                code, reply = self._transaction(client, sender, recipients, payload)
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

    def _transaction(self, client: smtplib.SMTP, sender: str, recipients: list[str], payload: bytes) -> Reply:
        """MAIL, each RCPT, DATA: one exchange at a time."""
        self._check(*client.mail(sender))
        refused = [r for r in recipients if client.rcpt(r)[0] // 100 != 2]
        if len(refused) == len(recipients):
            self._reset()  # or the next message's MAIL is refused as nested
            raise PermanentDeliveryError(f"every recipient refused: {', '.join(refused)}")
        return client.data(payload)

    def _transaction_chunked(
        self, client: smtplib.SMTP, sender: str, recipients: list[str], payload: bytes
    ) -> Reply:
        """PIPELINING with CHUNKING (RFC 3030; Postfix offers both): MAIL, the RCPTs and
        `BDAT <size> LAST` followed by the message itself (no dot-stuffing) in one write, all the
        replies read together: one round trip. With no recipient accepted the server refuses the
        BDAT and discards its data."""
        commands = [f"MAIL FROM:{quoteaddr(sender)}", *(f"RCPT TO:{quoteaddr(r)}" for r in recipients),
                    f"BDAT {len(payload)} LAST"]
        client.send("".join(f"{command}\r\n" for command in commands).encode(client.command_encoding) + payload)
        replies = [client.getreply() for _ in commands]
        refused = [r for r, (code, _) in zip(recipients, replies[1:-1], strict=True) if code // 100 != 2]
        self._check(*replies[0])
        if len(refused) == len(recipients):
            self._reset()
            raise PermanentDeliveryError(f"every recipient refused: {', '.join(refused)}")
        return replies[-1]

    def _transaction_pipelined(
        self, client: smtplib.SMTP, sender: str, recipients: list[str], payload: bytes
    ) -> Reply:
        """RFC 2920 PIPELINING: MAIL, the RCPTs and DATA in one write, their replies read together,
        then the message: two round trips instead of three plus one per recipient."""
        commands = [f"MAIL FROM:{quoteaddr(sender)}", *(f"RCPT TO:{quoteaddr(r)}" for r in recipients), "DATA"]
        client.send("".join(f"{command}\r\n" for command in commands))
        replies = [client.getreply() for _ in commands]
        mail, data = replies[0], replies[-1]
        refused = [r for r, (code, _) in zip(recipients, replies[1:-1], strict=True) if code // 100 != 2]
        if data[0] == 354 and (mail[0] // 100 != 2 or len(refused) == len(recipients)):
            self._drop()  # the server opened DATA anyway: only a dropped connection sends nothing
        self._check(*mail)
        if len(refused) == len(recipients):
            self._reset()
            raise PermanentDeliveryError(f"every recipient refused: {', '.join(refused)}")
        if data[0] != 354:
            self._check(*data)
            raise TransientDeliveryError(f"unexpected reply to DATA: {data[0]}")
        client.send(_LEADING_DOT.sub(b"..", payload) + (b"" if payload.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        return client.getreply()

    def _check(self, code: int, reply: bytes | str) -> None:
        text = f"{code} {reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply}"
        if 400 <= code < 500:
            self.close()
            raise TransientDeliveryError(text)
        if code >= 500:
            self._reset()
            raise PermanentDeliveryError(text)

    def _reset(self) -> None:
        """RSET: the connection is ready for the next message (or dropped if it cannot be)."""
        try:
            self._client.rset() if self._client else None
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (OSError, smtplib.SMTPException):
                self._client.close()
            self._client = None
