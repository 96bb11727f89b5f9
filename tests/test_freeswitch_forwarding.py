"""Call forwarding through a real FreeSWITCH: Ben forwards his calls to 1003, a number of the
office whose callflow rings Chloe's SIPp phone (the "cell phone"), with and without Kazoo's
`require_keypress`, and as the `failover` of his phone when it is not registered.

The forward is a loopback leg into the controller's context: the controller runs the office's
callflow for 1003 as a call of Ben's phone, and FreeSWITCH's group_confirm asks the answering
phone for the key before the bridge completes. What shows it: which phones got an INVITE, whether
the caller got its 200 OK, and the office's mailbox (one missed-call email for a call never
bridged, none for a bridged one).
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.modules import forwarding
from controller.store.bundle import load_bundle
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ALERT_ALICE,
    BEN,
    CHLOE,
    DID,
    OFFICE,
    assert_one_missed_call_to_alice,
    executed,
    finish,
    mail,
    mailbox,
    node,
    office,
    prompts,
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp, SippRun

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]


def forward_ben(rds: redis.Redis, ring_seconds: int, **call_forward: Any) -> None:
    """The office with two callflows: its main number (missed_call_alert, then Ben for
    `ring_seconds`) and 1003 (Chloe); Ben forwards to 1003."""
    ben = {**BEN, "call_forward": {"enabled": True, "number": "1003", **call_forward}}
    users = [ben if user["id"] == BEN["id"] else user for user in OFFICE["users"]]
    main = node("missed_call_alert", ALERT_ALICE, _=node("user", {"id": BEN["id"], "timeout": ring_seconds}))
    callflows = [{"id": "fs-test-main", "numbers": [DID], "flow": main},
                 {"id": "fs-test-chloe", "numbers": ["1003"], "flow": node("user", {"id": CHLOE["id"]})}]
    load_bundle(rds, {**OFFICE, "users": users, "callflows": callflows}, "forwarding test")


def invited(phone: SippRun) -> bool:
    return any(line.startswith("INVITE ") for line in phone.received())


def answered(caller: SippRun) -> bool:
    return "SIP/2.0 200 OK" in caller.received()


def test_a_forward_without_keypress_connects_when_the_number_answers(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    forward_ben(rds, 10, require_keypress=False)
    mark = fs.mark()
    desk = sipp.phone("1002", "uas_ring_forever.xml")
    cell = sipp.phone("1003", "uas_answer.xml", "-d", "300")
    caller = sipp.call(DID, "-d", "1500")
    finish(fs, caller, cell)
    assert not invited(desk)  # substitute: the forward rings instead of Ben's phone
    assert answered(caller)
    assert cell.received()[-1].startswith("BYE ")  # bridged until the caller hung up
    # The caller's bridge to the loopback leg, then that leg's own call: Chloe's phone.
    first, second = executed(fs, mark, "bridge")
    assert "loopback/1003/controller" in first and "group_confirm_key" not in first
    assert "user/1003@office.example.com" in second
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


def test_a_forward_with_keypress_connects_once_the_callee_presses_1(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], prompts: Any,
) -> None:
    """Kazoo's default: the answering phone hears "to accept, press one" and presses 1."""
    prompts(forwarding.CONFIRM_FILE)
    forward_ben(rds, 15)
    mark = fs.mark()
    desk = sipp.phone("1002", "uas_ring_forever.xml")
    cell = sipp.phone("1003", "uas_answer_keys.xml", "-d", "300", "-set", "keys", "1")
    caller = sipp.call(DID, "-d", "1500")
    finish(fs, caller, cell)
    assert not invited(desk)
    assert answered(caller)
    assert any(line.startswith("INFO ") for line in cell.messages.split("\n"))  # the key went out
    assert any("ivr-to_accept_press_one" in line for line in fs.log_since(mark))  # the prompt played
    first, second = executed(fs, mark, "bridge")
    assert f"group_confirm_key={forwarding.CONFIRM_KEY}" in first and "loopback/1003/controller" in first
    assert "user/1003@office.example.com" in second
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


def test_a_forward_with_keypress_is_not_taken_for_answered_when_nobody_presses(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], prompts: Any,
) -> None:
    """A voicemail answers the forwarded call and presses nothing: the caller is never
    connected, the forward rings out with Ben's timeout and the call counts as missed."""
    prompts(forwarding.CONFIRM_FILE)
    forward_ben(rds, 6)
    mark = fs.mark()
    cell = sipp.phone("1003", "uas_answer.xml", "-d", "300")
    caller = sipp.call(DID)
    finish(fs, caller, cell)
    assert invited(cell) and cell.received()[-1].startswith("BYE ")  # answered, then dropped
    assert not answered(caller)
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]), name="SIPp")
    assert fs.errors_since(mark) == []


def test_failover_rings_the_number_when_the_phone_is_not_registered(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    """Forwarding off, `failover` on: Ben's phone is not registered (USER_NOT_REGISTERED), so
    the number rings in its place."""
    forward_ben(rds, 10, enabled=False, failover=True, require_keypress=False)
    mark = fs.mark()
    cell = sipp.phone("1003", "uas_answer.xml", "-d", "300")
    caller = sipp.call(DID, "-d", "1500")
    finish(fs, caller, cell)
    assert answered(caller)
    first, second, third = executed(fs, mark, "bridge")
    assert "user/1002@office.example.com" in first and "loopback" not in first
    assert "loopback/1003/controller" in second and "user/1003@office.example.com" in third
    assert mail(settings, mailbox[1]) == []
