"""The ESL wire format, shared by the call session and the FreeSWITCH simulator.

A frame is a header block (`Name: value` lines) ending in a blank line, then exactly
`Content-Length` body bytes when that header is present. An event (`text/event-plain`) carries
in its body a second header block whose values are URL-encoded. The `connect` reply is one header
block with no Content-Length whose values are URL-encoded as well (it is the CHANNEL_DATA event),
while other command replies carry raw values (`Reply-Text: +OK Events Enabled`). See the captures.

Lines are split first and each value is URL-decoded afterwards: a decoded value may contain a
newline (a caller ID name of `x%0AEvent-Name: FAKE` stays inside its value).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote

from controller.errors import ESLProtocolError

MAX_BODY = 16 << 20
MAX_HEADER_BLOCK = 1 << 20
RECV_SIZE = 65536
# What switch_url_encode leaves alone besides letters, digits and "-._~".
_SAFE = "/,()$!*'"


class FrameError(ESLProtocolError):
    """A frame that cannot be parsed: the stream it came from is unusable."""


def decode_value(raw: str) -> str:
    return unquote(raw) if "%" in raw else raw


def encode_value(value: str) -> str:
    """URL-encode a value as FreeSWITCH does in event bodies (spaces as %20)."""
    return quote(value, safe=_SAFE)


def parse_headers(block: bytes, decode: bool = True) -> dict[str, str]:
    """Parse a header block: split lines first, then (optionally) URL-decode each value.
    The first occurrence of a header wins; a line without `: ` is an error."""
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):  # an empty value ("Name:")
                name, value = line[:-1], ""
            else:
                raise FrameError(f"malformed header line {line[:80]!r}")
        if name not in headers:
            headers[name] = decode_value(value) if decode else value
    return headers


def encode_headers(headers: Iterable[tuple[str, str]], encode: bool = True) -> bytes:
    """A header block ending in its blank line; values URL-encoded unless `encode` is False."""
    lines = []
    for name, value in headers:
        text = encode_value(value) if encode else value
        if "\n" in text or "\r" in text or "\n" in name:
            raise ValueError(f"line break in header {name!r}")
        lines.append(f"{name}: {text}\n")
    lines.append("\n")
    return "".join(lines).encode("utf-8")


class Frame:
    """One ESL frame: outer headers (decoded as the frame kind requires) and its body."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: Mapping[str, str], body: bytes = b"") -> None:
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def __repr__(self) -> str:
        return f"Frame({self.content_type or '-'}, {len(self.headers)} headers, {len(self.body)} bytes)"


class Event(Mapping[str, str]):
    """A URL-encoded header block (an event body, or the connect reply's channel data) read
    lazily: one header is found with a byte search and only its value is decoded; the whole
    block is parsed only when iterated. Most events a call sees are only looked at by name."""

    __slots__ = ("_block", "_headers", "name")

    def __init__(self, block: bytes) -> None:
        self._block = block
        self._headers: dict[str, str] | None = None
        self.name = _first_value(block, b"Event-Name: ") or ""

    def _parsed(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = parse_headers(self._block)
        return self._headers

    def __getitem__(self, key: str) -> str:
        if self._headers is not None:
            return self._headers[key]
        value = _first_value(self._block, key.encode() + b": ", missing=None)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _first_value(self._block, key.encode() + b": ", missing=None) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed())

    def __len__(self) -> int:
        return len(self._parsed())


def _first_value(block: bytes, prefix: bytes, missing: str | None = "") -> str | None:
    """The decoded value of the first `Name: ` line in a block (a line start is required)."""
    if block.startswith(prefix):
        start = len(prefix)
    else:
        at = block.find(b"\n" + prefix)
        if at < 0:
            return missing
        start = at + 1 + len(prefix)
    end = block.find(b"\n", start)
    return decode_value(block[start : end if end >= 0 else len(block)].decode("utf-8", "replace"))


def parse_event(frame: Frame) -> Event:
    """The event carried by a `text/event-plain` frame (its body's own header block)."""
    body = frame.body
    end = body.find(b"\n\n")
    return Event(body if end < 0 else body[:end])


class FrameReader:
    """Reads frames from a socket; yields every complete frame, then stops at a clean EOF.

    Frames already received are all yielded before EOF is reported (FreeSWITCH sends its last
    events and closes in one burst). A malformed frame, an impossible Content-Length or a body
    cut short by EOF raises FrameError: never a spin, never a half frame.
    """

    def __init__(self, sock: Any, max_body: int = MAX_BODY) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._max_body = max_body

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self._next()
            if frame is None:
                return
            yield frame

    def feed(self, data: bytes) -> None:
        """Add bytes as if received (tests, and readers fed from captures)."""
        self._buffer += data

    def _fill(self) -> bool:
        data = self._sock.recv(RECV_SIZE) if self._sock is not None else b""
        if not data:
            return False
        self._buffer += data
        return True

    def _next(self) -> Frame | None:
        buffer = self._buffer
        while True:
            while buffer[:1] == b"\n":  # stray blank lines between frames
                del buffer[:1]
            end = buffer.find(b"\n\n")
            if end >= 0:
                break
            if len(buffer) > MAX_HEADER_BLOCK:
                raise FrameError("header block too large")
            if not self._fill():
                if buffer.strip():
                    raise FrameError("connection closed inside a header block")
                return None
        raw = bytes(buffer[:end])
        # The connect reply is the CHANNEL_DATA event: its values are URL-encoded; read lazily.
        first: Mapping[str, str] = Event(raw) if raw.startswith(b"Event-Name: ") else parse_headers(raw, decode=False)
        length = _content_length(first, self._max_body)
        total = end + 2 + length
        while len(buffer) < total:
            if not self._fill():
                raise FrameError(f"connection closed {total - len(buffer)} bytes short of the body")
        body = bytes(buffer[end + 2 : total])
        del buffer[:total]
        return Frame(first, body)


def _content_length(headers: Mapping[str, str], limit: int) -> int:
    raw = headers.get("Content-Length")
    if raw is None:
        return 0
    if not raw.strip().isdigit():
        raise FrameError(f"bad Content-Length {raw!r}")
    length = int(raw)
    if length > limit:
        raise FrameError(f"Content-Length {length} over the {limit} byte limit")
    return length


# --- building what we send ---------------------------------------------------------------------


def _check_line(text: str, what: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"line break in {what}: {text[:60]!r}")
    return text


def command(text: str) -> bytes:
    """A plain command (`connect`, `myevents`, `linger 5`, `api ...`)."""
    return (_check_line(text, "command") + "\n\n").encode("utf-8")


def sendmsg(app: str, arg: str = "", event_uuid: str = "", event_lock: bool = True) -> bytes:
    """`sendmsg` executing a dialplan application on the socket's own channel."""
    lines = ["sendmsg", "call-command: execute", f"execute-app-name: {_check_line(app, 'app name')}"]
    if arg:
        lines.append(f"execute-app-arg: {_check_line(arg, 'app argument')}")
    if event_lock:
        lines.append("event-lock: true")
    if event_uuid:
        lines.append(f"Event-UUID: {_check_line(event_uuid, 'event uuid')}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")
