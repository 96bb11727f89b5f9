"""sleep — pause the callflow (Kazoo's cf_sleep). Data: `duration` (default 0) and `unit`
(`ms`, `s` (default), `m`, `h`)."""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def milliseconds(data: dict[str, Any]) -> int:
    return max(0, int(float(data.get("duration", 0)) * UNITS_MS.get(str(data.get("unit", "s")), 1000)))


def handle(data: dict[str, Any], call: Call) -> Next:
    duration = milliseconds(data)
    if duration:
        call.channel.execute("sleep", str(duration))
    return DEFAULT_CHILD
