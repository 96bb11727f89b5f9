"""The `conference` module through the real server, the simulator playing mod_conference: rooms by
id and through the conference service, PINs, member and moderator settings, and what the room is
called in FreeSWITCH whatever the documents say."""

import json
from typing import Any

import gevent
import pytest
import redis

from controller.errors import DocumentError
from controller.esl.server import OutboundServer
from controller.lab.conferences import Rooms
from controller.lab.scenario import Keypress
from controller.modules import conferencing
from tests.office import ACCOUNT, flow, load, load_unchecked, node, queued_jobs
from tests.office import call as place

FAST = 0.01  # FreeSWITCH's digit timeouts at 1/100


def call(server: OutboundServer, number: str, **scenario: Any) -> Any:
    return place(server, number, time_scale=FAST, **scenario)

ROOM = f"{ACCOUNT}_conf-sales"
SALES = {"id": "conf-sales", "name": "Sales weekly", "conference_numbers": ["5000"],
         "member": {"pins": ["1234"]}, "moderator": {"pins": ["9999"]}}


def load_rooms(rds: redis.Redis, *rooms: dict[str, Any], **data: Any) -> None:
    load(rds, flow("300", node("conference", {"id": "conf-sales", **data})), flow("301", node("conference", {})),
         conferences=list(rooms) or [SALES])


def entries(*digits: str) -> tuple[Keypress, ...]:
    return tuple(Keypress(d + "#", on="play_and_get_digits") for d in digits)


def joined(record: Any) -> list[str]:
    return record.args_of("conference")


