"""Building the email of one notification with the standard `email` package:
`multipart/alternative` (text/plain then text/html) in the template's charset (quoted-printable
bodies, RFC 2047 encoded subject), headers that no input can break (every value is one line), a
Message-ID derived from the idempotency key so that a receiving system can recognise a duplicate,
at the domain of the From address (parsed: a display name is not part of it).
With an attachment (a voicemail recording) the message is `multipart/mixed`: the alternative part
first, then the file, base64-encoded.

The `email.mime` classes are used rather than EmailMessage: they build the same message in about a
third of the time (0.6 ms against 2.1 ms here), which matters at hundreds of emails a second. The
SMTP policy skips the header folding machinery for a header that is one short ASCII line (most of
them), which halves the cost of serialising a message; longer or non-ASCII values are folded and
encoded by the `email` package as before.
"""

from __future__ import annotations

import binascii
import codecs
import dataclasses
import secrets
from email import encoders
from email.charset import Charset
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import formatdate, parseaddr
from typing import Any

from controller.esl.safety import one_line


class SmtpPolicy(Compat32):
    """compat32 with CRLF line ends (smtplib sends bytes as they are) and a fast path for headers
    that need no folding: one ASCII line no longer than the line limit."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (isinstance(value, str) and value.isascii() and len(name) + len(value) + 2 <= (self.max_line_length or 0)
                and "\n" not in value and "\r" not in value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


SMTP_POLICY = SmtpPolicy(linesep="\r\n")


@dataclasses.dataclass(frozen=True)
class Rendered:
    subject: str
    sender: str
    reply_to: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    text: str
    html: str
    charset: str = "utf-8"
    sender_address: str = ""  # the address of `sender` (its display name left out)

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]


@dataclasses.dataclass(frozen=True)
class Attachment:
    """A file carried by the email (its name is already safe for a header)."""

    filename: str
    content_type: str
    data: bytes

    @property
    def summary(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "size": len(self.data)}


def _codec(name: str) -> str:
    """The codec of a template charset (an alias resolved; UTF-8 when Python has no such codec)."""
    charset = Charset(name)
    codec = str(charset.output_charset or charset.input_charset)
    try:
        codecs.lookup(codec)
    except LookupError:
        return "utf-8"
    return codec


def _text_part(text: str, subtype: str, codec: str) -> MIMENonMultipart:
    """A quoted-printable text part. Encoded here rather than by MIMEText, whose charset handling
    re-parses the Content-Type header twice (about 60 us a part), and by binascii's encoder (C)
    rather than the `email` package's (Python, 3x slower: 0.2 ms for a 5 KB body). Line ends
    are made LF first, as the `email` package's encoder splits lines at any of CR, LF, CRLF."""
    part = MIMENonMultipart("text", subtype, charset=codec)
    part["Content-Transfer-Encoding"] = "quoted-printable"
    lines = text.replace("\r\n", "\n").replace("\r", "\n").encode(codec, "replace")
    part.set_payload(binascii.b2a_qp(lines, quotetabs=False, istext=True, header=False).decode("ascii"))
    return part


def _header(value: str, charset: str) -> Header | str:
    line = one_line(value).strip()
    return line if line.isascii() else Header(line, charset)


def _attachment_part(attachment: Attachment) -> MIMEBase:
    maintype, _, subtype = attachment.content_type.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream")
    part.set_payload(attachment.data)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=one_line(attachment.filename))
    return part


def _boundary() -> str:
    """A boundary no part can contain: "=_" never occurs in quoted-printable (after "=" come two
    hex digits or a line end) nor in base64, the encodings of every part here. Giving it spares
    the generator its own search of the whole text with a freshly compiled regex (0.2 ms)."""
    return f"=_{secrets.token_hex(16)}"


def _body(rendered: Rendered, attachment: Attachment | None) -> MIMEMultipart:
    codec = _codec(rendered.charset)
    alternative = MIMEMultipart("alternative", boundary=_boundary())
    alternative.attach(_text_part(rendered.text, "plain", codec))
    alternative.attach(_text_part(rendered.html, "html", codec))
    if attachment is None:
        return alternative
    mixed = MIMEMultipart("mixed", boundary=_boundary())
    del alternative["MIME-Version"]  # only the top-level part carries it
    mixed.attach(alternative)
    mixed.attach(_attachment_part(attachment))
    return mixed


def build(rendered: Rendered, idempotency_key: str, attachment: Attachment | None = None) -> Message:
    message = _body(rendered, attachment)
    message["Subject"] = _header(rendered.subject[:200], rendered.charset)  # type: ignore[assignment]
    message["From"] = one_line(rendered.sender).strip()
    message["To"] = ", ".join(rendered.to)
    if rendered.cc:
        message["Cc"] = ", ".join(rendered.cc)
    if rendered.reply_to:
        message["Reply-To"] = one_line(rendered.reply_to).strip()
    message["Date"] = formatdate(localtime=True)
    address = rendered.sender_address or parseaddr(rendered.sender)[1]
    domain = one_line(address.rpartition("@")[2]).strip() or "localhost"
    message["Message-ID"] = f"<{idempotency_key[:32]}@{domain}>"
    return message


def serialize(message: Message) -> bytes:
    """The message's bytes as SMTP carries them (CRLF line ends)."""
    return message.as_bytes(policy=SMTP_POLICY)
