"""Conferences through a real FreeSWITCH (mod_conference): two outside SIPp callers, each playing
speech, dial the conference number and meet in one room; FreeSWITCH's own `conference <room>
json_list` (asked over its inbound socket, as the participants API asks it) shows both, each
heard by the mixer and hearing the other; a member is muted and another kicked through the
participants API (GET, then PUT with an action) and the commands it sends."""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import dataclasses
import json
from typing import Any

import pytest
import redis

from controller.config import EslEndpoint, Settings
from controller.esl import inbound_api
from controller.esl.server import OutboundServer
from controller.lab.freeswitch import ESL_PASSWORD
from controller.modules import conferencing
from controller.services import Services
from tests.api_world import serve_api
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    DID,
    finish,
    mailbox,
    main_number,
    node,
    office,
    settings,
    wait_for,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]
ROOM = {"id": "conf-all-hands", "name": "All hands", "member": {"join_muted": False}, "max_participants": 5}
NAME = conferencing.room(ACCOUNT_ID, ROOM["id"])


def endpoint(fs: FreeSwitch) -> EslEndpoint:
    return EslEndpoint("127.0.0.1", fs.ports.esl, ESL_PASSWORD)


def members(fs: FreeSwitch) -> list[dict[str, Any]]:
    [answer] = inbound_api.ask(endpoint(fs), f"conference {NAME} json_list")
    if not answer.startswith("["):
        return []
    return [m for c in json.loads(answer) for m in c["members"] if m["type"] == "caller"]


def command(fs: FreeSwitch, text: str) -> str:
    return inbound_api.ask(endpoint(fs), text)[0]


def test_two_callers_meet_in_one_room_and_hear_each_other(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer, settings: Settings
) -> None:
    main_number(rds, node("conference", {"id": ROOM["id"]}), conferences=[ROOM])
    mark = fs.mark()
    first = sipp.call(DID, "-d", "12000", "-set", "audio", "yes", "-set", "caller", "+15550000001", name="first")
    second = sipp.call(DID, "-d", "12000", "-set", "audio", "yes", "-set", "caller", "+15550000002", name="second")
    wait_for(lambda: len(members(fs)) == 2, "both callers in the room")
    talked: set[str] = set()

    def both_heard() -> bool:
        talked.update(m["caller_id_number"] for m in members(fs) if m["flags"]["talking"])
        return len(talked) == 2

    wait_for(both_heard, "the mixer to hear each caller's RTP", timeout=10)
    inside = members(fs)
    assert all(m["flags"]["can_hear"] and m["flags"]["can_speak"] for m in inside)
    assert sorted(m["caller_id_number"] for m in inside) == ["+15550000001", "+15550000002"]
    one, other = inside
    assert command(fs, f"conference {NAME} mute {one['id']}") == f"+OK mute {one['id']}\n"
    assert next(m for m in members(fs) if m["id"] == one["id"])["flags"]["can_speak"] is False
    services = Services.build(dataclasses.replace(settings, freeswitch=(endpoint(fs),)), rds)
    with serve_api(services) as api:
        path = f"/v2/accounts/{ACCOUNT_ID}/conferences/{ROOM['id']}/participants"
        listed = {p["participant_id"]: p for p in api.ok("GET", path, who="super")}
        assert listed[one["id"]]["mute"] is True and listed[other["id"]]["mute"] is False
        assert listed[one["id"]]["call_id"] == one["uuid"] and listed[other["id"]]["caller_id_number"]
        kicked = api.call("PUT", f"{path}/{other['id']}", who="super", json={"data": {"action": "kick"}})
        assert kicked.status_code == 202, kicked.text
    wait_for(lambda: [m["id"] for m in members(fs)] == [one["id"]], "the kicked caller to leave")
    finish(fs, first, second)
    assert members(fs) == []
    log = fs.log_since(mark)
    assert sum(" EXECUTE [" in line and f" conference({NAME}@default)" in line for line in log) == 2
