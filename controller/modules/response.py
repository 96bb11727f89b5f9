"""response — answer the caller with a SIP response and end the flow (Kazoo's cf_response).

Data: `code` (SIP code 400..699, default 486), `message` (the reason phrase; absent: the code's
standard phrase), `media` (played first as early media, e.g. "the number you dialled...").

Sent in one write: with media, `pre_answer` and `playback` (a URL as in `play`), then
`respond <code> [message]`; FreeSWITCH sends that final response and hangs the caller up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import inert
from controller.flow import Next
from controller.modules.play import media_path

DEFAULT_CODE = 486


def steps(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    code = int(data.get("code", DEFAULT_CODE))
    if not 400 <= code <= 699:
        code = DEFAULT_CODE
    message = inert(data.get("message", "")).strip()
    media = media_path(data.get("media", ""))
    early = [("pre_answer", ""), ("playback", media)] if media else []
    return [*early, ("respond", f"{code} {message}".strip())]


def handle(data: dict[str, Any], call: Call) -> Next:
    call.channel.execute_all(steps(data))
    return None
