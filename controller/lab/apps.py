"""The dialplan applications the simulator plays, each as FreeSWITCH's mod_dptools answers it
(see the captures): `run(call, app, arg)` returns the Application-Response of the app's
CHANNEL_EXECUTE_COMPLETE. An app that ends the call calls `call.hangup(...)` itself; an app
interrupted by the caller's hangup returns at once (playback with `PLAYBACK ERROR`, as in the
caller_hangup capture) and the simulator completes it right after CHANNEL_HANGUP.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import wave
from collections.abc import Callable
from typing import TYPE_CHECKING

from controller.lab import bridge as bridging
from controller.lab import callcenter as call_center
from controller.lab import conferences, fax, report, switchboard, valet
from controller.lab.expand import expand
from controller.lab.keypad import BREAK

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall

App = Callable[["SimulatedCall", str], str]

SAMPLES_PER_MS = 8
RESPOND_CAUSES = {"404": "UNALLOCATED_NUMBER", "486": "USER_BUSY", "480": "NO_USER_RESPONSE",
                  "503": "NORMAL_TEMPORARY_FAILURE", "603": "CALL_REJECTED", "403": "CALL_REJECTED"}


def answer(call: SimulatedCall, arg: str) -> str:
    """CHANNEL_ANSWER between the app's EXECUTE and EXECUTE_COMPLETE (answer capture)."""
    if not call.answered and call.wait(call.scenario.answer_delay):
        call.answer()
    return "_none_"


def pre_answer(call: SimulatedCall, arg: str) -> str:
    """Early media: CHANNEL_PROGRESS_MEDIA, Answer-State `early`, the media set up (a 183 with
    its SDP and To tag)."""
    if not call.answered and call.channel.values.get("Answer-State") != "early":
        call.media_up()
        call.channel.set_values(Answer_State="early")
        call.emit("CHANNEL_PROGRESS_MEDIA")
        if call.channel.variable("sip_to_tag") is None:
            call.channel.set_variable("sip_to_tag", report.sip_tag())
    return "_none_"


def _terminators(call: SimulatedCall) -> str:
    """playback_terminators as mod_dptools reads it: `*` unless set; `none`; `any`."""
    value = call.channel.variable("playback_terminators")
    if value is None:
        return "*"
    return {"none": "", "any": "0123456789*#"}.get(value.lower(), value)


def _listen(call: SimulatedCall, seconds: float) -> bool:
    """Play media for `seconds`, consuming the caller's digits; a terminator or uuid_break
    stops it early (playback_terminator_used is set). False if the call hung up."""
    terminators = _terminators(call)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        digit = call.keypad.next_digit(left)
        if call.hungup.is_set():
            return False
        if digit is None or digit == BREAK:
            break
        if digit in terminators:
            call.channel.set_variable("playback_terminator_used", digit)
            break
    return not call.hungup.is_set()


def _is_missing(call: SimulatedCall, path: str) -> bool:
    """Whether FreeSWITCH could not open this file: the scenario lists it as missing."""
    return any(missing in path for missing in call.scenario.missing_files)


