"""Picking up and paging through a real FreeSWITCH: a call from outside rings Ben's SIPp phone,
Chloe's phone dials the pickup feature code with Ben's extension and is connected to the
caller, Ben's phone stops ringing; a page reaches two phones whose INVITEs carry the auto-answer
headers phones honour."""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import json

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.store.bundle import load_bundle
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ALICE,
    BEN,
    CHLOE,
    DID,
    OFFICE,
    executed,
    finish,
    mailbox,
    node,
    office,
    settings,
    wait_for,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]


def callflows(rds: redis.Redis, *extra: dict) -> None:
    """The main number rings Ben's phone; `*8<extension>` picks up what rings there."""
    main = {"id": "fs-pickup-main", "numbers": [DID], "flow": node("user", {"id": BEN["id"], "timeout": 20})}
    ben = {"id": "fs-pickup-ben", "numbers": ["1002"], "flow": node("user", {"id": BEN["id"]})}
    code = {"id": "fs-pickup-code", "patterns": [r"^\*8([0-9]+)$"],
            "flow": node("group_pickup_feature", {"type": "extension"})}
    load_bundle(rds, {**OFFICE, "callflows": [main, ben, code, *extra]}, "pickup feature code")


def ringing(fs: FreeSwitch) -> bool:
    return '"callstate":"RINGING"' in fs.api("show channels as json") and "1002@" in fs.api("show channels as json")


def test_a_ringing_call_is_picked_up_from_another_phone_with_the_feature_code(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    callflows(rds)
    mark = fs.mark()
    ben = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID, "-d", "20000")
    wait_for(lambda: ringing(fs), "Ben's phone to ring")
    chloe = sipp.internal_call("1003", "*81002", "-d", "2000")
    finish(fs, chloe, caller)
    assert caller.received()[-1].startswith("BYE "), caller.received()  # Chloe hung up: the call ended
    assert any("200" in line for line in chloe.received())
    assert len(executed(fs, mark, "intercept")) == 1
    ben.wait()
    assert any(line.startswith("CANCEL ") for line in ben.received()), ben.received()
    log = fs.log_since(mark)
    assert any("cause: PICKED_OFF" in line and "1002@" in line for line in log)  # Ben's leg, taken
    assert executed(fs, mark, "hangup") == []  # the caller's flow left the picked-up call alone
    assert not [line for line in log if "[ERR]" in line], "FreeSWITCH logged errors"


