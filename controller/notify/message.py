"""Building the email of one notification with the standard `email` package:
`multipart/alternative` (text/plain then text/html) in the template's charset, headers that no
input can break (every value is one line), a Message-ID derived from the idempotency key so that
a receiving system can recognise a duplicate."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from email.utils import formatdate

from controller.esl.safety import one_line


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

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]


def build(rendered: Rendered, idempotency_key: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = one_line(rendered.subject).strip()[:200]
    message["From"] = one_line(rendered.sender).strip()
    message["To"] = ", ".join(rendered.to)
    if rendered.cc:
        message["Cc"] = ", ".join(rendered.cc)
    if rendered.reply_to:
        message["Reply-To"] = one_line(rendered.reply_to).strip()
    message["Date"] = formatdate(localtime=True)
    domain = rendered.sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{idempotency_key[:32]}@{one_line(domain)}>"
    message.set_content(rendered.text, charset=rendered.charset)
    message.add_alternative(rendered.html, subtype="html", charset=rendered.charset)
    return message
