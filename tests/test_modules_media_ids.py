"""Kazoo media ids in `play`, menu prompts and voicemail greetings, through the real server with
the simulator: resolved at call time to the stored file's path (or, for a spoken media, its text),
and a media id that names nothing logged and skipped while the call goes on."""

import logging
from typing import Any

import pytest
import redis

from controller.config import Settings
from controller.esl.server import OutboundServer
from controller.lab.scenario import Keypress
from controller.store.media import media_root
from tests.office import ACCOUNT, call, flow, load, node

WELCOME = "5f1c0e9a8b7d4c3e2f1a0b9c8d7e6f5a"  # Kazoo's ids: 32 hex digits
HOLD = "hold-music"
SPOKEN = "3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f"
MEDIA = [
    {"id": WELCOME, "name": "Welcome", "media_source": "upload", "content_type": "audio/wav", "content_length": 3200},
    {"id": HOLD, "name": "Hold music", "content_type": "audio/mpeg", "content_length": 9000},
    {"id": SPOKEN, "name": "Spoken", "media_source": "tts",
     "tts": {"text": "Welcome to ${system(id)} \\'s office", "voice": "male/en-US"}},
    {"id": "not-uploaded", "name": "Nothing yet"},
]
FAST = 0.05


def stored(settings: Settings, media_id: str, extension: str = "wav") -> str:
    return f"{media_root(settings)}/{ACCOUNT}/{media_id}.{extension}"


def play(ref: str, **children: dict[str, Any]) -> dict[str, Any]:
    return node("play", {"id": ref}, **children)


def test_play_resolves_a_media_id_in_both_of_kazoos_forms_to_the_stored_file(
    rds: redis.Redis, esl_server: OutboundServer, settings: Settings
) -> None:
    load(rds, flow("100", play(WELCOME, _=play(f"/{ACCOUNT}/{HOLD}", _=play("tone_stream://%(100,0,440)")))),
         media=MEDIA)
    record = call(esl_server, "100")
    assert record.args_of("playback") == [stored(settings, WELCOME), stored(settings, HOLD, "mp3"),
                                          "tone_stream://%(100,0,440)"]


def test_file_paths_and_another_accounts_media_path_stay_paths(
    rds: redis.Redis, esl_server: OutboundServer, settings: Settings
) -> None:
    load(rds, flow("101", play("/media/hello.wav", _=play(f"/other-account/{WELCOME}"))), media=MEDIA)
    assert call(esl_server, "101").args_of("playback") == ["/media/hello.wav", f"/other-account/{WELCOME}"]


def test_a_missing_media_is_logged_and_skipped_and_the_call_goes_on(
    rds: redis.Redis, esl_server: OutboundServer, caplog: pytest.LogCaptureFixture
) -> None:
    load(rds, flow("102", play("0123456789abcdef0123456789abcdef", _=play("not-uploaded", _=play("/media/next.wav")))),
         media=MEDIA)
    with caplog.at_level(logging.WARNING, logger="controller.modules.media_refs"):
        record = call(esl_server, "102")
    assert record.args_of("playback") == ["/media/next.wav"]
    assert record.app_names()[-1] == "hangup"
    logged = [r.getMessage() for r in caplog.records]
    assert any("no media '0123456789abcdef0123456789abcdef' in the account" in line for line in logged)
    assert any("media 'not-uploaded' has no audio to play" in line for line in logged)


def test_a_spoken_media_is_said_by_flite_and_its_text_cannot_reach_the_expander(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, flow("103", play(SPOKEN)), media=MEDIA)
    [spoken] = call(esl_server, "103").args_of("playback")
    assert spoken == "tts://flite|kal|Welcome to \uff04{system(id)} \uff3c\u2019s office"


def test_a_menu_plays_its_media_id_greeting_and_prompts(
    rds: redis.Redis, esl_server: OutboundServer, settings: Settings
) -> None:
    menu = {"id": "m-main", "name": "Main", "retries": 1, "hunt": False,
            "media": {"greeting": WELCOME, "invalid_media": HOLD, "exit_media": "missing-media"}}
    load(rds, flow("104", node("menu", {"id": "m-main"}, **{"1": play("/media/one.wav")})), menus=[menu], media=MEDIA)
    record = call(esl_server, "104", keypresses=(Keypress("9", on="play_and_get_digits"),), time_scale=FAST)
    assert record.args_of("play_and_get_digits")[0].split()[5] == stored(settings, WELCOME)
    assert record.args_of("playback") == [stored(settings, HOLD, "mp3")]  # the missing exit_media: none


def test_a_menu_says_a_spoken_media_greeting(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("105", node("menu", {"retries": 1, "media": {"greeting": f"/{ACCOUNT}/{SPOKEN}"}},
                               **{"1": play("/media/one.wav")})), media=MEDIA)
    record = call(esl_server, "105", keypresses=(Keypress("1", on="play_and_get_digits"),), time_scale=FAST)
    assert "'tts://flite|kal|Welcome to \uff04{system(id)} \uff3c\u2019s office'" in (
        record.args_of("play_and_get_digits")[0])
    assert record.args_of("playback") == ["/media/one.wav"]


def test_a_voicemail_box_greets_with_its_media_id_greeting(
    rds: redis.Redis, esl_server: OutboundServer, settings: Settings
) -> None:
    boxes = [{"id": "vm-ann", "mailbox": "1001", "media": {"unavailable": WELCOME}},
             {"id": "vm-bob", "mailbox": "1002", "media": {"unavailable": "deleted-greeting"}}]
    load(rds, flow("106", node("voicemail", {"id": "vm-ann"})), flow("107", node("voicemail", {"id": "vm-bob"})),
         vmboxes=boxes, media=MEDIA)
    assert call(esl_server, "106", record_seconds=0.01).apps[2] == ("playback", stored(settings, WELCOME))
    missing = call(esl_server, "107", record_seconds=0.01)
    assert missing.apps[2] == ("playback", "voicemail/vm-person.wav")  # the built-in greeting instead