def test_a_member_pin_joins_the_room_muted_as_kazoo_does(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_rooms(rds)
    record = call(esl_server, "300", keypresses=entries("1234"), hangup_after=0.5)
    assert joined(record) == [f"{ROOM}@default+flags{{mute}}"]
    assert "conference/conf-pin.wav" in record.args_of("play_and_get_digits")[0]


def test_a_moderator_pin_joins_unmuted_as_moderator(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_rooms(rds)
    record = call(esl_server, "300", keypresses=entries("9999"), hangup_after=0.5)
    assert joined(record) == [f"{ROOM}@default+flags{{moderator}}"]


def test_three_wrong_pins_end_the_call_outside_the_room(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_rooms(rds)
    record = call(esl_server, "300", keypresses=entries("1111", "2222", "3333"))
    assert joined(record) == []
    prompts = [arg.split()[5] for arg in record.args_of("play_and_get_digits")]
    assert prompts == ["conference/conf-pin.wav", "conference/conf-bad-pin.wav", "conference/conf-bad-pin.wav"]


def test_a_caller_who_joined_a_room_is_not_a_missed_call_one_kept_outside_is(
    rds: redis.Redis, esl_server: OutboundServer,
) -> None:
    alert = {"recipients": [{"type": "email", "id": ["desk@office.test"]}]}
    load(rds, flow("302", node("missed_call_alert", alert, _=node("conference", {"id": "conf-sales"}))),
         conferences=[SALES])
    call(esl_server, "302", keypresses=entries("1234"), hangup_after=0.5)
    assert queued_jobs(rds) == []
    call(esl_server, "302", keypresses=entries("1111", "2222", "3333"))
    [job] = queued_jobs(rds)
    assert job["type"] == "missed_call"


def test_the_conference_service_finds_the_room_by_its_number_then_asks_the_pin(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_rooms(rds)
    record = call(esl_server, "301", keypresses=entries("4999", "5000", "1234"), hangup_after=0.5)
    prompts = [arg.split()[5] for arg in record.args_of("play_and_get_digits")]
    assert prompts[:3] == ["conference/conf-enter_conf_number.wav"] * 2 + ["conference/conf-pin.wav"]
    assert joined(record) == [f"{ROOM}@default+flags{{mute}}"]


def test_a_room_without_pins_takes_members_as_the_document_says(rds: redis.Redis, esl_server: OutboundServer) -> None:
    room = {"id": "conf-sales", "name": "Open room", "max_participants": 10, "play_entry_tone": False,
            "play_exit_tone": "tone_stream://%(100,0,400)", "wait_for_moderator": True,
            "member": {"join_muted": False, "join_deaf": True}}
    load_rooms(rds, room)
    record = call(esl_server, "300", hangup_after=0.3)
    assert "play_and_get_digits" not in record.app_names()
    assert joined(record) == [f"{ROOM}@default+flags{{deaf|wait-mod}}"]
    assert record.variables["conference_max_members"] == "10"
    assert record.variables["conference_enter_sound"] == "silence_stream://10"
    assert record.variables["conference_exit_sound"] == "tone_stream://%(100,0,400)"


def test_play_name_records_the_name_the_room_hears_on_entry(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_rooms(rds, {"id": "conf-sales", "name": "Named", "play_name": True})
    record = call(esl_server, "300", hangup_after=3.0, record_seconds=0.01)
    assert record.app_names()[-3:] == ["record", "set", "conference"]
    assert record.args_of("set")[-1].startswith("conference_enter_sound=") and record.args_of("set")[-1].endswith(
        f"conference_name_{record.uuid}.wav")


def test_a_bundle_naming_a_room_it_lacks_is_refused(rds: redis.Redis) -> None:
    with pytest.raises(DocumentError, match="no conference 'conf-gone'"):
        load(rds, flow("302", node("conference", {"id": "conf-gone"})))


def test_a_missing_room_continues_to_the_default_child(rds: redis.Redis, esl_server: OutboundServer) -> None:
    sorry = node("play", {"id": "/media/sorry.wav"})
    load_unchecked(rds, flow("302", node("conference", {"id": "conf-gone"}, _=sorry)))
    record = call(esl_server, "302")
    assert joined(record) == [] and ("playback", "/media/sorry.wav") in record.apps


def test_two_callers_meet_in_one_room(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_rooms(rds, moderator=True)
    rooms = Rooms()
    first = gevent.spawn(call, esl_server, "300", rooms=rooms, hangup_after=1.0, caller_number="+15550000001")
    second = gevent.spawn(call, esl_server, "300", rooms=rooms, hangup_after=1.0, caller_number="+15550000002")
    for _ in range(100):
        if len(rooms.rooms.get(ROOM, [])) == 2:
            break
        gevent.sleep(0.01)
    [listed] = json.loads(rooms.api([ROOM, "json_list"]))
    numbers = sorted(m["caller_id_number"] for m in listed["members"])
    assert numbers == ["+15550000001", "+15550000002"]
    gevent.joinall([first, second], timeout=10)
    assert rooms.rooms == {}


def test_room_names_keep_only_what_mod_conference_reads_as_a_name() -> None:
    assert conferencing.room("acct@x", "a+flags{endconf}") == "acct_x_a_flags_endconf_"


def test_a_rooms_tones_reach_freeswitch_inert(rds: redis.Redis, esl_server: OutboundServer) -> None:
    hostile = "${system(id)}"
    load_rooms(rds, {"id": "conf-sales", "name": "Hostile", "play_entry_tone": hostile,
                     "play_exit_tone": "$\\'{system(id)}"})
    record = call(esl_server, "300", hangup_after=0.3)
    assert "conference" in record.app_names()
    sounds = record.variables["conference_enter_sound"] + record.variables["conference_exit_sound"]
    assert "$" not in sounds and "\\" not in sounds and sounds.count("\uff04") == 2
    assert record.api_calls == []


def test_a_tone_with_whitespace_keeps_the_profiles(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_rooms(rds, {"id": "conf-sales", "name": "Spaced", "play_entry_tone": "/media/a tone.wav"})
    record = call(esl_server, "300", hangup_after=0.3)
    assert "conference_enter_sound" not in record.variables
