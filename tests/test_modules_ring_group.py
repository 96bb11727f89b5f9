"""ring_group through the real server with the simulator as FreeSWITCH."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from tests.office import call, flow, load, node

NO_ANSWER = BridgeOutcome("no_answer", timeout=0.01)


def group(endpoints: list[dict[str, Any]], **data: Any) -> dict[str, Any]:
    return node("ring_group", {"endpoints": endpoints, **data}, _=node("play", {"id": "/media/vm.wav"}))


def test_simultaneous_rings_users_and_devices_with_their_timing(rds: redis.Redis, esl_server: OutboundServer) -> None:
    endpoints = [{"id": "u-ann", "endpoint_type": "user", "delay": 5, "timeout": 15},
                 {"id": "d-bob", "endpoint_type": "device"}]
    load(rds, flow("500", group(endpoints, timeout=30)))
    record = call(esl_server, "500", bridges=(NO_ANSWER,))
    assert record.args_of("bridge") == [
        "[leg_timeout=15,leg_delay_start=5]user/1001@office.test,"
        "[leg_timeout=15,leg_delay_start=5]sofia/lab/1009@192.0.2.10:5060,"
        "[leg_timeout=20]user/1002@office.test"
    ]
    assert "call_timeout=30" in record.args_of("multiset")[0]
    assert ("playback", "/media/vm.wav") in record.apps  # failed: `_`


def test_single_strategy_rings_one_after_another(rds: redis.Redis, esl_server: OutboundServer) -> None:
    endpoints = [{"id": "d-bob", "endpoint_type": "device", "timeout": 5},
                 {"id": "d-ann", "endpoint_type": "device", "timeout": 7}]
    load(rds, flow("501", group(endpoints, strategy="single")))
    record = call(esl_server, "501", bridges=(NO_ANSWER,))
    assert record.args_of("bridge") == ["[leg_timeout=5]user/1002@office.test|[leg_timeout=7]user/1001@office.test"]


def test_groups_expand_and_a_device_rings_once(rds: redis.Redis, esl_server: OutboundServer) -> None:
    endpoints = [{"id": "g-sales", "endpoint_type": "group", "timeout": 10},
                 {"id": "d-bob", "endpoint_type": "device"}]
    load(rds, flow("502", group(endpoints)))
    dial = call(esl_server, "502", bridges=(NO_ANSWER,)).args_of("bridge")[0]
    assert dial.count("user/1002@office.test") == 1
    assert dial.split(",")[0] == "[leg_timeout=10]user/1002@office.test"  # group members sorted by id
    assert "user/1001@office.test" in dial


def test_repeats_ring_the_group_again_then_fail_over(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("503", group([{"id": "d-bob", "endpoint_type": "device"}], repeats=3)))
    record = call(esl_server, "503", bridges=(NO_ANSWER, NO_ANSWER, NO_ANSWER))
    assert len(record.args_of("bridge")) == 3
    assert ("playback", "/media/vm.wav") in record.apps


def test_an_answer_ends_the_repeats(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("504", group([{"id": "d-bob", "endpoint_type": "device"}], repeats=3)))
    record = call(esl_server, "504", bridges=(NO_ANSWER, BridgeOutcome("answered")))
    assert len(record.args_of("bridge")) == 2
    assert "playback" not in record.app_names()


def test_a_forwarded_member_rings_at_the_forward_number_beside_the_phone(
    rds: redis.Redis, esl_server: OutboundServer,
) -> None:
    """Cat forwards without `substitute`: both ring (tests/test_modules_forwarding.py: the rest)."""
    load(rds, flow("505", group([{"id": "u-cat", "endpoint_type": "user"}])))
    [dial] = call(esl_server, "505", bridges=(NO_ANSWER,)).args_of("bridge")
    forward, phone = dial.split("]loopback/")[1].split(",", 1)
    assert forward == "+15557770000/controller"
    assert phone == "[leg_timeout=20]user/1003@office.test"


def test_nothing_to_ring_continues_at_once(rds: redis.Redis, esl_server: OutboundServer) -> None:
    endpoints = [{"id": "u-nobody", "endpoint_type": "user"}, {"id": "d-ann-off", "endpoint_type": "device"},
                 {"id": "missing", "endpoint_type": "group"}]
    load(rds, flow("507", group(endpoints)))
    record = call(esl_server, "507")
    assert "bridge" not in record.app_names()
    assert ("playback", "/media/vm.wav") in record.apps


def test_a_busy_member_takes_the_busy_child(rds: redis.Redis, esl_server: OutboundServer) -> None:
    data = {"endpoints": [{"id": "d-bob", "endpoint_type": "device"}]}
    load(rds, flow("508", node("ring_group", data, USER_BUSY=node("play", {"id": "/media/busy.wav"}))))
    record = call(esl_server, "508", bridges=(BridgeOutcome("busy"),))
    assert ("playback", "/media/busy.wav") in record.apps


def test_fail_on_single_reject_and_ringback(rds: redis.Redis, esl_server: OutboundServer) -> None:
    data = {"endpoints": [{"id": "d-bob", "endpoint_type": "device"}], "fail_on_single_reject": True,
            "ringback": "%(2000,4000,440,480)"}
    load(rds, flow("509", node("ring_group", data)))
    record = call(esl_server, "509", bridges=(NO_ANSWER,))
    assert record.args_of("bridge")[0].startswith("{fail_on_single_reject=true}[leg_timeout=20]user/1002")
    assert "ringback=%(2000,4000,440,480)" in record.args_of("multiset")[0]
