"""Prompts and digit collection shared by `menu`, `collect_dtmf` and `voicemail`.

A prompt is a recorded file (a path, `tone_stream://`, or an http(s) URL, as `play` takes it), or
text spoken by FreeSWITCH's `speak` (`engine|voice|text`; while digits are collected, its
`tts://` file format, so that the caller can answer before the text ends). Digits are read with
`play_and_get_digits` (one try: the callers of `collect` own their retry rules, as Kazoo's
modules do), which leaves them in a channel variable that its CHANNEL_EXECUTE_COMPLETE carries.
Media paths go into a space-separated argument list: a path with whitespace cannot be played
there, so it is refused (logged) and the prompt is silence.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import inert
from controller.modules.play import media_path

log = logging.getLogger(__name__)

SILENCE = "silence_stream://250"
DIGITS = "0123456789*#"
Step = tuple[str, str]


@dataclasses.dataclass(frozen=True)
class Prompt:
    """What to play: a file, or text to speak (engine, voice)."""

    file: str = ""
    text: str = ""
    engine: str = "flite"
    voice: str = "female"

    @property
    def is_empty(self) -> bool:
        return not self.file and not self.text

    def steps(self) -> list[Step]:
        """The applications that play this prompt on its own."""
        if self.text:
            return [speak(self.text, self.engine, self.voice)]
        return [("playback", self.file)] if self.file else []


def speak(text: str, engine: str = "flite", voice: str = "female") -> Step:
    """`speak engine|voice|text` (mod_flite's voices: kal, slt, rms, awb; `female` -> slt)."""
    voices = {"female": "slt", "male": "kal"} if engine == "flite" else {}
    return "speak", f"{inert(engine)}|{inert(voices.get(voice, voice))}|{inert(text)}"


def file_prompt(media: object) -> Prompt:
    """A recorded prompt from a media reference (empty when there is none or it cannot be played)."""
    path = media_path(media) if isinstance(media, str) else ""
    if path and path.split() != [path]:
        log.warning("media %r has whitespace: it cannot be played in a prompt", path)
        return Prompt()
    return Prompt(file=path)


def tts_prompt(spec: Mapping[str, Any] | None, engine: str = "flite") -> Prompt:
    """A spoken prompt from `{"text", "voice"}` (empty when there is no text)."""
    if not spec or not spec.get("text"):
        return Prompt()
    return Prompt(text=str(spec["text"]), engine=engine, voice=str(spec.get("voice", "female")))


def play(call: Call, *prompts: Prompt) -> None:
    """Play prompts one after the other (nothing is sent when all are empty)."""
    steps = [step for prompt in prompts for step in prompt.steps()]
    if steps:
        call.channel.execute_all(steps)


@dataclasses.dataclass(frozen=True)
class Collect:
    """How digits are read: at most `max_digits`, the first within `timeout_ms` of the prompt's
    end, each next within `interdigit_ms`; a terminator ends the entry early."""

    max_digits: int
    timeout_ms: int = 5000
    interdigit_ms: int = 2000
    terminators: str = "#"
    min_digits: int = 1

    def argument(self, file: str, variable: str) -> str:
        keys = "".join(k for k in self.terminators if k in DIGITS) or "none"
        allowed = "".join(k for k in DIGITS if k not in keys)
        regex = "^[" + allowed.replace("*", "\\*") + "]+$"
        return " ".join((
            str(self.min_digits), str(self.max_digits), "1", str(self.timeout_ms), keys,
            file or SILENCE, SILENCE, variable, regex, str(self.interdigit_ms),
        ))


def collect(call: Call, prompt: Prompt, how: Collect, variable: str = "collected_digits") -> str:
    """Play the prompt and read digits; "" when the caller pressed nothing valid in time."""
    file = prompt.file
    if prompt.text:
        # Said by play_and_get_digits itself, in FreeSWITCH's tts:// file format quoted whole (its
        # argument splitter keeps a quoted run as one; `inert` leaves no quote in the text): a
        # key pressed while it is said is read, where a `speak` first would swallow it.
        _, spoken = speak(prompt.text, prompt.engine, prompt.voice)
        file = f"'tts://{spoken}'"
    event = call.channel.execute_all([("play_and_get_digits", how.argument(file, variable))])
    digits = event.get("variable_" + variable, "")
    return "".join(d for d in digits if d in DIGITS)[: how.max_digits]
