"""Header templates for the simulator, taken from the real FreeSWITCH captures.

`python -m controller.lab.templates tests/fixtures/esl-traces` rebuilds `templates.json`: the
connect reply's headers and, for every event name seen on the outbound socket, the ordered
headers of its first occurrence, split around the channel variables (which the simulator fills
with the call's own). Values are stored decoded; the simulator overrides the per-call ones.

Also the variables a channel gains as its call goes on, where the captures show them appear:
`dialplan_variables`, those of the connect reply the caller's channel did not have yet when it
was created (set by the dialplan and the `socket` application, after CHANNEL_CREATE); `media`,
what the caller's channel gains when answered (the answer capture's CHANNEL_ANSWER); and
`callee`, the callee's leg of a bridge on an inbound connection: its channel headers (with the
Other-Leg block of its originator) and variables when created, the variables it gains when it
rings and answers (bridge) or is refused (bridge_nolistener), and `dial_variables`, the names that
came from the capture's dial string (`{leg_timeout=10,...}`).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

from controller.esl.wire import FrameReader, decode_value
from controller.lab.capture import received_stream

TEMPLATES = Path(__file__).with_name("templates.json")
SOURCES = ("answer", "bridge", "missed_continue", "missed", "caller_hangup", "answer_nolinger")
# Events only the inbound connection sees (CHANNEL_CREATE, CHANNEL_DESTROY) come from these.
INBOUND_SOURCES = ("answer.inbound",)
MEDIA_SOURCE = ("answer", "CHANNEL_ANSWER")
EVENT_HEADERS = ("Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6")
# (inbound capture, the callee leg's event -> the phase whose variables appear there)
CALLEE_SOURCES = (
    ("bridge.inbound", {"CHANNEL_CREATE": "create", "CHANNEL_PROGRESS": "ringing", "CHANNEL_ANSWER": "answered"}),
    ("bridge_nolistener.inbound", {"CHANNEL_HANGUP": "refused"}),
)


def _split(headers: list[tuple[str, str]]) -> dict[str, Any]:
    names = [name for name, _ in headers]
    first = next((i for i, n in enumerate(names) if n.startswith("variable_")), len(names))
    last = max((i for i, n in enumerate(names) if n.startswith("variable_")), default=first - 1)
    return {
        "head": headers[:first],
        "has_variables": first < len(names),
        "tail": headers[last + 1 :],
    }


def build(trace_dir: Path) -> dict[str, Any]:
    templates: dict[str, Any] = {"events": {}}
    for scenario in SOURCES + INBOUND_SOURCES:
        frames = _frames(trace_dir / f"{scenario}.txt")
        if "connect" not in templates:
            templates["connect"] = frames[0]
        for raw in frames[1:] if scenario in SOURCES else frames:
            if raw and raw[0][0] == "Event-Name" and raw[0][1] not in templates["events"]:
                templates["events"][raw[0][1]] = _split(raw)
    templates["media"] = _gained(_frames(trace_dir / f"{MEDIA_SOURCE[0]}.txt")[1:], MEDIA_SOURCE[1])
    created = _variables(_frames(trace_dir / f"{INBOUND_SOURCES[0]}.txt")[0])  # the caller's CHANNEL_CREATE
    templates["dialplan_variables"] = [name for name in _variables(templates["connect"]) if name not in created]
    templates["callee"] = _callee(trace_dir)
    return templates


def _variables(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {name.removeprefix("variable_"): value for name, value in headers if name.startswith("variable_")}


def _gained(frames: list[list[tuple[str, str]]], event: str) -> list[tuple[str, str]]:
    """The variables new on the first `event` of these frames (one channel's), against the
    frame before it."""
    before: dict[str, str] = {}
    for raw in frames:
        now = _variables(raw)
        if dict(raw).get("Event-Name") == event:
            return [(name, value) for name, value in now.items() if name not in before]
        before = now
    raise ValueError(f"no {event} in the capture")


def _callee(trace_dir: Path) -> dict[str, Any]:
    """The callee leg's variables by phase, and which of them its dial string set."""
    found: dict[str, Any] = {}
    for source, phases in CALLEE_SOURCES:
        frames = _frames(trace_dir / f"{source}.txt")
        caller = dict(frames[0])["Unique-ID"]
        leg = [raw for raw in frames if dict(raw).get("Unique-ID") != caller]
        for event, phase in phases.items():
            found[phase] = list(_variables(leg[0]).items()) if phase == "create" else _gained(leg, event)
        if "create" in phases.values():
            found["headers"] = [(name, value) for name, value in leg[0]
                                if not name.startswith(("Event-", "variable_")) and name not in EVENT_HEADERS]
            dial = next(dict(raw)["Application-Data"] for raw in frames
                        if dict(raw).get("Application") == "bridge" and dict(raw).get("Unique-ID") == caller)
            found["dial_variables"] = _dial_variables(dial)
    return found


def _dial_variables(dial: str) -> list[str]:
    """The names a dial string's leading `{name=value,...}` block sets."""
    if not dial.startswith("{"):
        return []
    block = dial[1 : dial.index("}")]
    return [item.split("=", 1)[0] for item in block.split(",") if "=" in item]


def _frames(path: Path) -> list[list[tuple[str, str]]]:
    reader = FrameReader(None)
    reader.feed(received_stream(path))
    found = []
    for frame in reader:
        if frame.content_type == "text/event-plain":
            found.append(_pairs(frame.body[: frame.body.find(b"\n\n")]))
        elif "Event-Name" in frame.headers:
            found.append(list(frame.headers.items()))
    return found


def _pairs(block: bytes) -> list[tuple[str, str]]:
    """Every header in order, duplicates kept: CHANNEL_HANGUP_COMPLETE carries Hangup-Cause
    twice (after Event-Sequence and after Answer-State)."""
    pairs = []
    for line in block.decode("utf-8").split("\n"):
        name, _, value = line.partition(": ")
        pairs.append((name, decode_value(value)))
    return pairs


@functools.cache
def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TEMPLATES.read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    built = build(Path(sys.argv[1]))
    TEMPLATES.write_text(json.dumps(built, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TEMPLATES}: {len(built['events'])} event templates")
