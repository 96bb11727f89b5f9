"""Each core module through the real ESL server, driven by the FreeSWITCH simulator."""

import time
from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from tests.office import call, flow, load, node


def test_answer_then_the_flow_ends_with_a_hangup(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("100", node("answer")))
    record = call(esl_server, "100")
    assert record.app_names() == ["answer", "hangup"]
    assert record.args_of("hangup") == ["NORMAL_CLEARING"]
    assert [c.split()[0] for c, _ in record.commands[:4]] == ["connect", "myevents", "nixevent", "linger"]
    assert "CHANNEL_EXECUTE" not in record.events and "CHANNEL_EXECUTE_COMPLETE" in record.events


def test_play_answers_first_unless_told_not_to(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(
        rds,
        flow("101", node("play", {"id": "/media/hello.wav"})),
        flow("102", node("play", {"id": "tone_stream://%(100,0,440)", "answer": False})),
        flow("103", node("play", {"id": "https://203.0.113.7/a.mp3", "terminators": ["#"]})),
    )
    assert call(esl_server, "101").apps[:3] == [
        ("answer", ""), ("multiset", "^^\x1fplayback_terminators=1234567890*#"), ("playback", "/media/hello.wav")
    ]
    assert call(esl_server, "102").app_names()[:2] == ["multiset", "playback"]
    third = call(esl_server, "103")
    assert ("playback", "http_cache://https://203.0.113.7/a.mp3") in third.apps
    assert any("playback_terminators=#" in arg for arg in third.args_of("multiset"))


def test_sleep_set_variables_and_cid_modules(rds: redis.Redis, esl_server: OutboundServer) -> None:
    chain = node(
        "sleep", {"duration": 20, "unit": "ms"},
        _=node("set_variables", {"custom_channel_vars": {"team": "sales", "vip": True}},
               _=node("set_cid", {"caller_id_name": "Sales Line", "caller_id_number": "+15550000000"},
                      _=node("prepend_cid", {"caller_id_name_prefix": "Sales: ", "apply_to": "original"}))),
    )
    load(rds, flow("104", chain))
    record = call(esl_server, "104", caller_name="${system(reboot)}")
    assert record.apps[0] == ("sleep", "20")
    multisets = record.args_of("multiset")
    assert "ecallmgr_team=sales" in multisets[0] and "ecallmgr_vip=true" in multisets[0]
    assert "effective_caller_id_name=Sales Line" in multisets[1]
    # prepend_cid (apply_to original) prefixes the caller's own name, made inert: no `$` left
    # for FreeSWITCH's expansions (the argument's, then multiset's own) to act on.
    assert "effective_caller_id_name=Sales: \uff04{system(reboot)}" in multisets[2]
    assert all("$" not in arg for _, arg in record.apps)
    assert record.api_calls == []


def test_response_sends_a_sip_code_with_early_media(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("105", node("response", {"code": 486, "message": "Busy Here", "media": "/media/busy.wav"})))
    record = call(esl_server, "105")
    assert record.app_names() == ["pre_answer", "playback", "respond"]
    assert record.args_of("respond") == ["486 Busy Here"]
    assert record.hangup_cause == "USER_BUSY"


def test_hangup_uses_its_cause(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("106", node("hangup", {"hangup_cause": "CALL_REJECTED"})))
    record = call(esl_server, "106")
    assert record.app_names() == ["hangup"]
    assert record.hangup_cause == "CALL_REJECTED"


def test_user_rings_enabled_devices_with_timeout_and_delay(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("107", node("user", {"id": "u-ann", "timeout": 1, "delay": 2})))
    record = call(esl_server, "107", bridges=(BridgeOutcome("no_answer", timeout=0.05),))
    dial = record.args_of("bridge")[0]
    assert dial == (
        "[leg_timeout=1,leg_delay_start=2]user/1001@office.test,"
        "[leg_timeout=1,leg_delay_start=2]sofia/lab/1009@192.0.2.10:5060"
    )
    assert "continue_on_fail=true" in record.args_of("multiset")[0]
    assert "hangup_after_bridge=true" in record.args_of("multiset")[0]
    # the failed bridge's cause ends the call: NO_ANSWER, as the controller's call_timeout ends it
    assert record.args_of("hangup") == ["NO_ANSWER"]


def test_user_single_strategy_rings_one_after_another(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("108", node("user", {"id": "u-ann", "strategy": "single", "timeout": 1})))
    record = call(esl_server, "108", bridges=(BridgeOutcome("busy"),))
    assert "|" in record.args_of("bridge")[0]


def test_answered_user_stops_the_flow(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("109", node("user", {"id": "u-bob"}, _=node("play", {"id": "/never.wav"}))))
    record = call(esl_server, "109", bridges=(BridgeOutcome("answered", talk=0.02),))
    assert "playback" not in record.app_names()
    assert "CHANNEL_BRIDGE" in record.events


def test_failed_bridge_takes_the_child_named_after_the_cause(rds: redis.Redis, esl_server: OutboundServer) -> None:
    children: dict[str, Any] = {
        "USER_BUSY": node("play", {"id": "/busy.wav"}),
        "NO_ANSWER": node("play", {"id": "/noanswer.wav"}),
        "503": node("play", {"id": "/down.wav"}),
        "_": node("play", {"id": "/default.wav"}),
    }
    load(rds, flow("110", node("user", {"id": "u-bob", "timeout": 1}, **children)))
    assert "/busy.wav" in call(esl_server, "110", bridges=(BridgeOutcome("busy"),)).args_of("playback")
    no_answer = call(esl_server, "110", bridges=(BridgeOutcome("no_answer", timeout=0.05),))
    assert "/noanswer.wav" in no_answer.args_of("playback")  # ALLOTTED_TIMEOUT is Kazoo's NO_ANSWER
    unreachable = call(esl_server, "110", bridges=(BridgeOutcome("unreachable"),))
    assert "/down.wav" in unreachable.args_of("playback")  # NORMAL_TEMPORARY_FAILURE: then SIP 503


def test_user_without_devices_continues_at_once(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("111", node("user", {"id": "u-nobody"}, _=node("play", {"id": "/vm.wav"}))))
    record = call(esl_server, "111")
    assert "bridge" not in record.app_names()
    assert "/vm.wav" in record.args_of("playback")


def test_internal_caller_does_not_ring_its_own_device(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("112", node("user", {"id": "u-ann", "timeout": 1})))
    record = call(esl_server, "112", internal_user="1001", bridges=(BridgeOutcome("busy"),))
    assert record.args_of("bridge") == ["[leg_timeout=1]sofia/lab/1009@192.0.2.10:5060"]


def test_device_rings_one_device(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("113", node("device", {"id": "d-bob", "timeout": 3})))
    record = call(esl_server, "113", bridges=(BridgeOutcome("busy"),))
    assert record.args_of("bridge") == ["[leg_timeout=3]user/1002@office.test"]


def test_callflow_branches_and_resumes_the_parent(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(
        rds,
        flow("114", node("callflow", {"id": "shared"}, _=node("play", {"id": "/after.wav", "answer": False}))),
        flow("115", node("play", {"id": "/shared.wav", "answer": False}), cid="shared"),
    )
    assert call(esl_server, "114").args_of("playback") == ["/shared.wav", "/after.wav"]


def test_play_loop_count_runs_loop_playback_and_a_key_ends_the_loop(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, flow("120", node("play", {"id": "/media/hold.wav", "loop_count": 50}, _=node("hangup", {}))))
    quiet = call(esl_server, "120", playback_seconds=0.01)
    assert ("loop_playback", "+50 /media/hold.wav") in quiet.apps
    started = time.monotonic()
    pressed = call(esl_server, "120", playback_seconds=0.2, dtmf="5")  # any key stops it, as in Kazoo
    assert time.monotonic() - started < 5  # not 50 x 0.2 s
    assert pressed.app_names()[-1] == "hangup"
