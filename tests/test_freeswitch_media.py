"""Media modules through a real FreeSWITCH: text spoken by mod_flite (`tts`), and a call recorded
to a file (`record_call`). The caller is then put through to Ben's phone, which answers: a
bridged call, so no email.
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import datetime
import shutil
import time
import wave
from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    ALERT_ALICE,
    BEN,
    DID,
    executed,
    finish,
    mail,
    mailbox,
    main_number,
    node,
    office,
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]

GREETING = "Thank you for calling. Please hold."


def logged_at(fs: FreeSwitch, mark: int, text: str) -> datetime.datetime:
    """When freeswitch.log first shows `text` since `mark` (`[<uuid> ]YYYY-MM-DD HH:MM:SS.ffffff ...`)."""
    line = next(line for line in fs.log_since(mark) if text in line)
    words = line.split()
    start = next(i for i, word in enumerate(words) if len(word) == 10 and word[4] == "-" and word[7] == "-")
    return datetime.datetime.fromisoformat(f"{words[start]} {words[start + 1]}")


def test_a_tts_node_speaks_with_flite_before_the_call_is_put_through(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    ring = node("user", {"id": BEN["id"], "timeout": 10})
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=node("tts", {"text": GREETING}, _=ring)))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_answer.xml", "-d", "300")
    caller = sipp.call(DID, "-d", "5000")  # on the line while the greeting is said, then put through
    finish(fs, caller, phone)
    [speak] = executed(fs, mark, "speak")
    assert f"speak(flite|slt|{GREETING})" in speak
    # switch_ivr_speak_text: flite opened, then its speech streamed to the caller in real time
    spoken = logged_at(fs, mark, "done speaking text") - logged_at(fs, mark, "OPEN TTS flite")
    assert 1.0 < spoken.total_seconds() < 5.0, spoken
    assert phone.received()[-1].startswith("BYE ")
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


def test_record_call_writes_the_calls_audio_to_a_file(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    recording = fs.recordings_dir / ACCOUNT_ID / "fs-test-call.wav"
    if recording.parent.exists():
        shutil.rmtree(recording.parent)  # record_session makes the account's folder again
    ring = node("user", {"id": BEN["id"], "timeout": 10})
    record = node("record_call", {"action": "start", "format": "wav", "media_name": recording.name}, _=ring)
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=record))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_answer.xml", "-d", "500")
    caller = sipp.call(DID, "-d", "3000", "-set", "audio", "yes")
    finish(fs, caller, phone)
    [started] = executed(fs, mark, "record_session")
    assert f"record_session({recording} +3600)" in started  # the account's own folder
    with wave.open(str(recording)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert 2.0 < seconds < 4.5, seconds  # about the 3 s the caller was on the line
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


def test_play_with_loop_count_plays_the_media_that_many_times(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis,
) -> None:
    tone = "tone_stream://%(400,0,440)"
    main_number(rds, node("play", {"id": tone, "loop_count": 3}, _=node("hangup", {})))
    mark = fs.mark()
    started = time.monotonic()
    caller = sipp.call(DID, "-d", "10000")  # until FreeSWITCH hangs up, after the third tone
    finish(fs, caller)
    took = time.monotonic() - started
    [looped] = executed(fs, mark, "loop_playback")
    assert f"loop_playback(+3 {tone})" in looped
    assert 1.2 <= took < 8.0, took  # three 400 ms tones, not one, then the flow's hangup
    assert fs.errors_since(mark) == []


def test_an_endless_tts_node_speaks_until_the_caller_hangs_up(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis,
) -> None:
    """FreeSWITCH's tts:// file format under endless_playback: the short text is said again and
    again (a text it could not speak would end the playback, the flow, and the call at once)."""
    main_number(rds, node("tts", {"text": "Please hold.", "endless_playback": True}))
    mark = fs.mark()
    started = time.monotonic()
    caller = sipp.call(DID, "-d", "4000")
    finish(fs, caller)
    took = time.monotonic() - started
    [endless] = executed(fs, mark, "endless_playback")
    assert "endless_playback(tts://flite|slt|Please hold.)" in endless
    assert took >= 3.5, took  # the caller's own hangup ended it
    assert fs.errors_since(mark) == []
