"""Delivering a built email: over SMTP (`smtp://`, `smtps://`, `?starttls=1`, user:password for
AUTH), or, with no SMTP configured, as an `.eml` file in the outbox directory.

SMTP outcomes are sorted per recipient, the way a mail sender must: `send` returns a Receipt with
each recipient's own reply (its RCPT TO refusal, else the reply to the message data), so a 451
from one recipient (greylisting) delays that recipient only and a 550 refuses that one only.
What concerns every recipient raises: connection problems and 4xx before RCPT are
TransientDeliveryError (retry later: the mail is delayed, not lost), 5xx to MAIL FROM is
PermanentDeliveryError (dead-letter). One connection is kept and reused across messages; with a
server that offers PIPELINING (RFC 2920) the envelope and DATA go in one write, and when it also
offers CHUNKING (RFC 3030) the whole message goes in that write.
"""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Receipt:
    """What the server said to one message: its reply to the data ("" when no recipient was
    accepted, so no data was sent) and each recipient's own reply ("250 ...", "451 ...")."""

    reply: str
    replies: dict[str, str]

    def codes(self) -> dict[str, int]:
        return {recipient: int(text[:3]) for recipient, text in self.replies.items()}


def _text(code: int, reply: bytes | str) -> str:
    return f"{code} {reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply}"


def _receipt(recipients: list[str], rcpt: list[Reply], data: Reply | None) -> Receipt:
    """Each recipient's outcome: its RCPT refusal, else the reply to the data."""
    final = _text(*data) if data is not None else ""
    replies = {r: (final if code // 100 == 2 else _text(code, text)) for r, (code, text) in zip(recipients, rcpt,
                                                                                                strict=True)}
    return Receipt(final, replies)


class OutboxSender:
    """Writes each message as `<time>-<message id>.eml` (the embedded default)."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def send(self, message: Message, recipients: list[str], data: bytes | None = None) -> Receipt:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("/", "_").replace("@", "_at_")
        path = self.directory / f"{int(time.time() * 1000)}-{name}.eml"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(serialize(message) if data is None else data)
        temporary.rename(path)  # readers never see half a message
        return Receipt(f"250 written to {path}", dict.fromkeys(recipients, f"250 written to {path}"))

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

    def send(self, message: Message, recipients: list[str], data: bytes | None = None) -> Receipt:
        """Send (`data`: the message already serialised); returns each recipient's outcome."""
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

    def _send(self, client: smtplib.SMTP, sender: str, recipients: list[str], payload: bytes) -> Receipt:
        try:
            client.ehlo_or_helo_if_needed()
            if client.has_extn("pipelining") and client.has_extn("chunking"):
                rcpt, data = self._transaction_chunked(client, sender, recipients, payload)
            elif client.has_extn("pipelining"):
                rcpt, data = self._transaction_pipelined(client, sender, recipients, payload)
            else:
                rcpt, data = self._transaction(client, sender, recipients, payload)
            if data is not None and data[0] // 100 != 2:
                self._reset()  # a refused message leaves the connection ready for the next one
            return _receipt(recipients, rcpt, data)
        except smtplib.SMTPResponseException as exc:
            self._check(exc.smtp_code, exc.smtp_error)
            raise
        except smtplib.SMTPServerDisconnected:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientDeliveryError(f"SMTP connection problem: {exc}") from exc

    def _transaction(self, client: smtplib.SMTP, sender: str, recipients: list[str],
                     payload: bytes) -> tuple[list[Reply], Reply | None]:
        """MAIL, each RCPT, DATA: one exchange at a time. Returns the RCPT replies and the reply
        to the data (None when every recipient was refused: nothing sent)."""
        self._check(*client.mail(sender))
        rcpt = [client.rcpt(r) for r in recipients]
        if all(code // 100 != 2 for code, _ in rcpt):
            self._reset()  # or the next message's MAIL is refused as nested
            return rcpt, None
        return rcpt, _data(client, payload)

    def _transaction_chunked(
        self, client: smtplib.SMTP, sender: str, recipients: list[str], payload: bytes
    ) -> tuple[list[Reply], Reply | None]:
        """PIPELINING with CHUNKING (RFC 3030; Postfix offers both): MAIL, the RCPTs and
        `BDAT <size> LAST` followed by the message itself (no dot-stuffing) in one write, all the
        replies read together: one round trip. With no recipient accepted the server refuses the
        BDAT and discards its data."""
        commands = [f"MAIL FROM:{quoteaddr(sender)}", *(f"RCPT TO:{quoteaddr(r)}" for r in recipients),
                    f"BDAT {len(payload)} LAST"]
        client.send("".join(f"{command}\r\n" for command in commands).encode(client.command_encoding) + payload)
        replies = [client.getreply() for _ in commands]
        rcpt = replies[1:-1]
        self._check(*replies[0])
        if all(code // 100 != 2 for code, _ in rcpt):
            self._reset()
            return rcpt, None
        return rcpt, replies[-1]

    def _transaction_pipelined(
        self, client: smtplib.SMTP, sender: str, recipients: list[str], payload: bytes
    ) -> tuple[list[Reply], Reply | None]:
        """RFC 2920 PIPELINING: MAIL, the RCPTs and DATA in one write, their replies read together,
        then the message: two round trips instead of three plus one per recipient."""
        commands = [f"MAIL FROM:{quoteaddr(sender)}", *(f"RCPT TO:{quoteaddr(r)}" for r in recipients), "DATA"]
        client.send("".join(f"{command}\r\n" for command in commands))
        replies = [client.getreply() for _ in commands]
        mail, data, rcpt = replies[0], replies[-1], replies[1:-1]
        none_taken = all(code // 100 != 2 for code, _ in rcpt)
        if data[0] == 354 and (mail[0] // 100 != 2 or none_taken):
            self._drop()  # the server opened DATA anyway: only a dropped connection sends nothing
        self._check(*mail)
        if none_taken:
            self._reset()
            return rcpt, None
        if data[0] != 354:
            self._reset()
            return rcpt, data if data[0] >= 400 else (451, b"unexpected reply to DATA: %d" % data[0])
        client.send(_LEADING_DOT.sub(b"..", payload) + (b"" if payload.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        return rcpt, client.getreply()

    def _check(self, code: int, reply: bytes | str) -> None:
        """A reply that concerns every recipient (greeting, MAIL FROM): raise its class."""
        text = _text(code, reply)
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


def _data(client: smtplib.SMTP, payload: bytes) -> Reply:
    """DATA and the message; a refusal is a reply like any other (smtplib raises on the 354)."""
    code, reply = client.docmd("data")
    if code != 354:
        return code, reply
    client.send(_LEADING_DOT.sub(b"..", payload) + (b"" if payload.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    return client.getreply()
