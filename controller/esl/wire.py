"""The ESL wire format, shared by the call session, the inbound watcher and the FreeSWITCH
simulator (mod_event_socket's framing, as the captures in tests/fixtures/esl-traces/ show).

A frame is a header block (`Name: value` lines) ending in a blank line, then exactly
`Content-Length` body bytes when that header is present. An event (`text/event-plain`) carries
in its body a second header block whose values are URL-encoded. The `connect` reply is one header
block with no Content-Length whose values are URL-encoded as well (it is the CHANNEL_DATA event,
`Reply-Text: %2BOK%0A`), while other command replies carry raw values (`Reply-Text: +OK Events
Enabled`, `getvar` puts the variable itself there).

Lines are split first and each value is URL-decoded afterwards: a decoded value may contain a
newline (a caller ID name of `x%0AEvent-Name: FAKE` stays inside its value). Nothing we send may
contain a line break: the builders at the bottom refuse one with ValueError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol, TypeVar, overload
from urllib.parse import quote, unquote

from controller.errors import ESLProtocolError

T = TypeVar("T")
MAX_BODY = 16 << 20
MAX_HEADER_BLOCK = 1 << 20
# FreeSWITCH puts at most a blank line or two between frames; a stream of them is a flood.
MAX_BLANK_LINES = 4096
RECV_SIZE = 65536
# What switch_url_encode leaves alone besides letters, digits and "-._~": its unsafe set is
# `\r\n #%&+:;<=>?@[\]^`{|}"` plus every byte below space or above `~`.
_SAFE = "/,()$!*'"
# switch_url_encode does not re-encode what already looks like an escape (`%` + two upper-case
# hex digits): FreeSWITCH sends a variable holding `100%41` as is, and it decodes as `100A`.
_ESCAPE = re.compile(r"(%[0-9A-F]{2})")


class FrameError(ESLProtocolError):
    """A frame that cannot be parsed (malformed header line, impossible Content-Length, a body
    or header block cut short by EOF): the stream it came from is unusable."""


class Budget:
    """Bytes that all the readers of a process may hold at once, buffered and not yet framed
    (one reader's limits, MAX_BODY and MAX_HEADER_BLOCK, say nothing of forty connections each
    sending a 16 MiB body slowly). A reader that would go past it raises FrameError: that one
    connection is closed, the others go on."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> None:
        if self.used + size > self.limit:
            raise FrameError(f"the process's {self.limit >> 20} MiB of ESL buffers are taken")
        self.used += size

    def give(self, size: int) -> None:
        self.used = max(0, self.used - size)


class Receiver(Protocol):
    """What FrameReader reads from: a gevent socket, or anything with `recv`."""

    def recv(self, size: int, /) -> bytes: ...


class Sender(Protocol):
    """What `write` writes to: a gevent socket."""

    def send(self, data: bytes, /) -> int: ...

    def sendall(self, data: bytes | memoryview, /) -> None: ...


def write(sock: Sender, data: bytes) -> None:
    """Write all of `data`. A command or a few events fit in the socket buffer: one `send`
    does it (gevent's `sendall` also asks the kernel for the buffer size on every call); the
    rest, if any, goes through `sendall`, which waits for the peer."""
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])


def decode_value(raw: str) -> str:
    """URL-decode one header value (only values: a block is split into lines first)."""
    return unquote(raw) if "%" in raw else raw


def encode_value(value: str) -> str:
    """URL-encode a value as FreeSWITCH's switch_url_encode does for `event plain` bodies:
    spaces as %20, upper-case hex, an existing `%XX` escape left alone."""
    if "%" not in value:
        return quote(value, safe=_SAFE)
    return "".join(part if _ESCAPE.fullmatch(part) else quote(part, safe=_SAFE) for part in _ESCAPE.split(value))


def parse_headers(block: bytes, decode: bool = True) -> dict[str, str]:
    """Parse a header block: split lines first, then (optionally) URL-decode each value.

    The first occurrence of a header wins (a forged duplicate cannot override it); blank lines
    (a trailing one included) are skipped; `Name:` is an empty value; a line without a colon
    raises FrameError."""
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            if not line.endswith(":"):
                raise FrameError(f"malformed header line {line[:80]!r}")
            name, value = line[:-1], ""
        if name not in headers:
            headers[name] = decode_value(value) if decode else value
    return headers