def test_an_answered_call_is_taken_over_by_an_approved_phone(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    chloe_desk = next(d["id"] for d in OFFICE["devices"] if d["sip"].get("username") == "1003")
    take = {"id": "fs-intercept", "patterns": [r"^\*9([0-9]+)$"],
            "flow": node("intercept_feature", {"type": "extension", "approved_device_id": chloe_desk})}
    callflows(rds, take)
    mark = fs.mark()
    ben = sipp.phone("1002", "uas_answer.xml", "-d", "10")
    caller = sipp.call(DID, "-d", "20000")
    wait_for(lambda: '"callstate":"ACTIVE"' in fs.api("show channels as json"), "Ben to answer")
    chloe = sipp.internal_call("1003", "*91002", "-d", "3000")
    finish(fs, chloe, caller, ben)
    assert ben.received()[-1].startswith("BYE "), ben.received()  # Ben's leg was taken from him
    assert caller.received()[-1].startswith("BYE "), caller.received()  # ended when Chloe hung up
    assert len(executed(fs, mark, "intercept")) == 1
    log = fs.log_since(mark)
    assert executed(fs, mark, "hangup") == [], [line for line in log if "hangup(" in line]


def test_an_approved_phone_listens_in_on_an_answered_call(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    alice_desk = next(d["id"] for d in OFFICE["devices"] if d["sip"].get("username") == "1001")
    listen = {"id": "fs-eavesdrop", "patterns": [r"^\*7([0-9]+)$"],
              "flow": node("eavesdrop_feature", {"approved_device_id": alice_desk})}
    callflows(rds, listen)
    mark = fs.mark()
    ben = sipp.phone("1002", "uas_answer.xml", "-d", "10")
    caller = sipp.call(DID, "-d", "8000")
    wait_for(lambda: '"callstate":"ACTIVE"' in fs.api("show channels as json"), "Ben to answer")
    alice = sipp.internal_call("1001", "*71002", "-d", "2000")
    assert alice.wait() == 0, alice.report()
    [line] = executed(fs, mark, "eavesdrop")
    assert "1001@" in line  # Alice's leg ran it
    finish(fs, caller, ben)
    # The listener came and went; the call went on until the caller hung up (its BYE answered).
    assert not [line for line in caller.received() if line.startswith("BYE ")], caller.received()
    assert not [line for line in fs.log_since(mark) if "[ERR]" in line], "FreeSWITCH logged errors"


def test_a_supervisor_listens_in_on_a_call_the_agents_phone_placed(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    chloe_desk = next(d["id"] for d in OFFICE["devices"] if d["sip"].get("username") == "1003")
    listen = {"id": "fs-eavesdrop", "patterns": [r"^\*7([0-9]+)$"],
              "flow": node("eavesdrop_feature", {"approved_device_id": chloe_desk})}
    alice = {"id": "fs-alice", "numbers": ["1001"], "flow": node("user", {"id": ALICE["id"]})}
    callflows(rds, listen, alice)
    mark = fs.mark()
    ben = sipp.phone("1002", "uas_answer.xml", "-d", "10")
    placed = sipp.internal_call("1001", "1002", "-d", "8000")
    wait_for(lambda: '"callstate":"ACTIVE"' in fs.api("show channels as json"), "Ben to answer Alice")
    alice_leg = next(row["uuid"] for row in json.loads(fs.api("show channels as json"))["rows"]
                     if row["direction"] == "inbound")
    chloe = sipp.internal_call("1003", "*71001", "-d", "2000")
    assert chloe.wait() == 0, chloe.report()
    [line] = executed(fs, mark, "eavesdrop")
    assert f"eavesdrop({alice_leg})" in line
    finish(fs, placed, ben)


def test_intercom_rings_the_extension_with_the_auto_answer_headers(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    intercom = {"id": "fs-intercom", "patterns": [r"^\*0([0-9]+)$"], "flow": node("intercom")}
    ben = {"id": "fs-ben", "numbers": ["1002"], "flow": node("user", {"id": BEN["id"]})}
    load_bundle(rds, {**OFFICE, "callflows": [intercom, ben]}, "intercom")
    phone = sipp.phone("1002", "uas_answer.xml", "-d", "10")
    alice = sipp.internal_call("1001", "*01002", "-d", "1000")
    finish(fs, alice, phone)
    invite = invite_of(phone)
    assert "Call-Info: <sip:127.0.0.1>;answer-after=0" in invite, invite
    assert "Alert-Info: <intercom>" in invite, invite


def members(fs: FreeSwitch) -> list[str]:
    """`conference list` member lines: id;channel;uuid;caller name;caller number;flags;..."""
    return [line for line in fs.api("conference list", check=False).splitlines() if line.count(";") > 5]


def invite_of(phone) -> str:  # type: ignore[no-untyped-def]
    """The INVITE a SIPp phone received (its first message after the registration)."""
    blocks = phone.messages.split("message received")[1:]
    return next(block for block in blocks if "INVITE sip:" in block)


def test_a_page_reaches_two_phones_with_the_auto_answer_headers(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    page = {"id": "fs-page", "numbers": ["3000"],
            "flow": node("page_group", {"audio": "one-way", "endpoints": [
                {"id": BEN["id"], "endpoint_type": "user"}, {"id": CHLOE["id"], "endpoint_type": "user"}]})}
    load_bundle(rds, {**OFFICE, "callflows": [page]}, "page group")
    mark = fs.mark()
    ben = sipp.phone("1002", "uas_answer.xml", "-d", "10")
    chloe = sipp.phone("1003", "uas_answer.xml", "-d", "10")
    alice = sipp.internal_call("1001", "3000", "-d", "4000")
    wait_for(lambda: len(members(fs)) == 3, "the caller and both phones in the page's conference")
    flags = {line.split(";")[4]: line.split(";")[5] for line in members(fs)}
    assert "speak" not in flags["1002"] and "speak" not in flags["1003"], flags  # one-way: they listen
    assert "speak" in flags["1001"], flags
    finish(fs, alice, ben, chloe)
    for phone in (ben, chloe):
        invite = invite_of(phone)
        assert "Call-Info: <sip:127.0.0.1>;answer-after=0" in invite, invite
        assert "Alert-Info: <intercom>" in invite, invite  # (mod_sofia puts alert_info in brackets)
        assert "intercom=true" in invite.splitlines()[2], invite
        assert phone.received()[-1].startswith("BYE "), phone.received()  # the page ended with Alice
    assert executed(fs, mark, "conference")
    log = fs.log_since(mark)
    assert not [line for line in log if "[ERR]" in line], "FreeSWITCH logged errors"
