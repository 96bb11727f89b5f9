"""Kazoo media ids in callflows: what `play`, menu prompts and voicemail greetings play when they
name a stored `media` document (Kazoo's kz_media_util:media_path, resolved at call time).

A media reference is one of:
- a media id: 1..64 letters, digits, `_` or `-` (Kazoo's 32 hex digits among them), with no `.`
  or `/`: a media document of the call's account;
- `/<account id>/<media id>`, the form Kazoo writes (kz_media_util:media_path): the same, when the
  account is the call's own; any other account's path stays a path (it never reaches another
  account's media, whose files are named by this module only);
- anything else (a file path, `tone_stream://`, `silence_stream://`, an http(s) URL): played as
  given, as before.

A media document plays its uploaded audio, the file `<media dir>/<account>/<media id>.wav|.mp3`
(controller/store/media.py), built from the two validated ids and the extension of the stored
`content_type`: nothing a tenant wrote reaches the path. A `tts` media without audio is spoken
with flite through FreeSWITCH's `tts://` file format, its text made `inert` (esl/safety.py). A
media id that names no document, or a document with nothing to play, is logged and plays
nothing, as Kazoo logs a missing media and continues; the call goes on.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

from controller.call import Call
from controller.esl.safety import inert
from controller.store.audio import kind_of_type
from controller.store.media import ID, file_path, media_root

log = logging.getLogger(__name__)

_ACCOUNT_FORM = re.compile(r"/([A-Za-z0-9_-]{1,64})/([A-Za-z0-9_-]{1,64})")


@dataclasses.dataclass(frozen=True)
class Media:
    """What a media document plays: its file, or text to speak (`female` or `male`)."""

    path: str = ""
    text: str = ""
    voice: str = "female"

    @property
    def playable(self) -> str:
        """What FreeSWITCH's `playback` takes for it ("" when there is nothing to play)."""
        if self.path:
            return self.path
        if self.text:
            return f"tts://flite|{'kal' if self.voice == 'male' else 'slt'}|{inert(self.text)}"
        return ""


def media_id(ref: object, account_id: str) -> str | None:
    """The media id a reference names in the account; None when it is no media id (a path...)."""
    if not isinstance(ref, str):
        return None
    if ID.fullmatch(ref):
        return ref
    found = _ACCOUNT_FORM.fullmatch(ref)
    return found.group(2) if found and found.group(1) == account_id else None


def lookup(call: Call, ref: object) -> Media | None:
    """The stored media a reference names (an empty Media when there is none: logged); None when
    the reference is no media id."""
    ident = media_id(ref, call.account_id)
    if ident is None:
        return None
    doc = call.services.document(call.account_id, "media", ident)
    if doc is None:
        log.warning("call %s: no media %r in the account: nothing played", call.uuid, ident)
        return Media()
    kind = kind_of_type(str(doc.get("content_type") or ""))
    if kind is not None:
        try:
            return Media(path=file_path(media_root(call.services.settings), call.account_id, ident, kind))
        except ValueError as exc:  # an account id that cannot name a folder: no file of it is stored
            log.warning("call %s: media %r not played: %s", call.uuid, ident, exc)
            return Media()
    tts = doc.get("tts")
    if isinstance(tts, dict) and isinstance(tts.get("text"), str) and tts["text"]:
        voice = "male" if str(tts.get("voice", "")).startswith("male") else "female"
        return Media(text=tts["text"], voice=voice)
    log.warning("call %s: media %r has no audio to play (upload it to its /raw): nothing played", call.uuid, ident)
    return Media()


def resolve(call: Call, ref: object) -> object:
    """A media reference as `playback` takes it: a media id's file (or `tts://` speech; "" when it
    plays nothing), any other reference unchanged."""
    found = lookup(call, ref)
    return ref if found is None else found.playable


def resolve_prompts(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """A menu's settings with each media id among its prompts (`media.*`) resolved: to its file;
    a spoken greeting to `greeting_tts`; anything else that plays nothing to `false` (no prompt).
    `play_and_get_digits` takes its prompt in a space-separated list, where `tts://` speech
    cannot go."""
    media = data.get("media")
    if not isinstance(media, dict):
        return data
    resolved: dict[str, Any] = {}
    for key, value in media.items():
        found = lookup(call, value)
        if found is None:
            resolved[key] = value
        elif key == "greeting" and not found.path and found.text:
            resolved["greeting_tts"] = {"text": found.text, "voice": found.voice}
        else:
            resolved[key] = found.path or False
            if not found.path and found.text:
                log.warning("call %s: spoken media %r cannot be a menu's %s: not played", call.uuid, value, key)
    return {**data, "media": resolved}
