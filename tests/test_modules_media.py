"""tts, say, collect_dtmf and record_call through the real server with the simulator."""

import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.scenario import Keypress
from tests.office import ACCOUNT, call, flow, load, node


def test_tts_speaks_with_the_engine_and_voice(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(
        rds,
        flow("300", node("tts", {"text": "Welcome\nto the office", "voice": "male", "terminators": ["#"]})),
        flow("301", node("tts", {"text": "Hola", "engine": "ispeech", "voice": "Diego", "language": "es-ES"})),
    )
    first = call(esl_server, "300")
    assert first.apps[0] == ("answer", "")
    assert "playback_terminators=#" in first.args_of("multiset")[0]
    assert first.args_of("speak") == ["flite|kal|Welcome to the office"]
    second = call(esl_server, "301")
    assert second.args_of("speak") == ["ispeech|Diego|Hola"]
    assert "tts_language=es-ES" in second.args_of("multiset")[0]


def test_say_builds_mod_say_arguments(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(
        rds,
        flow("302", node("say", {"text": "1234", "say_type": "number", "method": "iterated"})),
        flow("303", node("say", {"text": "5", "say_type": "items", "language": "es", "gender": "feminine"})),
        flow("304", node("say", {"text": "a@b.c", "say_type": "e-mail_address"})),
    )
    assert call(esl_server, "302").args_of("say") == ["en NUMBER ITERATED 1234"]
    assert call(esl_server, "303").args_of("say") == ["es:feminine ITEMS PRONOUNCED 5"]
    assert call(esl_server, "304").args_of("say") == ["en E_MAIL_ADDRESS PRONOUNCED a@b.c"]


def test_collect_dtmf_keeps_the_digits_for_later_modules(rds: redis.Redis, esl_server: OutboundServer) -> None:
    collect = node("collect_dtmf", {"collection_name": "account", "max_digits": 6, "terminators": ["*"]},
                   _=node("play", {"id": "/media/thanks.wav"}))
    load(rds, flow("305", collect))
    record = call(esl_server, "305", keypresses=(Keypress("4711*9"),), time_scale=0.01)
    words = record.args_of("play_and_get_digits")[0].split()
    assert words[1] == "6" and words[4] == "*" and words[7] == "collected_digits_account"
    assert ("playback", "/media/thanks.wav") in record.apps


def test_collect_dtmf_times_out_with_nothing(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("306", node("collect_dtmf", {}, _=node("play", {"id": "/media/next.wav"}))))
    record = call(esl_server, "306", time_scale=0.001)
    assert record.app_names() == ["play_and_get_digits", "answer", "multiset", "playback", "hangup"]


def test_record_call_starts_and_stops_its_recording(
    rds: redis.Redis, esl_server: OutboundServer, settings: config.Settings,
) -> None:
    start = {"action": "start", "format": "wav", "time_limit": 60, "record_on_answer": True, "record_min_sec": 2}
    chain = node("record_call", start,
                 _=node("play", {"id": "/media/talk.wav"}, _=node("record_call", {"action": "stop"})))
    load(rds, flow("307", chain))
    record = call(esl_server, "307")
    folder = f"{settings.recordings_dir}/{ACCOUNT}"
    path = f"{folder}/call_recording_{record.uuid}.wav"
    assert record.args_of("record_session") == [f"{path} +60"]
    settings = record.args_of("multiset")[0]
    assert "RECORD_ANSWER_REQ=true" in settings and "RECORD_MIN_SEC=2" in settings
    assert record.args_of("stop_record_session") == [path]


def test_record_call_uploads_through_http_cache(rds: redis.Redis, esl_server: OutboundServer) -> None:
    data = {"action": "start", "media_name": "rec_{call_id}", "url": "https://203.0.113.8/calls/"}
    load(rds, flow("308", node("record_call", data)), flow("309", node("record_call", {"action": "stop"})))
    record = call(esl_server, "308")
    assert record.args_of("record_session") == [
        f"http_cache://https://203.0.113.8/calls/rec_{record.uuid}.mp3 +3600"
    ]
    assert call(esl_server, "309").args_of("stop_record_session") == ["all"]


def test_record_call_can_wait_for_the_bridge(rds: redis.Redis, esl_server: OutboundServer) -> None:
    data = {"action": "start", "record_on_bridge": True, "record_sample_rate": 16000}
    load(rds, flow("310", node("record_call", data)))
    settings = call(esl_server, "310").args_of("multiset")[0]
    assert "RECORD_BRIDGE_REQ=true" in settings and "RECORD_ANSWER_REQ=false" in settings
    assert "record_sample_rate=16000" in settings
