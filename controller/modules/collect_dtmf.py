"""collect_dtmf — collect digits the caller presses into a named collection (Kazoo's
cf_collect_dtmf), for later modules (`pivot` posts them) to read.

Data: `collection_name` (default `default`), `max_digits` (1), `timeout` (ms for the first digit,
5000), `interdigit_timeout` (ms for each next one, 2000), `terminators` (or the older single
`terminator`; `#` by default). Nothing is played: digits already pressed while an earlier prompt
played are kept by FreeSWITCH and count.

The digits are kept on the call (`call.kvs["collected_digits"][name]`); FreeSWITCH keeps them
on the channel too, as `collected_digits_<name>`, for the dialplan and CDRs. DTMF is caller
input: only 0-9, * and # survive.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules.prompts import Collect, Prompt, collect


def settings(data: dict[str, Any]) -> Collect:
    keys = data.get("terminators") or [data.get("terminator", "#")]
    return Collect(
        max_digits=int(data.get("max_digits", 1)),
        timeout_ms=int(data.get("timeout", 5000)),
        interdigit_ms=int(data.get("interdigit_timeout", 2000)),
        terminators="".join(str(k) for k in keys),
    )


def handle(data: dict[str, Any], call: Call) -> Next:
    name = str(data.get("collection_name") or "default")
    digits = collect(call, Prompt(), settings(data), "collected_digits_" + name)
    call.kvs.setdefault("collected_digits", {})[name] = digits
    return DEFAULT_CHILD
