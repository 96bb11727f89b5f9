"""play — play a media file, a `tone_stream://` or an HTTP(S) URL (Kazoo's cf_play).

Data: `id` (the media: a path FreeSWITCH can read, `tone_stream://...`, or an http(s) URL, played
through mod_http_cache's `http_cache://` scheme so it is fetched once), `answer` (default true:
answer first, as Kazoo does), `terminators` (DTMF keys that stop the playback), `endless_playback`
(loop until the caller hangs up or presses a terminator).
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.esl.safety import multiset, one_line
from controller.flow import DEFAULT_CHILD, Next


def media_path(media: str) -> str:
    """What FreeSWITCH's playback app needs for a media reference."""
    media = one_line(media).strip()
    if media.startswith(("http://", "https://")):
        return "http_cache://" + media
    return media


def handle(data: dict[str, Any], call: Call) -> Next:
    media = media_path(str(data.get("id", "")))
    if not media:
        return DEFAULT_CHILD
    steps = [("answer", "")] if data.get("answer", True) else []
    terminators = data.get("terminators")
    if terminators is not None:
        steps.append(multiset({"playback_terminators": "".join(terminators) or "none"}))
    steps.append(("endless_playback" if data.get("endless_playback") else "playback", media))
    call.channel.execute_all(steps)
    return DEFAULT_CHILD
