"""tts — speak text to the caller with FreeSWITCH's `speak` (Kazoo's cf_tts).

Data: `text` (required), `voice` (`female`, `male` or an engine voice name), `language` (for
engines that take one; flite speaks English), `engine` (`flite`, FreeSWITCH's built-in mod_flite,
by default), `terminators` (keys that cut the speech short: any key by default, as Kazoo; `[]`
for none), `endless_playback` (say it again and again until a terminator or the hangup, through
FreeSWITCH's `tts://` file format). The call is answered first.
Operator text: line breaks are removed; nothing caller-controlled is spoken here.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.esl.safety import multiset
from controller.flow import DEFAULT_CHILD, Next
from controller.modules.play import terminators
from controller.modules.prompts import speak


def handle(data: dict[str, Any], call: Call) -> Next:
    engine = str(data.get("engine", "flite"))
    variables = {"playback_terminators": terminators(data.get("terminators"))}
    if data.get("language"):
        variables["tts_language"] = str(data["language"])
    spoken = speak(str(data.get("text", "")), engine, str(data.get("voice", "female")))
    if data.get("endless_playback") is True:
        spoken = ("endless_playback", "tts://" + spoken[1])
    call.channel.execute_all([("answer", ""), multiset(variables), spoken])
    return DEFAULT_CHILD
