"""Parking through a real FreeSWITCH (mod_valet_parking): one of the office's SIPp phones dials
the park feature code and waits in the slot; another dials the retrieve code and is connected to
it; the lot FreeSWITCH holds is what the parked_calls listing reads, over the inbound socket."""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import dataclasses
from typing import Any

import pytest
import redis

from controller.config import EslEndpoint, Settings
from controller.esl import inbound_api
from controller.esl.server import OutboundServer
from controller.lab.freeswitch import ESL_PASSWORD
from controller.modules import parking
from controller.services import Services
from controller.store.bundle import load_bundle
from tests.api_world import serve_api
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    OFFICE,
    executed,
    finish,
    mailbox,
    node,
    office,
    settings,
    wait_for,
)
from tests.freeswitch_harness import FreeSwitch, Sipp, directory_password

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]


def feature_codes(rds: redis.Redis, **park: Any) -> None:
    callflows = [{"id": f"fs-park-{action}", "patterns": [rf"^\{code}(\d+)$"],
                  "flow": node("park", {"action": action, **(park if action == "park" else {})})}
                 for code, action in (("*3", "park"), ("*4", "retrieve"))]
    load_bundle(rds, {**OFFICE, "callflows": callflows}, "park feature codes")


def endpoint(fs: FreeSwitch) -> EslEndpoint:
    return EslEndpoint("127.0.0.1", fs.ports.esl, ESL_PASSWORD)


def parked_now(fs: FreeSwitch) -> dict[str, str]:
    [answer] = inbound_api.ask(endpoint(fs), f"valet_info {parking.lot(ACCOUNT_ID)}")
    return parking.parked(answer)


def test_a_call_parked_by_one_phone_is_listed_then_retrieved_from_another(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer, settings: Settings
) -> None:
    feature_codes(rds)
    mark = fs.mark()
    alice = sipp.internal_call("1001", "*3101", "-d", "20000")
    wait_for(lambda: "101" in parked_now(fs), "the call to hold slot 101")
    services = Services.build(dataclasses.replace(settings, freeswitch=(endpoint(fs),)), rds)
    with serve_api(services) as api:
        listed = api.ok("GET", f"/v2/accounts/{ACCOUNT_ID}/parked_calls", who="super")["slots"]
    assert list(listed) == ["101"]
    assert listed["101"]["CID-Number"] == "1001" and listed["101"]["Call-ID"] == parked_now(fs)["101"]
    assert isinstance(listed["101"]["Parked-At"], int) and listed["101"]["Node"]
    ben = sipp.internal_call("1002", "*4101", "-d", "2000")
    finish(fs, alice, ben)
    assert alice.received()[-1].startswith("BYE "), alice.received()  # Ben hung up: the bridge ended
    assert any("200" in line for line in ben.received())
    assert parked_now(fs) == {}
    assert len(executed(fs, mark, "valet_park")) == 2
    log = fs.log_since(mark)
    assert sum("BRIDGE THREAD DONE" in line for line in log) == 2  # the two phones were bridged
    assert not [line for line in log if "[ERR]" in line], "FreeSWITCH logged errors"


def test_retrieving_an_empty_slot_plays_the_prompt_and_hangs_up(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    feature_codes(rds)
    mark = fs.mark()
    ben = sipp.internal_call("1002", "*4105", "-d", "5000")
    finish(fs, ben)
    assert ben.received()[-1].startswith("BYE ")
    assert executed(fs, mark, "valet_park") == []
    assert any("park-no_caller" in line for line in fs.log_since(mark))


def test_the_phone_that_parked_the_call_rings_after_the_ringback_timeout_and_takes_it(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    feature_codes(rds, default_ringback_timeout=2000, default_callback_timeout=10000)
    ben = sipp.phone("1002", "uas_answer.xml", "-d", "500")
    mark = fs.mark()
    target = f"127.0.0.1:{fs.ports.internal_sip}"
    parked = sipp.start("phone-1001-parked", "uac_internal_referred.xml", "-s", "*3102", "-set", "user", "1001",
                        "-set", "referrer", "1002", "-au", "1001", "-ap", directory_password("1001"), "-d", "20000",
                        target=target)
    wait_for(lambda: "102" in parked_now(fs), "the call to hold slot 102")
    wait_for(lambda: "102" not in parked_now(fs), "FreeSWITCH to give the call back after 2 s", timeout=10)
    wait_for(lambda: "1 total" in fs.api("show bridged_calls", check=False), "Ben to answer and take the call")
    fs.api("hupall NORMAL_CLEARING", check=False)
    finish(fs, parked, ben)
    assert [line for line in ben.received() if line.startswith("INVITE ")]
    bridges = executed(fs, mark, "bridge")
    assert len(bridges) == 1 and "user/1002@office.example.com" in bridges[0]
