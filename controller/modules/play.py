"""play — play a media file, a tone or an HTTP(S) URL to the caller (Kazoo's cf_play).

Data: `id` (the media), `answer` (default true: answer first, as Kazoo does; false plays early
media on a call not yet answered), `terminators` (DTMF keys that stop the playback; by default
any key, Kazoo's ?ANY_DIGIT; `[]` for none), `loop_count` (play it that many times: FreeSWITCH's
`loop_playback +N`), `endless_playback` (repeat until the caller hangs up or presses a
terminator).

Media: a path FreeSWITCH can read and a `tone_stream://...` go to `playback` as they are; an
http(s) URL goes through mod_http_cache as `http_cache://<url>`, the scheme that module registers
on every FreeSWITCH where it is loaded (its plain `http://` file format needs
`enable-file-formats`, and mod_httapi claims `http://` too): the file is fetched once, cached and
then played from disk. A Kazoo media id (`id` of a stored `media` document, or
`/<account id>/<media id>`) plays that media's uploaded file, or its text spoken (media_refs.py);
an id that names nothing is logged and nothing is played.

Sent in one write: `answer`, `multiset playback_terminators=...` (always: FreeSWITCH's own
default is `*`), then `playback`, `loop_playback` or `endless_playback`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import inert, multiset
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import media_refs

Step = tuple[str, str]


def media_path(media: object) -> str:
    """What FreeSWITCH's `playback` needs for a media reference."""
    path = inert(media).strip()
    if path.startswith(("http://", "https://")):
        return "http_cache://" + path
    return path


ANY_DIGIT = "1234567890*#"  # Kazoo's default terminators: any key stops a prompt


def terminators(keys: Iterable[object] | None, default: str = ANY_DIGIT) -> str:
    """The `playback_terminators` value: the keys (`default` when none are given), or `none`."""
    if keys is None:
        return default
    return "".join(k for k in map(str, keys) if k in ANY_DIGIT) or "none"


def steps(data: Mapping[str, Any]) -> list[Step]:
    """The applications a play node runs, in order (empty when there is nothing to play)."""
    media = media_path(data.get("id", ""))
    if not media:
        return []
    loops = data.get("loop_count")
    if data.get("endless_playback") is True:
        playing: Step = ("endless_playback", media)
    elif isinstance(loops, int) and not isinstance(loops, bool) and loops > 1:
        playing = ("loop_playback", f"+{loops} {media}")
    else:
        playing = ("playback", media)
    answer: list[Step] = [] if data.get("answer") is False else [("answer", "")]
    return [*answer, multiset({"playback_terminators": terminators(data.get("terminators"))}), playing]


def handle(data: dict[str, Any], call: Call) -> Next:
    planned = steps({**data, "id": media_refs.resolve(call, data.get("id", ""))})
    if planned:
        call.channel.execute_all(planned)
    return DEFAULT_CHILD
