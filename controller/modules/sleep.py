"""sleep — pause the callflow (Kazoo's cf_sleep), with FreeSWITCH's `sleep` app (milliseconds).

Data: `duration` (default 0) and `unit`: `ms`, `s` (the default), `m` or `h`; an unknown unit
counts as seconds, and the pause is kept between 0 and one day, as Kazoo does. A zero pause sends
nothing. A caller hanging up during the pause ends the flow (the channel is gone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
MAX_MS = 86_400_000


def milliseconds(data: Mapping[str, Any]) -> int:
    scale = UNITS_MS.get(str(data.get("unit", "s")), UNITS_MS["s"])
    return min(MAX_MS, max(0, int(float(data.get("duration", 0)) * scale)))


def handle(data: dict[str, Any], call: Call) -> Next:
    duration = milliseconds(data)
    if duration:
        call.channel.execute("sleep", str(duration))
    return DEFAULT_CHILD
