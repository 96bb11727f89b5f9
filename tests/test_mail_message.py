"""An email's text parts survive the trip: whatever the template rendered (any Unicode, CR, LF or
CRLF line ends, long lines, lines of a single dot, trailing spaces) reads back the same from the
bytes sent, in lines SMTP takes (at most 78 characters, CRLF only)."""

import email
import email.policy
import random

import pytest

from controller.notify.message import Rendered, build, serialize

PIECES = [*"abc xyz=.\t\né✓<>\"'-_Å…Ņ", "\r\n", "  \n", "\t\n", ".\n", "From ", "\r", "x" * 90]


def sent(text: str, html: str = "<p>x</p>", charset: str = "utf-8") -> email.message.EmailMessage:
    rendered = Rendered(subject="s", sender="pbx@example.com", reply_to="", to=["a@example.com"], cc=[], bcc=[],
                        text=text, html=html, charset=charset)
    raw = serialize(build(rendered, "k" * 32))
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@pytest.mark.parametrize("seed", range(5))
def test_any_text_reads_back_as_rendered_with_its_line_ends_made_one(seed: int) -> None:
    pick = random.Random(seed)
    for _ in range(200):
        text = "".join(pick.choice(PIECES) for _ in range(pick.randint(0, 120)))
        message = sent(text, html=text)
        want = text.replace("\r\n", "\n").replace("\r", "\n")
        for kind in ("plain", "html"):
            got = message.get_body((kind,)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
            assert got.rstrip("\n") == want.rstrip("\n"), (text, got)


def test_a_latin_1_template_is_sent_in_latin_1() -> None:
    message = sent("Grüße, Åsa\n", charset="iso-8859-1")
    part = message.get_body(("plain",))
    assert part is not None and part.get_content_charset() == "iso-8859-1"
    assert part.get_content() == "Grüße, Åsa\r\n"
