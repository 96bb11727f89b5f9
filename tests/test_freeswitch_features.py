"""Feature codes through a real FreeSWITCH: Ben's SIPp phone dials `*72` and keys Chloe's
extension in as RFC 2833 telephone-events, and the next outside call to Ben rings Chloe's phone
instead of his; Ben's phone dials `*78`, and the next outside call does not ring it at all: the
flow goes on at once and Alice gets one missed-call email.

What only FreeSWITCH can tell: that its `play_and_get_digits` reads the telephone-events a
phone sends while flite speaks the prompt, that the change is stored though the phone hangs up
at once (before the confirmation is said), and which phones then get an INVITE.
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.store.bundle import load_bundle
from controller.store.documents import Documents
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
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
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp, SippRun, directory_password

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]

TONE = "tone_stream://%(200,0,440)"


def feature_codes(rds: redis.Redis, ben: dict[str, Any]) -> None:
    """The office's feature codes (flows/office.json), its main number (missed_call_alert to
    Alice, Ben's phone for 8 s, then a tone) and 1003 (Chloe's phone); Ben as given."""
    codes = [c for c in OFFICE["callflows"] if c.get("patterns")]
    main = node("missed_call_alert", ALERT_ALICE, _=node("user", {"id": BEN["id"], "timeout": 8},
                                                         _=node("play", {"id": TONE})))
    callflows = [*codes, {"id": "fs-features-main", "numbers": [DID], "flow": main},
                 {"id": "fs-features-chloe", "numbers": ["1003"], "flow": node("user", {"id": CHLOE["id"]})}]
    users = [ben if user["id"] == BEN["id"] else user for user in OFFICE["users"]]
    load_bundle(rds, {**OFFICE, "users": users, "callflows": callflows}, "feature codes")


def keys_from(sipp: Sipp, fs: FreeSwitch, user: str, number: str, keys: str) -> SippRun:
    """The office's phone `user` dials `number` and presses `keys` once answered, then hangs up."""
    return sipp.start(f"phone-{user}-keys", "uac_internal_keys.xml", "-s", number, "-set", "user", user,
                      "-au", user, "-ap", directory_password(user), "-set", "keys", keys, "-d", "500",
                      target=f"127.0.0.1:{fs.ports.internal_sip}")


def stored_ben(rds: redis.Redis) -> dict[str, Any]:
    return Documents(rds, "users").get(ACCOUNT_ID, BEN["id"])


def invited(phone: SippRun) -> bool:
    return any(line.startswith("INVITE ") for line in phone.received())


def test_star_72_and_a_number_keyed_in_forward_the_next_call(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    feature_codes(rds, {**BEN, "call_forward": {"enabled": False, "require_keypress": False}})
    mark = fs.mark()
    finish(fs, keys_from(sipp, fs, "1002", "*72", "1003#"))
    assert stored_ben(rds)["call_forward"] == {"enabled": True, "number": "1003", "require_keypress": False}
    assert [line.split("RECV DTMF ")[1][0] for line in fs.log_since(mark) if "RTP RECV DTMF " in line] == list("1003#")
    desk = sipp.phone("1002", "uas_ring_forever.xml")
    cell = sipp.phone("1003", "uas_answer.xml", "-d", "300")
    caller = sipp.call(DID, "-d", "1000")
    finish(fs, caller, cell)
    assert not invited(desk)
    assert "SIP/2.0 200 OK" in caller.received()
    assert any("loopback/1003/controller" in line for line in executed(fs, mark, "bridge"))
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


def test_star_78_keeps_the_phone_from_ringing_and_the_call_is_one_missed_call(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    feature_codes(rds, BEN)
    mark = fs.mark()
    finish(fs, sipp.internal_call("1002", "*78", "-d", "5000"))
    assert stored_ben(rds)["do_not_disturb"] == {"enabled": True}
    desk = sipp.phone("1002", "uas_answer.xml", "-d", "300")
    caller = sipp.call(DID, "-d", "1000")
    finish(fs, caller)
    assert not invited(desk)
    assert executed(fs, mark, "bridge") == []
    assert any(TONE in line for line in executed(fs, mark, "playback"))
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]))
    assert fs.errors_since(mark) == []
