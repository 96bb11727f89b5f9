"""Calls through a real FreeSWITCH, end to end: SIPp dials a DID on the carriers' (external)
profile, FreeSWITCH runs the project's dialplan and hands the call to the controller's real
outbound ESL server, the callflow rings SIPp phones registered on the internal profile, and the
real mail sender delivers what the call left to a real SMTP server. Each test asserts on the
mailbox: what an office would see.

The account is flows/office.json with one callflow on its main number +15554441111, the DID
that conf/freeswitch/dialplan/controller.xml tags with the account's id. Ben Carter (user with one
device, 1002) is the callee; Alice Moreno gets the missed-call alerts.
"""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import wave
from io import BytesIO
from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    BEN,
    BEN_BOX,
    CALLER,
    DID,
    assert_one_missed_call_to_alice,
    finish,
    mail,
    mailbox,
    main_number,
    missed_calls,
    node,
    office,
    queued_calls,
    ring_ben,
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]


def test_an_inbound_call_nobody_answers_sends_one_missed_call_email(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    main_number(rds, ring_ben(2))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID)
    finish(fs, caller, phone)
    assert caller.received()[-1].startswith("SIP/2.0 480")
    [left] = queued_calls(rds)
    assert left["hangup_cause"] == "NO_ANSWER"  # the leg_timeout expired: not ALLOTTED_TIMEOUT
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]))
    assert fs.errors_since(mark) == []


def test_a_caller_giving_up_while_the_phone_rings_sends_one_missed_call_email(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    main_number(rds, ring_ben(20))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID, "-d", "2000", scenario="uac_cancel.xml")
    finish(fs, caller, phone)
    assert caller.received()[-1].startswith("SIP/2.0 487")
    [left] = queued_calls(rds)
    assert left["hangup_cause"] == "ORIGINATOR_CANCEL"
    assert [line.split()[0] for line in phone.received()] == ["INVITE", "CANCEL", "ACK"]  # FreeSWITCH cancelled
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]))
    assert fs.errors_since(mark) == []


def test_an_answered_and_bridged_call_sends_no_email(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    main_number(rds, ring_ben(20))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_answer.xml", "-d", "500")
    caller = sipp.call(DID, "-d", "1500")
    finish(fs, caller, phone)
    assert "SIP/2.0 200 OK" in caller.received()
    assert phone.received()[-1].startswith("BYE ")  # the caller hung up; the bridge hung up the phone
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


@pytest.mark.parametrize(("scenario", "cause", "refusal"), [
    ("uas_busy.xml", "USER_BUSY", "SIP/2.0 486 Busy Here"),
    ("uas_unavailable.xml", "NORMAL_TEMPORARY_FAILURE", "SIP/2.0 503 Service Unavailable"),
])
def test_a_phone_that_refuses_the_call_sends_one_missed_call_email(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], scenario: str, cause: str, refusal: str,
) -> None:
    main_number(rds, ring_ben(20))
    mark = fs.mark()
    phone = sipp.phone("1002", scenario)
    caller = sipp.call(DID)
    finish(fs, caller, phone)
    assert caller.received() == ["SIP/2.0 100 Trying", refusal]  # the flow ends with the bridge's cause
    assert [left["hangup_cause"] for left in queued_calls(rds)] == [cause]
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]))
    assert fs.errors_since(mark) == []


def test_a_voicemail_left_sends_one_voicemail_email_with_the_recording_and_no_missed_call_email(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    main_number(rds, ring_ben(2, _=node("voicemail", {"id": BEN_BOX["id"]})))
    mark = fs.mark()
    caller = sipp.call(DID, "-d", "6000", "-set", "audio", "yes")  # Ben's phone is not registered
    finish(fs, caller)
    messages = mail(settings, mailbox[1])
    assert missed_calls(messages) == []
    [message] = messages
    assert message["To"] == BEN["email"]
    assert str(message["Subject"]).startswith(f"New voicemail from SIPp ({CALLER})")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "audio/wav"
    with wave.open(BytesIO(attachment.get_content())) as recording:
        seconds = recording.getnframes() / recording.getframerate()
    assert 4.0 < seconds < 6.5, seconds  # 6 s on the line, less the greeting's beep
    assert fs.errors_since(mark) == []


def test_a_call_from_the_offices_own_phone_sends_no_missed_call_email(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    main_number(rds, ring_ben(2), number="1002")
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.internal_call("1001", "1002")  # Alice's desk phone, authenticated on the internal profile
    finish(fs, caller, phone)
    assert "SIP/2.0 407 Proxy Authentication Required" in caller.received()  # challenged, then admitted
    assert caller.received()[-1].startswith("SIP/2.0 480")
    assert queued_calls(rds) == []
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


# FreeSWITCH's expander drops the escape \' (so $\'{ becomes ${) and `set`/`multiset` expand
# their argument a second time: caller ID names that would run system(...) on the second pass.
# sofia keeps a quoted display name as sent (backslash included), but turns ${ into %{ itself.
HOSTILE_NAMES = {
    "dollar-brace": "${system(touch PWNED)}",
    "escaped-quote": "$\\'{system(touch PWNED)}",
}


@pytest.mark.parametrize("hostile", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_a_hostile_caller_id_name_through_prepend_cid_runs_nothing_on_the_freeswitch_host(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, tmp_path: Path, hostile: str,
) -> None:
    pwned = tmp_path / "pwned"
    flow = node("prepend_cid", {"caller_id_name_prefix": "Sales "}, _=node("user", {"id": BEN["id"], "timeout": 1}))
    main_number(rds, flow)
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID, "-set", "name", hostile.replace("PWNED", str(pwned)))
    finish(fs, caller, phone)
    assert not pwned.exists()
    [shown] = [line for line in fs.log_since(mark) if "SET " in line and "[effective_caller_id_name]=" in line]
    assert "[effective_caller_id_name]=[Sales " in shown and "${" not in shown
