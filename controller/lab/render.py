"""Renders FreeSWITCH frames for the simulator from the captured templates, fast enough to
simulate a thousand calls a second: static header lines are encoded once; per call only the
channel's own values, per event only what changes (sequence, states, application...)."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from email.utils import formatdate

from controller.esl.wire import encode_value
from controller.lab import templates

# Headers whose value belongs to the call or to the moment, never copied from the capture.
CALL_HEADERS = (
    "Unique-ID", "Channel-Call-UUID", "Caller-Unique-ID", "Channel-Name", "Caller-Channel-Name",
    "Caller-Caller-ID-Name", "Caller-Caller-ID-Number", "Caller-Orig-Caller-ID-Name",
    "Caller-Orig-Caller-ID-Number", "Caller-ANI", "Caller-Destination-Number", "Caller-Username",
    "Channel-Presence-ID",
)


def line(name: str, value: str) -> bytes:
    return f"{name}: {encode_value(value)}\n".encode()


@functools.cache
def _compiled(event: str) -> tuple[tuple[tuple[str, bytes], ...], bool, tuple[tuple[str, bytes], ...]]:
    spec = templates.load()["events"][event]
    head = tuple((name, line(name, value)) for name, value in spec["head"])
    tail = tuple((name, line(name, value)) for name, value in spec["tail"] if not name.startswith("Application"))
    return head, bool(spec["has_variables"]), tail


# Headers FreeSWITCH adds once the call reaches some state (after a hangup, after an originate),
# placed after their anchor; templates captured earlier lack them.
OPTIONAL_AFTER = {
    "Answer-State": ("Hangup-Cause",),
    "Caller-Orig-Caller-ID-Number": ("Caller-Callee-ID-Name", "Caller-Callee-ID-Number"),
}


@functools.cache
def _missing(event: str) -> dict[str, tuple[str, ...]]:
    """anchor -> optional headers this event's template lacks (CHANNEL_HANGUP_COMPLETE never
    carries Hangup-Cause at that place)."""
    names = {name for name, _ in templates.load()["events"][event]["head"]}
    found = {}
    for anchor, optional in OPTIONAL_AFTER.items():
        lacking = tuple(n for n in optional if n not in names)
        if event == "CHANNEL_HANGUP_COMPLETE":
            lacking = tuple(n for n in lacking if n != "Hangup-Cause")
        if lacking:
            found[anchor] = lacking
    return found


def connect_headers() -> list[tuple[str, str]]:
    return [(name, value) for name, value in templates.load()["connect"]]


@functools.lru_cache(maxsize=4)
def _date_lines(second: int) -> tuple[bytes, bytes]:
    return (
        line("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))),
        line("Event-Date-GMT", formatdate(second, usegmt=True)),
    )


def now_lines() -> dict[str, bytes]:
    """The event date headers, encoded (the textual ones change once a second)."""
    now = time.time()
    local, gmt = _date_lines(int(now))
    return {
        "Event-Date-Local": local,
        "Event-Date-GMT": gmt,
        "Event-Date-Timestamp": b"Event-Date-Timestamp: %d\n" % int(now * 1_000_000),
    }


def event_frame(
    event: str,
    lines: Mapping[str, bytes],
    variables: bytes,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """One `text/event-plain` frame: the template's headers, with the already encoded `lines`
    of the call and the moment overriding them, the channel's variables block, then `extra`
    headers (Application, DTMF, ...)."""
    head, has_variables, tail = _compiled(event)
    missing = _missing(event)
    parts: list[bytes] = []
    for name, static in head:
        parts.append(lines.get(name, static))
        for extra_name in missing.get(name, ()):
            if extra_name in lines:
                parts.append(lines[extra_name])
    if has_variables:
        parts.append(variables)
    parts.extend(lines.get(name, static) for name, static in tail)
    parts.extend(line(name, value) for name, value in extra)
    parts.append(b"\n")
    body = b"".join(parts)
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_response(text: str) -> bytes:
    body = text.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body


def disconnect_notice(uuid: str, channel_name: str, linger: int | None) -> bytes:
    """`linger` set: the notice sent at hangup while lingering; None: the final goodbye."""
    if linger is not None:
        return (
            f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
            f"Content-Disposition: linger\nChannel-Name: {channel_name}\nLinger-Time: {linger}\n"
            "Content-Length: 0\n\n"
        ).encode()
    body = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    return (
        f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
        f"Content-Disposition: disconnect\nContent-Length: {len(body)}\n\n"
    ).encode() + body


@functools.cache
def _connect_template() -> tuple[tuple[tuple[str, bytes], ...], tuple[tuple[str, bytes], ...]]:
    """The connect reply's own headers, encoded once: those before the variables and the
    trailer from `Content-Type` on."""
    headers = [(n, v) for n, v in connect_headers() if not n.startswith("variable_")]
    cut = next(i for i, (name, _) in enumerate(headers) if name == "Content-Type")
    encoded = tuple((name, line(name, value)) for name, value in headers)
    return encoded[:cut], encoded[cut:]


def connect_reply(lines: Mapping[str, bytes], variables: bytes) -> bytes:
    """The connect reply: the CHANNEL_DATA block (no Content-Length), URL-encoded, variables
    last, then Content-Type command/reply, Reply-Text +OK, Socket-Mode and Control, as the
    captures show."""
    head, trailer = _connect_template()
    parts = [lines.get(name, static) for name, static in head]
    parts.append(variables)
    parts.extend(static for _, static in trailer)
    return b"".join(parts) + b"\n"