def encode_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]], encode: bool = True) -> bytes:
    """A header block ending in its blank line. `encode=True` URL-encodes the values as in an
    event body or the connect reply; `encode=False` writes them raw as in a command reply, and
    then a value with a line break is refused (ValueError), as is a name with one or a colon."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lines = []
    for name, value in pairs:
        if not name or ":" in name or "\n" in name or "\r" in name:
            raise ValueError(f"bad header name {name!r}")
        text = encode_value(value) if encode else _check_line(value, f"header {name}")
        lines.append(f"{name}: {text}\n")
    lines.append("\n")
    return "".join(lines).encode("utf-8")


class Frame:
    """One ESL frame: its outer headers (URL-decoded only for the connect reply, whose block is
    the CHANNEL_DATA event) and its body (exactly Content-Length bytes)."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: Mapping[str, str], body: bytes = b"") -> None:
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        """`command/reply`, `api/response`, `text/event-plain`, `text/disconnect-notice`,
        `auth/request`... or "" for a frame without one (a frame like any other)."""
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    @property
    def is_event(self) -> bool:
        return self.content_type == "text/event-plain"

    def __repr__(self) -> str:
        return f"Frame({self.content_type or '-'}, {len(self.headers)} headers, {len(self.body)} bytes)"


class Event(Mapping[str, str]):
    """A URL-encoded header block (an event body, or the connect reply's channel data) read
    lazily: one header is found with a byte search and only its value is decoded; the whole
    block is parsed only when iterated. Most events a call sees are only looked at by name."""

    __slots__ = ("_block", "_found", "_headers", "name")

    def __init__(self, block: bytes, name: str | None = None) -> None:
        self._block = block
        self._headers: dict[str, str] | None = None
        self._found: dict[str, str | None] = {}  # headers looked up so far (the channel data's often)
        self.name = (_first_value(block, b"Event-Name: ") or "") if name is None else name

    def last(self, key: str) -> str | None:
        """The value of the last `key` line, searched from the end: for the headers FreeSWITCH
        writes after every variable (Application, Application-Response, Application-UUID of
        CHANNEL_EXECUTE_COMPLETE), found without scanning the 5 KB before them. A value cannot
        forge a line (values are URL-encoded), so the last line of a name is FreeSWITCH's."""
        block = self._block
        prefix = key.encode() + b": "
        at = block.rfind(b"\n" + prefix)
        if at < 0:
            return self._lookup(key)
        start = at + 1 + len(prefix)
        end = block.find(b"\n", start)
        return decode_value(block[start : end if end >= 0 else len(block)].decode("utf-8", "replace"))

    def _parsed(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = parse_headers(self._block)
        return self._headers

    def _lookup(self, key: str) -> str | None:
        if self._headers is not None:
            return self._headers.get(key)
        found = self._found
        if key in found:
            return found[key]
        value = found[key] = _first_value(self._block, key.encode() + b": ", missing=None)
        return value

    def __getitem__(self, key: str) -> str:
        value = self._lookup(key)
        if value is None:
            raise KeyError(key)
        return value

    @overload
    def get(self, key: str, /) -> str | None: ...

    @overload
    def get(self, key: str, /, default: str | T) -> str | T: ...

    def get(self, key: str, /, default: object = None) -> object:
        """As Mapping.get, without raising and catching KeyError for a missing header."""
        value = self._lookup(key)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not None

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


def event_name(frame: Frame) -> str:
    """The Event-Name of a `text/event-plain` frame (the first line FreeSWITCH writes), found
    without reading the rest: most events a call receives are only looked at by name."""
    return _first_value(frame.body, b"Event-Name: ") or ""


def parse_event(frame: Frame, name: str | None = None) -> Event:
    """The event carried by a `text/event-plain` frame (its body's own header block).

    Only an event carrying a body of its own has a Content-Length header (switch_event_serialize
    writes it last, then the blank line and the body): without one, the whole frame body is the
    block. Looking for that header skips through a 5 KB event several bytes at a time; looking
    for the blank line would visit every line end."""
    body = frame.body
    if b"Content-Length: " not in body:
        return Event(body, name)
    end = body.find(b"\n\n")
    return Event(body if end < 0 else body[:end], name)


class _BlockReader:
    """A byte buffer fed by `recv` and cut into header blocks (ending in a blank line), each
    followed by exactly Content-Length body bytes. One `bytes.find` per block, resumed where the
    previous search stopped, so a block split into many small segments is not rescanned."""

    def __init__(self, sock: Receiver | None, max_body: int = MAX_BODY, budget: Budget | None = None,
                 on_fill: Callable[[int], None] | None = None) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._max_body = max_body
        self._scanned = 0  # bytes of the buffer already searched for the blank line
        self._budget = budget
        self._held = 0  # bytes of the buffer counted in the budget
        self._on_fill = on_fill  # told each recv's size (a session yields to others there)
        self._blank = 0  # blank lines skipped since the last frame

    def feed(self, data: bytes) -> None:
        """Add bytes as if received (readers fed from captures; with no socket, the end of the
        fed bytes is EOF)."""
        self._buffer += data

    def _fill(self) -> bool:
        data = self._sock.recv(RECV_SIZE) if self._sock is not None else b""
        if not data:
            return False
        if self._budget is not None:
            self._budget.take(len(data))
            self._held += len(data)
        self._buffer += data
        if self._on_fill is not None:
            self._on_fill(len(data))
        return True

    def _drop(self, size: int) -> None:
        """Bytes leave the front of the buffer (framed, or blank lines)."""
        del self._buffer[:size]
        if self._budget is not None:
            given = min(size, self._held)
            self._budget.give(given)
            self._held -= given

    def release(self) -> None:
        """The reader is done: what it held goes back to the budget."""
        if self._budget is not None:
            self._budget.give(self._held)
            self._held = 0
        self._buffer.clear()

    def _header_end(self) -> int | None:
        """Where the blank line ending the next header block is; None at a clean EOF."""
        buffer = self._buffer
        while True:
            if buffer[:1] == b"\n":  # stray blank lines between blocks, dropped at once
                blank = len(buffer) - len(buffer.lstrip(b"\n"))
                self._blank += blank
                if self._blank > MAX_BLANK_LINES:
                    raise FrameError(f"more than {MAX_BLANK_LINES} blank lines between two frames")
                self._drop(blank)
                self._scanned = 0
            end = buffer.find(b"\n\n", max(0, self._scanned - 1))
            if end >= 0:
                self._scanned = 0
                return end
            self._scanned = len(buffer)
            if len(buffer) > MAX_HEADER_BLOCK:
                raise FrameError("header block too large")
            if not self._fill():
                if buffer:
                    raise FrameError("connection closed inside a header block")
                return None

    def _body(self, end: int, length: int) -> bytes:
        """The `length` bytes after the blank line at `end`; the block and body leave the buffer."""
        buffer = self._buffer
        total = end + 2 + length
        while len(buffer) < total:
            if not self._fill():
                raise FrameError(f"connection closed {total - len(buffer)} bytes short of the body")
        body = bytes(buffer[end + 2 : total])
        self._drop(total)
        self._blank = 0
        return body


class FrameReader(_BlockReader):
    """Reads frames from a socket; yields every complete frame, then stops at a clean EOF.

    Frames already received are all yielded before EOF is reported (FreeSWITCH sends its last
    events and the disconnect notice and closes in one burst: answer_nolinger in the captures).
    A malformed frame, an impossible Content-Length or a body cut short by EOF raises FrameError:
    never a spin, never a half frame. EOF between frames is a clean end.
    """

    def __iter__(self) -> Iterator[Frame]:
        while (end := self._header_end()) is not None:
            buffer = self._buffer
            # Most frames of a call are events, whose header block FreeSWITCH writes the same
            # way every time: read it without the general parse.
            digits = b""
            if buffer.startswith(b"Content-Length: ") and buffer.endswith(_EVENT_TYPE_LINE, 16, end):
                digits = bytes(buffer[16 : end - len(_EVENT_TYPE_LINE)])
            headers: Mapping[str, str]
            if digits.isdigit():
                headers = {"Content-Length": digits.decode(), "Content-Type": "text/event-plain"}
            else:
                headers = _frame_headers(bytes(buffer[:end]))
            yield Frame(headers, self._body(end, content_length(headers, self._max_body)))


_EVENT_TYPE_LINE = b"\nContent-Type: text/event-plain"


def _frame_headers(raw: bytes) -> Mapping[str, str]:
    """A frame's own headers: raw values, except in the connect reply, which is the
    CHANNEL_DATA event (URL-encoded values, read lazily)."""
    return Event(raw) if raw.startswith(b"Event-Name: ") else parse_headers(raw, decode=False)


class Command:
    """One command as mod_event_socket reads it: the first line is the command itself
    (`sendmsg`, `api uptime`, `linger 5`), then `name: value` headers (raw, names compared
    without case, as FreeSWITCH does: the captures' server sends `event-uuid`), then a body of
    Content-Length bytes (a `sendmsg` may carry its app argument there)."""

    __slots__ = ("body", "headers", "line")

    def __init__(self, line: str, headers: Mapping[str, str], body: bytes = b"") -> None:
        self.line = line
        self.headers = headers
        self.body = body

    @property
    def name(self) -> str:
        return self.line.partition(" ")[0]

    @property
    def arg(self) -> str:
        return self.line.partition(" ")[2]

    def __repr__(self) -> str:
        return f"Command({self.line!r}, {dict(self.headers)!r})"


class CommandReader(_BlockReader):
    """Reads the commands an ESL client sends (what FreeSWITCH's side of a socket reads)."""

    def __iter__(self) -> Iterator[Command]:
        while (end := self._header_end()) is not None:
            line, _, rest = bytes(self._buffer[:end]).partition(b"\n")
            headers = {name.lower(): value for name, value in parse_headers(rest, decode=False).items()}
            text = line.decode("utf-8", "replace").strip()
            yield Command(text, headers, self._body(end, content_length(headers, self._max_body, "content-length")))


def content_length(headers: Mapping[str, str], limit: int = MAX_BODY, name: str = "Content-Length") -> int:
    """The frame's Content-Length (0 when absent); FrameError unless it is a plain decimal
    number within `limit`."""
    raw = headers.get(name)
    if raw is None:
        return 0
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        raise FrameError(f"bad Content-Length {raw[:40]!r}")
    length = int(text)
    if length > limit:
        raise FrameError(f"Content-Length {length} over the {limit} byte limit")
    return length


# --- building what we send ---------------------------------------------------------------------


def _check_line(text: str, what: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"line break in {what}: {text[:60]!r}")
    return text


def command(name: str, *args: str) -> bytes:
    """A plain command (`connect`, `myevents`, `linger 5`, `api uuid_getvar <uuid> x`,
    `event plain CHANNEL_ANSWER DTMF`): the words joined by spaces, then the blank line.
    `command("linger 5")` and `command("linger", "5")` are the same bytes."""
    if not name:
        raise ValueError("empty command")
    text = " ".join((name, *args)) if args else name
    return (_check_line(text, "command") + "\n\n").encode("utf-8")


def sendmsg(
    app: str, arg: str = "", event_uuid: str = "", event_lock: bool = True, *, uuid: str | None = None
) -> bytes:
    """`sendmsg` executing a dialplan application: on the socket's own channel, or on `uuid`
    (needed on an inbound connection). FreeSWITCH returns `event_uuid` as Application-UUID on
    that app's CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE; `event-lock` queues it behind the
    apps already sent."""
    lines = [_sendmsg_line(uuid), "call-command: execute", f"execute-app-name: {_check_line(app, 'app name')}"]
    if arg:
        lines.append(f"execute-app-arg: {_check_line(arg, 'app argument')}")
    if event_lock:
        lines.append("event-lock: true")
    if event_uuid:
        lines.append(f"Event-UUID: {_check_line(event_uuid, 'event uuid')}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def sendmsg_hangup(cause: str = "NORMAL_CLEARING", *, uuid: str | None = None) -> bytes:
    """`sendmsg` with `call-command: hangup` (answered with `+OK` even on a channel already gone,
    as the bridge_nolistener capture shows)."""
    lines = [_sendmsg_line(uuid), "call-command: hangup", f"hangup-cause: {_check_line(cause, 'hangup cause')}"]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _sendmsg_line(uuid: str | None) -> str:
    return f"sendmsg {_check_line(uuid, 'uuid')}" if uuid else "sendmsg"


def frame_bytes(headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    """A raw frame as FreeSWITCH writes a reply (`Content-Type: command/reply` + raw values),
    with Content-Length added when there is a body."""
    pairs: list[tuple[str, str]] = list(headers.items() if isinstance(headers, Mapping) else headers)
    if body:
        pairs.append(("Content-Length", str(len(body))))
    return encode_headers(pairs, encode=False) + body
