"""Header templates for the simulator, taken from the real FreeSWITCH captures.

`python -m controller.lab.templates tests/fixtures/esl-traces` rebuilds `templates.json`: the
connect reply's headers and, for every event name seen on the outbound socket, the ordered
headers of its first occurrence, split around the channel variables (which the simulator fills
with the call's own). Values are stored decoded; the simulator overrides the per-call ones.
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
    return templates


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
