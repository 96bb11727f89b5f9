"""The `conference_feature` module (Kazoo's cf_conference_feature) through the real server, the
simulator playing mod_conference: the callflow's capture names the room, the caller joins it as
`conference` joins; a capture that names no room continues to `_`."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import Keypress
from tests.office import ACCOUNT, flow, load, node
from tests.office import call as place

SALES = {"id": "conf-sales", "name": "Sales weekly", "member": {"pins": ["1234"]}, "moderator": {"pins": ["9999"]}}
OPEN = {"id": "7001", "name": "Open room", "member": {"join_muted": False}}
OPERATOR = node("play", {"id": "/media/operator.wav"})


def call(server: OutboundServer, number: str, **scenario: Any) -> Any:
    return place(server, number, time_scale=0.01, **scenario)


def load_feature(rds: redis.Redis, data: dict[str, Any] | None = None) -> None:
    feature = node("conference_feature", data or {}, _=OPERATOR)
    load(rds, {"id": "cf-conf-feature", "patterns": [r"^\*5(.+)$"], "flow": feature},
         {"id": "cf-webrtc", "patterns": [r"^(conf-[a-z]+)$"], "flow": feature},
         flow("5555", node("conference_feature", {"id": "7001"})), conferences=[SALES, OPEN])


def test_the_captured_id_names_the_room_the_caller_joins(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_feature(rds)
    record = call(esl_server, "*57001", hangup_after=0.3)
    assert record.args_of("conference") == [f"{ACCOUNT}_7001@default"]


def test_a_captured_room_with_pins_asks_one_as_conference_does(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_feature(rds)
    record = call(esl_server, "conf-sales", keypresses=(Keypress("9999#", on="play_and_get_digits"),),
                  hangup_after=0.5)
    assert "conference/conf-pin.wav" in record.args_of("play_and_get_digits")[0]
    assert record.args_of("conference") == [f"{ACCOUNT}_conf-sales@default+flags{{moderator}}"]


def test_the_nodes_own_data_applies_to_the_captured_room(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_feature(rds, {"moderator": True})
    record = call(esl_server, "*5conf-sales", hangup_after=0.3)
    assert "play_and_get_digits" not in record.app_names()  # a moderator by the node: no PIN
    assert record.args_of("conference") == [f"{ACCOUNT}_conf-sales@default+flags{{moderator}}"]


def test_a_capture_that_names_no_room_continues_to_the_default_child(
        rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_feature(rds)
    for dialled in ("*5conf-none", "*5../7001", "*5" + "7" * 65):
        record = call(esl_server, dialled)
        assert record.args_of("conference") == [], dialled
        assert record.args_of("playback") == ["/media/operator.wav"], dialled


def test_without_a_capture_the_nodes_id_names_the_room(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_feature(rds)
    record = call(esl_server, "5555", hangup_after=0.3)
    assert record.args_of("conference") == [f"{ACCOUNT}_7001@default"]
