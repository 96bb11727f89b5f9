"""The `park` module through the real server, the simulator playing mod_valet_parking: slots from
the feature code's capture group, retrieval from another call, Kazoo's prompts, automatic slots,
and the ringback to the phone that parked the call."""

from typing import Any

import gevent
import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.lab.simulator import CallRecord
from controller.lab.valet import Lots
from tests.office import ACCOUNT, call, load, node

LOT = f"park_{ACCOUNT}"
FAST = 0.01


def feature(code: str, action: str, **data: Any) -> dict[str, Any]:
    """A `*3`-style feature code: `*3<slot>` (or `*3` alone) runs park with `action`."""
    return {"id": f"cf-park-{action}", "patterns": [rf"^\{code}(\d*)$"],
            "flow": node("park", {"action": action, **data}, **data.pop("children", {}))}


def load_codes(rds: redis.Redis, **park: Any) -> None:
    load(rds, feature("*3", "park", **park), feature("*4", "retrieve"), feature("*5", "auto"))


def parked_then(server: OutboundServer, first: str, second: str, **later: Any) -> tuple[CallRecord, CallRecord]:
    """A call dialling `first` parks; once it holds its slot another dials `second`."""
    lots = Lots()
    parker = gevent.spawn(call, server, first, lots=lots, hangup_after=5.0, time_scale=FAST)
    for _ in range(200):
        if lots.info(LOT).count("<extension"):
            break
        gevent.sleep(0.01)
    other = call(server, second, lots=lots, **{"hangup_after": 0.3, **later})
    return parker.get(timeout=10), other


def test_a_call_parks_in_the_slot_of_the_capture_group(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_codes(rds)
    record = call(esl_server, "*3105", hangup_after=0.2)
    assert ("valet_park", f"{LOT} 105") in record.apps
    assert "say" not in record.app_names()  # a slot the caller chose is not read back


def test_a_parked_call_is_retrieved_from_another_phone(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_codes(rds)
    parked, retriever = parked_then(esl_server, "*3101", "*4101")
    assert ("valet_park", f"{LOT} 101") in retriever.apps
    assert "CHANNEL_BRIDGE" in parked.events
    assert parked.hangup_cause == "NORMAL_CLEARING" and parked.closed_by != "timeout"
    assert parked.app_names().count("valet_park") == 1  # not parked again once bridged


def test_auto_retrieves_a_held_slot_and_parks_in_a_free_one(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_codes(rds)
    parked, retriever = parked_then(esl_server, "*5102", "*5102")
    assert "CHANNEL_BRIDGE" in parked.events
    assert retriever.app_names().count("valet_park") == 1


def test_retrieving_an_empty_slot_says_so(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_codes(rds)
    record = call(esl_server, "*4101")
    assert record.args_of("playback") == ["park/park-no_caller.wav"]
    assert "valet_park" not in record.app_names()


def test_parking_in_a_held_slot_is_refused(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_codes(rds)
    _, second = parked_then(esl_server, "*3101", "*3101")
    assert second.args_of("playback") == ["park/park-already_in_use.wav"]
    assert "valet_park" not in second.app_names()


def test_without_a_slot_the_lowest_free_one_from_101_is_taken_and_said(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_codes(rds)
    _, second = parked_then(esl_server, "*3", "*3")
    assert ("valet_park", f"{LOT} 102") in second.apps
    assert second.args_of("playback") == ["park/park-call_placed_in_spot.wav"]
    assert second.args_of("say") == ["en number pronounced 102"]


def test_a_slot_past_max_slot_number_takes_its_child(rds: redis.Redis, esl_server: OutboundServer) -> None:
    over = node("play", {"id": "/media/full.wav"})
    load_codes(rds, max_slot_number=200, children={"MAX_SLOT_EXCEEDED": over})
    record = call(esl_server, "*3201")
    assert "valet_park" not in record.app_names()
    assert ("playback", "/media/full.wav") in record.apps


def referred_by(username: str) -> tuple[tuple[str, str], ...]:
    return (("sip_h_Referred-By", f"<sip:{username}@office.test>"),)


def test_after_the_ringback_timeout_the_parker_rings_and_takes_the_call(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_codes(rds, default_ringback_timeout=3000, default_callback_timeout=9000)
    record = call(esl_server, "*3101", variables=referred_by("1002"), time_scale=FAST,
                  bridges=(BridgeOutcome("answered"),))
    assert record.args_of("valet_park") == [f"{LOT} 101"]
    assert record.args_of("bridge") == ["[leg_timeout=9]user/1002@office.test"]
    assert "CHANNEL_BRIDGE" in record.events


def test_an_unanswered_ringback_takes_the_slots_child_or_parks_again(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    elsewhere = node("play", {"id": "/media/operator.wav"})
    load_codes(rds, default_ringback_timeout=3000, children={"101": elsewhere})
    record = call(esl_server, "*3101", variables=referred_by("1002"), time_scale=FAST)
    assert record.app_names().count("bridge") == 1
    assert ("playback", "/media/operator.wav") in record.apps
    again = call(esl_server, "*3102", variables=referred_by("1002"), time_scale=FAST, hangup_after=3.0)
    assert again.app_names().count("valet_park") >= 2
    assert "/media/operator.wav" not in again.args_of("playback")


def test_without_a_known_parker_there_is_no_ringback(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_codes(rds, default_ringback_timeout=1000)
    record = call(esl_server, "*3101", variables=referred_by("9999"), time_scale=FAST, hangup_after=0.3)
    assert "bridge" not in record.app_names()


def test_an_invites_own_referred_by_names_the_parker_too(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_codes(rds, default_ringback_timeout=3000)
    record = call(esl_server, "*3101", variables=(("sip_referred_by_user", "1001"),), time_scale=FAST,
                  bridges=(BridgeOutcome("answered"),))
    assert record.args_of("bridge") == ["[leg_timeout=30]user/1001@office.test"]
