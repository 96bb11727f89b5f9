"""hangup — end the call (Kazoo's cf_hangup) and the flow.

Data: `hangup_cause`, a FreeSWITCH cause name such as USER_BUSY or CALL_REJECTED (default
NORMAL_CLEARING; anything that is not a cause name falls back to it). Sent: `hangup <cause>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import Next

DEFAULT_CAUSE = "NORMAL_CLEARING"
_CAUSE = re.compile(r"[A-Z_]{3,64}")


def cause(data: Mapping[str, Any]) -> str:
    wanted = str(data.get("hangup_cause") or DEFAULT_CAUSE)
    return wanted if _CAUSE.fullmatch(wanted) else DEFAULT_CAUSE


def handle(data: dict[str, Any], call: Call) -> Next:
    call.channel.hangup(cause(data))
    return None
