"""response — answer the caller with a SIP response and end the call (Kazoo's cf_response).

Data: `code` (SIP code, default 486), `message` (reason phrase), `media` (played as early media
first, with `pre_answer`).
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.esl.safety import one_line
from controller.flow import Next
from controller.modules.play import media_path


def handle(data: dict[str, Any], call: Call) -> Next:
    code = str(data.get("code", 486))
    message = one_line(data.get("message", "")).strip()
    if data.get("media"):
        call.channel.execute("pre_answer")
        call.channel.execute("playback", media_path(str(data["media"])))
    call.channel.execute("respond", f"{code} {message}".strip())
    return None
