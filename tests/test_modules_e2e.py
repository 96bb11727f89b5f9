"""The core modules' finer options through the real ESL server and the FreeSWITCH simulator
(the basic path of each module is in test_modules_core.py)."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.store import keys
from tests.office import ACCOUNT, call, flow, load, node

BUSY = (BridgeOutcome("busy"),)


def test_bridge_raises_call_timeout_to_the_slowest_leg_in_the_same_multiset(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, flow("201", node("user", {"id": "u-bob", "timeout": 70, "delay": 5})))
    record = call(esl_server, "201", bridges=BUSY)
    setup = record.args_of("multiset")[0]
    assert "call_timeout=75" in setup and "continue_on_fail=true" in setup
    assert record.app_names()[:2] == ["multiset", "bridge"]


def test_fail_on_single_reject_goes_into_the_dial_string(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("202", node("user", {"id": "u-ann", "timeout": 1, "fail_on_single_reject": True})))
    dial = call(esl_server, "202", bridges=BUSY).args_of("bridge")[0]
    assert dial.startswith("{fail_on_single_reject=true}[leg_timeout=1]user/1001@office.test,")


def test_deleted_user_device_or_callflow_and_a_disabled_device_continue_to_the_default_child(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    after = node("play", {"id": "/after.wav", "answer": False})
    load(
        rds,
        flow("203", node("user", {"id": "u-bob"}, _=after)),
        flow("204", node("device", {"id": "d-bob"}, _=after)),
        flow("205", node("callflow", {"id": "shared"}, _=after)),
        flow("209", node("device", {"id": "d-ann-off"}, _=after)),
        flow("299", node("answer"), cid="shared"),
    )
    # deleted after the callflows were loaded (as the API may do)
    rds.hdel(keys.docs(ACCOUNT, "users"), "u-bob")
    rds.hdel(keys.docs(ACCOUNT, "devices"), "d-bob")
    rds.hdel(keys.docs(ACCOUNT, "callflows"), "shared")
    for number in ("203", "204", "205", "209"):
        record = call(esl_server, number)
        assert record.app_names()[:2] == ["multiset", "playback"], number
        assert record.args_of("playback") == ["/after.wav"]


def test_set_variables_can_export_to_bridged_legs(rds: redis.Redis, esl_server: OutboundServer) -> None:
    data: dict[str, Any] = {"custom_channel_vars": {"team": "sales", "vip": True}, "export": True}
    load(rds, flow("206", node("set_variables", data)))
    record = call(esl_server, "206")
    assert record.args_of("export") == ["ecallmgr_team=sales", "ecallmgr_vip=true"]
    assert "multiset" not in record.app_names()


def test_prepend_cid_builds_on_set_cid_when_applied_to_current_and_reset_unsets(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    chain = node(
        "set_cid", {"caller_id_name": "Main Line"},
        _=node("prepend_cid", {"caller_id_name_prefix": "VIP ", "apply_to": "current"},
               _=node("prepend_cid", {"action": "reset"})),
    )
    load(rds, flow("207", chain))
    multisets = call(esl_server, "207", caller_name="Ann").args_of("multiset")
    assert "effective_caller_id_name=Main Line" in multisets[0]
    assert "effective_caller_id_name=VIP Main Line" in multisets[1]
    assert "effective_caller_id_name=\x1feffective_caller_id_number=" in multisets[2]


def test_sleep_in_seconds_and_a_response_without_media(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("208", node("sleep", {"duration": 0.05}, _=node("response", {"code": 603}))))
    record = call(esl_server, "208")
    assert record.apps[:2] == [("sleep", "50"), ("respond", "603")]
    assert record.hangup_cause == "CALL_REJECTED"
