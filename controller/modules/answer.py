"""answer — answer the call (Kazoo's cf_answer), then continue to `_`.

No data options besides `skip_module`. Sent: FreeSWITCH's `answer` (a no-op on a call already
answered).
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next


def handle(data: dict[str, Any], call: Call) -> Next:
    call.channel.execute("answer")
    return DEFAULT_CHILD
