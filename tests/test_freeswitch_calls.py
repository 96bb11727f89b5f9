"""Calls through a real FreeSWITCH, end to end: SIPp dials a DID on the carriers' (external)
profile, FreeSWITCH runs the project's dialplan and hands the call to the controller's real
outbound ESL server, the callflow rings SIPp phones registered on the internal profile, and the
real mail sender delivers what the call left to a real SMTP server. Each test asserts on the
mailbox: what an office would see.

The account is flows/office.json with one callflow on its main number +15554441111, the DID
that conf/freeswitch/dialplan/controller.xml tags with the account's id. Ben Carter (user with one
device, 1002) is the callee; Alice Moreno gets the missed-call alerts.
"""

import json
import wave
from collections.abc import Iterator
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.commands.mailer import build_mailer
from controller.esl.server import OutboundServer
from controller.store import keys
from controller.store.bundle import load_bundle
from tests.freeswitch_harness import ROOT, FreeSwitch, Sipp, SippRun
from tests.mailserver import delivered, running_smtp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]

OFFICE: dict[str, Any] = json.loads((ROOT / "flows" / "office.json").read_text())
DID = "+15554441111"
CALLER = "+15557770000"
ALICE = next(u for u in OFFICE["users"] if u["first_name"] == "Alice")
BEN = next(u for u in OFFICE["users"] if u["first_name"] == "Ben")
BEN_BOX = next(b for b in OFFICE["vmboxes"] if b.get("owner_id") == BEN["id"])
ALERT_ALICE = {"recipients": [{"type": "user", "id": ALICE["id"]}]}


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


@pytest.fixture
def settings(redis_url: str, freeswitch: FreeSwitch, mailbox: tuple[int, Path]) -> config.Settings:
    """The controller as a lab box runs it: its outbound socket where the dialplan connects,
    static routes through the external profile, FreeSWITCH's voicemail folder, real SMTP."""
    return config.load({
        "CONTROLLER_CONFIG": str(ROOT / "tests" / "controller-test.toml"),
        "CONTROLLER_REDIS_URL": redis_url,
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{freeswitch.ports.controller_esl}",
        "CONTROLLER_API_LISTEN": "127.0.0.1:0",
        "CONTROLLER_ROUTE_PROFILE": "external",
        "CONTROLLER_VOICEMAIL_DIR": str(freeswitch.voicemail_dir),
        "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{mailbox[0]}",
    })


@pytest.fixture
def office(rds: redis.Redis, esl_server: OutboundServer) -> OutboundServer:
    """The example office loaded, the controller listening: ready for calls."""
    return esl_server


def node(module: str, data: dict[str, Any] | None = None, **children: dict[str, Any]) -> dict[str, Any]:
    return {"module": module, "data": data or {}, "children": children}


def main_number(rds: redis.Redis, flow: dict[str, Any], number: str = DID) -> None:
    """The office bundle with one callflow, on `number`."""
    callflow = {"id": "fs-test-main", "numbers": [number], "flow": flow}
    load_bundle(rds, {**OFFICE, "callflows": [callflow]}, "flows/office.json for the FreeSWITCH tests")


def ring_ben(timeout: int, **after: dict[str, Any]) -> dict[str, Any]:
    """missed_call_alert (to Alice), then Ben's phone for `timeout` seconds, then `after`."""
    return node("missed_call_alert", ALERT_ALICE, _=node("user", {"id": BEN["id"], "timeout": timeout}, **after))


def finish(fs: FreeSwitch, *callers: SippRun) -> None:
    """Until the calls are over on every side: SIPp done, FreeSWITCH without a channel (it
    destroys one only after the controller ran the call's handlers and closed its socket)."""
    for caller in callers:
        assert caller.wait() == 0, caller.report()
    fs.wait_idle()


def mail(settings: config.Settings, maildir: Path) -> list[EmailMessage]:
    """Every job the calls left, delivered by the real mail sender; what reached the mailbox."""
    mailer = build_mailer(settings, "fs-test")
    try:
        mailer.run(burst=True)
    finally:
        mailer.rds.connection_pool.disconnect()
    return delivered(maildir)


def queued_calls(rds: redis.Redis) -> list[dict[str, Any]]:
    """The call data of each job waiting in the queue (left there for the mail sender)."""
    return [json.loads(rds.hget(keys.queue_job(job_id), "doc"))["call"]  # type: ignore[arg-type]
            for job_id in rds.lrange(keys.QUEUE_READY, 0, -1)]


def missed_calls(messages: list[EmailMessage]) -> list[EmailMessage]:
    return [m for m in messages if str(m["Subject"]).startswith("Missed call")]


def assert_one_missed_call_to_alice(messages: list[EmailMessage]) -> None:
    [message] = messages
    assert message["To"] == ALICE["email"]
    assert message["Subject"] == f"Missed call from SIPp ({CALLER})"


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