def playback(call: SimulatedCall, arg: str) -> str:
    """FILE PLAYED (also when a terminator stopped it), PLAYBACK ERROR when the caller hung up
    meanwhile, FILE NOT FOUND for a path the scenario lists as missing."""
    if _is_missing(call, arg):
        return "FILE NOT FOUND"
    call.keypad.prompt_started("playback")
    started = time.monotonic()
    played = _listen(call, call.scenario.playback_seconds)
    milliseconds = int((time.monotonic() - started) * 1000)
    samples = str(milliseconds * SAMPLES_PER_MS)  # where the file stopped, at 8 kHz (answer capture)
    call.channel.set_variables({"variable_playback_last_offset_pos": samples, "variable_playback_samples": samples})
    call.channel.set_variable("playback_ms", str(milliseconds))
    call.channel.set_variable("playback_seconds", str(milliseconds // 1000))
    return "FILE PLAYED" if played else "PLAYBACK ERROR"


def loop_playback(call: SimulatedCall, arg: str) -> str:
    """`loop_playback +N <file>` (mod_dptools): the file N times, as many playbacks; a
    terminator or a hangup ends the loop."""
    count, path = 1, arg
    if arg.startswith("+"):
        head, _, path = arg.partition(" ")
        count = int(head[1:]) if head[1:].isdigit() else 1
    result = "FILE PLAYED"
    for _ in range(max(1, count)):
        call.channel.unset_variable("playback_terminator_used")
        result = playback(call, path)
        if result != "FILE PLAYED" or call.channel.variable("playback_terminator_used"):
            break
    return result


def prompt(call: SimulatedCall, arg: str) -> str:
    """speak / say / gentones: media like a playback, but no Application-Response of their own."""
    call.keypad.prompt_started(call.running[0] if call.running else "")
    _listen(call, call.scenario.playback_seconds)
    return "_none_"


def sleep(call: SimulatedCall, arg: str) -> str:
    """`sleep <ms>`; digits pressed meanwhile stay queued for the next app."""
    milliseconds = int(arg) if arg.strip().isdigit() else 0
    call.wait(call.scenario.scaled(milliseconds / 1000))
    return "_none_"


def set_variable(call: SimulatedCall, arg: str) -> str:
    """`set name=value` (`export` too); an empty value unsets the variable, as in FreeSWITCH.
    The value is expanded a second time here (mod_dptools' base_set), after the argument's
    own expansion: what a caller's text must survive."""
    name, _, value = arg.removeprefix("nolocal:").partition("=")
    name = name.strip()
    if name and value:
        call.channel.set_variable(name, expansion(call, value))
    elif name:
        call.channel.unset_variable(name)
    return "_none_"


def export(call: SimulatedCall, arg: str) -> str:
    """`export name=value`: set (and hand to later legs) without a second expansion
    (switch_channel_export_variable_var_check takes the value as it is). `nolocal:name` is for
    the later legs only: the channel holds it under that whole name, not as `name`."""
    name, _, value = arg.partition("=")
    if name.strip() and value:
        call.channel.set_variable(name.strip(), value)
    elif name.strip():
        call.channel.unset_variable(name.strip())
    return "_none_"


def multiset(call: SimulatedCall, arg: str) -> str:
    """`multiset a=1 b=2`, or `multiset ^^<sep>a=1<sep>b=2` with a chosen separator, split as
    FreeSWITCH's switch_separate_string splits it (see `separate`)."""
    items = separate(arg[3:], arg[2]) if arg.startswith("^^") and len(arg) > 2 else arg.split()
    for item in items:
        set_variable(call, item)
    return "_none_"


_UNESCAPED = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def separate(text: str, delim: str) -> list[str]:
    """switch_separate_string with a delimiter other than a space (separate_string_char_delim):
    a backslash keeps the next character from splitting, and a single quote that another one
    follows (anywhere later) opens a quoted run that no delimiter splits; then each item is
    cleaned (cleanup_separated_string): leading spaces dropped, paired quotes removed, `\\'`,
    `\\"`, `\\\\`, an escaped delimiter and `\\n` `\\r` `\\t` `\\s` unescaped, trailing spaces
    outside quotes dropped. So `a='x y'` sets `x y`, and "Pat 'the cat' Smith" loses its quotes."""
    items, start, inside, i = [], 0, False, 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 1
        elif char == "'" and (inside or "'" in text[i + 1:]):
            inside = not inside
        elif char == delim and not inside:
            items.append(text[start:i])
            start = i + 1
        i += 1
    if start < len(text):
        items.append(text[start:])
    return [_cleanup(item, delim) for item in items]


def blank_separated(text: str) -> list[str]:
    """switch_separate_string with a space: a run in single quotes is one item, its quotes
    dropped (`'tts://flite|slt|Hello there'` is one prompt)."""
    return [word.replace("'", "") for word in re.findall(r"(?:'[^']*'|[^ ])+", text)]


def _cleanup(item: str, delim: str) -> str:
    text = item.lstrip(" ")
    out: list[str] = []
    end: int | None = None
    inside, i = False, 0
    while i < len(text):
        char, following = text[i], text[i + 1:i + 2]
        if char == "\\" and following and (following in ("'", '"', delim, "\\") or following in _UNESCAPED):
            out.append(_UNESCAPED.get(following, following) if following not in ("'", '"', delim) else following)
            end = len(out)
            i += 2
            continue
        if char == "'" and (inside or "'" in text[i + 1:]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(char)
            if char != " " or inside:
                end = len(out)
        i += 1
    return "".join(out if end is None else out[:end])


def unset(call: SimulatedCall, arg: str) -> str:
    call.channel.unset_variable(arg.strip())
    return "_none_"


def _collect(call: SimulatedCall, maximum: int, terminators: str, first_wait: float, next_wait: float) -> str:
    """Digits until `maximum`, a terminator, or a timeout (the first digit may take
    `first_wait`, each next one `next_wait`); read_terminator_used names the terminator."""
    digits = ""
    wait = first_wait
    while len(digits) < maximum:
        digit = call.keypad.next_digit(wait)
        if digit is None:
            break
        if digit == BREAK:
            continue
        if digit in terminators:
            call.channel.set_variable("read_terminator_used", digit)
            break
        digits += digit
        wait = next_wait
    return digits


def play_and_get_digits(call: SimulatedCall, arg: str) -> str:
    """`play_and_get_digits MIN MAX TRIES TIMEOUT TERMINATORS FILE INVALID_FILE VAR REGEX
    DIGIT_TIMEOUT`: each try plays FILE (a prompt: the next keypress starts) and collects; valid
    digits (at least MIN, matching REGEX) are stored in VAR, else INVALID_FILE plays and the
    next try starts. read_result is `success` or `failure`. A FILE that cannot be opened (one
    the scenario lists as missing) collects nothing, as FreeSWITCH's switch_ivr_read reads
    digits only once its prompt played: every try fails at once."""
    words = blank_separated(arg)
    minimum, maximum, tries, timeout = (_int(words, i, d) for i, d in ((0, 0), (1, 128), (2, 1), (3, 5000)))
    terminators = words[4] if len(words) > 4 else "#"
    variable = words[7] if len(words) > 7 else "digits"
    regex = words[8] if len(words) > 8 else ""
    next_wait = call.scenario.scaled(_int(words, 9, timeout) / 1000)
    first_wait = call.scenario.playback_seconds + call.scenario.scaled(timeout / 1000)
    call.channel.unset_variable(variable)
    unplayable = _is_missing(call, words[5] if len(words) > 5 else "")
    for _ in range(max(1, tries)):
        digits = ""
        if not unplayable:
            call.keypad.prompt_started("play_and_get_digits")
            digits = _collect(call, maximum, terminators, first_wait, next_wait)
        if call.hungup.is_set():
            break
        if len(digits) >= minimum and (not regex or re.search(regex, digits)):
            call.channel.set_variable(variable, digits)
            call.channel.set_variable("read_result", "success")
            return "_none_"
        call.channel.set_variable(variable + "_invalid", digits)
        if len(words) > 6 and not call.wait(call.scenario.playback_seconds):  # the invalid prompt
            break
    call.channel.set_variable("read_result", "failure")
    return "_none_"


def read(call: SimulatedCall, arg: str) -> str:
    """`read MIN MAX FILE VAR TIMEOUT TERMINATORS [DIGIT_TIMEOUT]`: one prompt, the digits in VAR,
    read_result `success`, `timeout` (nothing pressed) or `failure` (fewer than MIN)."""
    words = arg.split()
    minimum, maximum, timeout = _int(words, 0, 0), _int(words, 1, 128), _int(words, 4, 5000)
    variable = words[3] if len(words) > 3 else "digits"
    terminators = words[5] if len(words) > 5 else "#"
    next_wait = call.scenario.scaled(_int(words, 6, timeout) / 1000)
    digits = ""
    if not _is_missing(call, words[2] if len(words) > 2 else ""):  # (as play_and_get_digits)
        call.keypad.prompt_started("read")
        first_wait = call.scenario.playback_seconds + call.scenario.scaled(timeout / 1000)
        digits = _collect(call, maximum, terminators, first_wait, next_wait)
    call.channel.set_variable(variable, digits)
    result = "success" if digits and len(digits) >= minimum else "timeout" if not digits else "failure"
    call.channel.set_variable("read_result", result)
    return "_none_"


def _int(words: list[str], index: int, default: int) -> int:
    return int(words[index]) if len(words) > index and words[index].isdigit() else default


def hangup(call: SimulatedCall, arg: str) -> str:
    call.hangup(arg.strip() or "NORMAL_CLEARING")
    return "_none_"


def respond(call: SimulatedCall, arg: str) -> str:
    """`respond <code> [reason]`: 4xx-6xx end the call with the matching cause, 183 is early
    media, 180 ringing, 200 an answer."""
    code = arg.split(maxsplit=1)[0] if arg.split() else "500"
    if code.startswith(("4", "5", "6")):
        call.hangup(RESPOND_CAUSES.get(code, "NORMAL_CLEARING"))
    elif code == "183":
        pre_answer(call, "")
    elif code == "180":
        call.emit("CHANNEL_PROGRESS")
    elif code == "200":
        call.answer()
    return "_none_"


def record(call: SimulatedCall, arg: str) -> str:
    """`record PATH [LIMIT_SECS ...]`: RECORD_START, then the caller talks `record_seconds`
    (cut by the limit, a terminator or the hangup), record_ms / record_seconds set, RECORD_STOP,
    and PATH written as a WAV of that length. As FreeSWITCH (switch_ivr_record_file): a folder
    that does not exist is not created; the file cannot be opened, so nothing is recorded, no
    RECORD_* event or record_ms is set, and the caller is hung up with DESTINATION_OUT_OF_ORDER."""
    words = arg.split()
    path = words[0] if words else ""
    if not os.path.isdir(os.path.dirname(path) or "."):
        call.hangup("DESTINATION_OUT_OF_ORDER")
        return "_none_"
    limit = call.scenario.scaled(float(words[1])) if len(words) > 1 and words[1].isdigit() else float("inf")
    call.emit("RECORD_START", (("Record-File-Path", path),))
    started = time.monotonic()
    _listen(call, min(limit, call.scenario.record_seconds))
    seconds = min(time.monotonic() - started, limit, call.scenario.record_seconds)
    call.channel.set_variable("record_seconds", str(int(seconds)))
    call.channel.set_variable("record_ms", str(int(seconds * 1000)))
    call.record.recordings.append((path, seconds))
    _write_silence(path, seconds)
    call.emit("RECORD_STOP", (("Record-File-Path", path),))
    return "_none_"


def _write_silence(path: str, seconds: float, rate: int = 8000) -> None:
    """What FreeSWITCH leaves for a caller who said nothing: 16-bit mono PCM at the call's rate."""
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))


def mkdir(call: SimulatedCall, arg: str) -> str:
    """mod_dptools' `mkdir PATH`: the folder and its parents (switch_dir_make_recursive)."""
    if arg.strip():
        with contextlib.suppress(OSError):  # FreeSWITCH only logs it; `record` then fails
            os.makedirs(arg.strip(), exist_ok=True)
    return "_none_"


def generic(call: SimulatedCall, arg: str) -> str:
    """Any other application: EXECUTE then EXECUTE_COMPLETE with `_none_`."""
    return "_none_"


APPS: dict[str, App] = {
    "answer": answer, "pre_answer": pre_answer, "playback": playback, "loop_playback": loop_playback,
    "speak": prompt, "say": prompt,
    "gentones": prompt, "sleep": sleep, "set": set_variable, "export": export, "unset": unset,
    "multiset": multiset, "play_and_get_digits": play_and_get_digits, "read": read,
    "bridge": bridging.bridge, "hangup": hangup, "respond": respond, "record": record, "mkdir": mkdir,
    "valet_park": valet.valet_park, "conference": conferences.conference, "callcenter": call_center.callcenter,
    "intercept": switchboard.intercept, "eavesdrop": switchboard.eavesdrop, "rxfax": fax.rxfax,
}


def expansion(call: SimulatedCall, text: str) -> str:
    """FreeSWITCH's variable expansion on this channel; API commands it would run are recorded
    (and answer nothing)."""
    return expand(text, call.channel.lookup, call.record.api_called)


def run(call: SimulatedCall, app: str, arg: str) -> str:
    """The application with its argument expanded first, as switch_core_session_exec does."""
    return APPS.get(app, generic)(call, expansion(call, arg))
