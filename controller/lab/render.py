"""Renders FreeSWITCH frames for the simulator from the captured templates, fast enough to
simulate a thousand calls a second: static header lines are encoded once; per call only the
channel's own values, per event only what changes (sequence, states, application...)."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any

from controller.esl.wire import encode_value
from controller.lab import templates


@functools.lru_cache(maxsize=16384)
def line(name: str, value: str) -> bytes:
    """One encoded header line; cached, as most lines of a call are the template's own."""
    return f"{name}: {encode_value(value)}\n".encode()


@dataclasses.dataclass(frozen=True)
class _Template:
    """An event's captured template, encoded: head lines, whether the variables follow, tail
    lines (Application headers left out: the app's own come as `extra`, in FreeSWITCH's order),
    the names the template places itself, and where optional headers go (after their anchor,
    last position first)."""

    head: tuple[tuple[str, bytes], ...]
    has_variables: bool
    tail: tuple[tuple[str, bytes], ...]
    placed: frozenset[str]
    inserts: tuple[tuple[int, tuple[str, ...]], ...]


@functools.cache
def _compiled(event: str) -> _Template:
    spec = _spec(event)
    head = tuple((name, line(name, value)) for name, value in spec["head"])
    tail = tuple((name, line(name, value)) for name, value in spec["tail"] if not name.startswith("Application"))
    names = [name for name, _ in head]
    inserts = sorted(((names.index(anchor) + 1, optional) for anchor, optional in _missing(event).items()
                      if anchor in names), reverse=True)
    return _Template(head, bool(spec["has_variables"]), tail, frozenset(names + [n for n, _ in tail]), tuple(inserts))


def _spec(event: str) -> dict[str, Any]:
    """The captured template of an event; an event the captures never showed (RECORD_START,
    RECORD_STOP, CHANNEL_PROGRESS_MEDIA) takes CHANNEL_ANSWER's shape, a channel event with its
    variables, under its own name."""
    events: dict[str, dict[str, Any]] = templates.load()["events"]
    if event in events:
        return events[event]
    base = events["CHANNEL_ANSWER"]
    head = [[name, event if name == "Event-Name" else value] for name, value in base["head"]]
    return {**base, "head": head}


# Headers FreeSWITCH adds once the call reaches some state, placed after their anchor; templates
# captured earlier lack them: Hangup-Cause after a hangup, the callee's ID once a callee rang, and
# the Other-Type / Other-Leg-* block once bridged (bridge capture: CHANNEL_HANGUP onwards); a
# transferred channel's caller profile has a Transfer-Source and an RDNIS (the destination it was
# transferred from), where switch_caller_profile_event_set_data writes them.
OPTIONAL_AFTER = {
    "Answer-State": ("Hangup-Cause",),
    "Caller-Orig-Caller-ID-Number": ("Caller-Callee-ID-Name", "Caller-Callee-ID-Number"),
    "Caller-Source": ("Caller-Transfer-Source",),
    "Caller-Context": ("Caller-RDNIS",),
}
# The connect reply carries the caller profile twice (Channel-* and Caller-*).
CONNECT_OPTIONAL_AFTER = {f"{prefix}-{anchor}": (f"{prefix}-{name}",) for prefix in ("Channel", "Caller")
                          for anchor, name in (("Source", "Transfer-Source"), ("Context", "RDNIS"))}
OTHER_LEG_ANCHOR = "Caller-Privacy-Hide-Number"


@functools.cache
def other_leg_template() -> tuple[tuple[str, str], ...]:
    """The Other-Type / Other-Leg-* headers of the captured CHANNEL_BRIDGE, in order."""
    return tuple((name, value) for name, value in _spec("CHANNEL_BRIDGE")["head"] if name.startswith("Other-"))


@functools.cache
def _missing(event: str) -> dict[str, tuple[str, ...]]:
    """anchor -> optional headers this event's template lacks."""
    names = {name for name, _ in _spec(event)["head"]}
    optional = {**OPTIONAL_AFTER, OTHER_LEG_ANCHOR: tuple(name for name, _ in other_leg_template())}
    found = {}
    for anchor, headers in optional.items():
        lacking = tuple(n for n in headers if n not in names)
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
    headers (Application..., DTMF-...). An `extra` header the template already has replaces it
    in place (DTMF-Digit sits before the end of a DTMF event; a second one would be ignored by
    a reader keeping the first occurrence)."""
    template = _compiled(event)
    placed = template.placed
    if extra:
        lines = {**lines, **{name: line(name, value) for name, value in extra if name in placed}}
    get = lines.get
    parts = [get(name, static) for name, static in template.head]
    for position, optional in template.inserts:
        found = [lines[name] for name in optional if name in lines]
        if found:
            parts[position:position] = found
    if template.has_variables:
        parts.append(variables)
    parts.extend(get(name, static) for name, static in template.tail)
    parts.extend(line(name, value) for name, value in extra if name not in placed)
    parts.append(b"\n")
    body = b"".join(parts)
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body


def reply(text: str) -> bytes:
    """A `command/reply`; its Reply-Text is raw, as mod_event_socket writes it (a `getvar` of a
    value with a line break would break the stream there too)."""
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
def _connect_template() -> tuple[tuple[tuple[str, bytes], ...], tuple[tuple[str, bytes], ...],
                                 tuple[tuple[int, tuple[str, ...]], ...]]:
    """The connect reply's own headers, encoded once: those before the variables, the trailer
    from `Content-Type` on, and where the optional profile headers go (last position first)."""
    headers = [(n, v) for n, v in connect_headers() if not n.startswith("variable_")]
    cut = next(i for i, (name, _) in enumerate(headers) if name == "Content-Type")
    encoded = tuple((name, line(name, value)) for name, value in headers)
    names = [name for name, _ in encoded[:cut]]
    inserts = sorted(((names.index(anchor) + 1, optional) for anchor, optional in CONNECT_OPTIONAL_AFTER.items()
                      if anchor in names), reverse=True)
    return encoded[:cut], encoded[cut:], tuple(inserts)


def connect_reply(lines: Mapping[str, bytes], variables: bytes) -> bytes:
    """The connect reply: the CHANNEL_DATA block (no Content-Length), URL-encoded, variables
    last, then Content-Type command/reply, Reply-Text +OK, Socket-Mode and Control, as the
    captures show (a transferred channel's Transfer-Source and RDNIS in its profile)."""
    head, trailer, inserts = _connect_template()
    parts = [lines.get(name, static) for name, static in head]
    for position, optional in inserts:
        found = [lines[name] for name in optional if lines.get(name)]
        if found:
            parts[position:position] = found
    parts.append(variables)
    parts.extend(static for _, static in trailer)
    return b"".join(parts) + b"\n"
