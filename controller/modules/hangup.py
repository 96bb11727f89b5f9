"""hangup — end the call (Kazoo's cf_hangup). Data: `hangup_cause` (a FreeSWITCH cause such as
USER_BUSY or CALL_REJECTED; default NORMAL_CLEARING)."""

from __future__ import annotations

import re
from typing import Any

from controller.call import Call
from controller.flow import Next

_CAUSE = re.compile(r"[A-Z_]{3,64}")


def handle(data: dict[str, Any], call: Call) -> Next:
    cause = str(data.get("hangup_cause") or "NORMAL_CLEARING")
    call.channel.hangup(cause if _CAUSE.fullmatch(cause) else "NORMAL_CLEARING")
    return None
