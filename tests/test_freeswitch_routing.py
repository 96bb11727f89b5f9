"""Callflows that choose where a call goes, through a real FreeSWITCH: a menu the caller answers
with a key (inline, and stored as Kazoo's menus document), a ring group where the second phone
answers, and a time-of-day route.

Which branch ran is read where it shows: which SIPp phone received the INVITE; what the office
sees is read in the mailbox (one missed-call email for a call nobody answered, none for a
bridged one).
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ALERT_ALICE,
    BEN,
    CHLOE,
    DID,
    assert_one_missed_call_to_alice,
    executed,
    finish,
    mail,
    mailbox,
    main_number,
    node,
    office,
    settings,
    silence_wav,
)
from tests.freeswitch_harness import FreeSwitch, Sipp, SippRun

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]


def invited(phone: SippRun) -> bool:
    return any(line.startswith("INVITE ") for line in phone.received())


def ring(user: dict[str, Any], timeout: int = 2) -> dict[str, Any]:
    return node("user", {"id": user["id"], "timeout": timeout})


@pytest.mark.parametrize(("key", "chosen", "other"), [("1", "1002", "1003"), ("2", "1003", "1002")])
def test_a_menu_runs_the_child_of_the_key_the_caller_pressed(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], tmp_path: Path, key: str, chosen: str, other: str,
) -> None:
    """A recorded greeting (a short silence: the package has no sounds, and FreeSWITCH collects
    no key after a prompt it cannot open), then 1 rings Ben's phone, 2 Chloe's."""
    greeting = silence_wav(tmp_path / "greeting.wav", 0.2)
    menu = node("menu", {"media": {"greeting": str(greeting)}, "max_extension_length": 1, "timeout": 5000},
                **{"1": ring(BEN), "2": ring(CHLOE)})
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=menu))
    mark = fs.mark()
    phones = {user: sipp.phone(user, "uas_ring_forever.xml") for user in ("1002", "1003")}
    caller = sipp.call(DID, "-set", "keys", key, scenario="uac_keys.xml")
    finish(fs, caller, phones[chosen])
    assert invited(phones[chosen])
    assert not invited(phones[other])
    [collected] = executed(fs, mark, "play_and_get_digits")
    assert str(greeting) in collected
    assert caller.received()[-1].startswith("BYE ")  # the chosen phone did not answer: the flow ended
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]), name="SIPp")
    assert fs.errors_since(mark) == []


def test_a_key_pressed_while_a_spoken_greeting_is_said_picks_the_menus_child(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis,
) -> None:
    """The greeting is the prompt of play_and_get_digits itself (tts:// through mod_flite): the
    caller's key one second into a several-second greeting is read, not swallowed by a `speak`."""
    text = ("Thank you for calling the office. For sales, press one. For support, press two. "
            "For anything else, please stay on the line and someone will be with you.")
    menu = node("menu", {"media": {"greeting_tts": {"text": text}}, "max_extension_length": 1, "timeout": 5000},
                **{"1": ring(BEN), "2": ring(CHLOE)})
    main_number(rds, menu)
    mark = fs.mark()
    phones = {user: sipp.phone(user, "uas_ring_forever.xml") for user in ("1002", "1003")}
    caller = sipp.call(DID, "-set", "keys", "1", scenario="uac_keys.xml")
    finish(fs, caller, phones["1002"])
    assert invited(phones["1002"]) and not invited(phones["1003"])
    [collected] = executed(fs, mark, "play_and_get_digits")
    assert "tts://flite|slt|Thank you for calling the office." in collected
    assert fs.errors_since(mark) == []


def test_a_stored_menu_plays_its_greeting_and_runs_the_child_of_the_key_pressed(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], tmp_path: Path,
) -> None:
    """Kazoo's form: the node names a menus document (`data.id`) holding the greeting and the
    timeouts; 2 rings Chloe's phone."""
    greeting = silence_wav(tmp_path / "stored-greeting.wav", 0.2)
    menu = {"id": "3d0b7e1c9a2f4b6c8d0e1f2a3b4c5d6e", "name": "Main menu", "max_extension_length": 1,
            "timeout": 5000, "hunt": False, "media": {"greeting": str(greeting), "exit_media": False}}
    route = node("menu", {"id": menu["id"]}, **{"1": ring(BEN), "2": ring(CHLOE)})
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=route), menus=[menu])
    mark = fs.mark()
    phones = {user: sipp.phone(user, "uas_ring_forever.xml") for user in ("1002", "1003")}
    caller = sipp.call(DID, "-set", "keys", "2", scenario="uac_keys.xml")
    finish(fs, caller, phones["1003"])
    assert invited(phones["1003"])
    assert not invited(phones["1002"])
    [collected] = executed(fs, mark, "play_and_get_digits")
    assert f"(1 1 1 5000 # {greeting} " in collected  # one digit, 5 s: the document's settings
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]), name="SIPp")
    assert fs.errors_since(mark) == []


def test_a_ring_group_whose_second_phone_answers_is_bridged_and_sends_no_email(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    """One phone after the other (`single`): Ben's rings 2 s unanswered, then Chloe's answers."""
    group = node("ring_group", {"strategy": "single", "endpoints": [
        {"id": BEN["id"], "endpoint_type": "user", "timeout": 2},
        {"id": CHLOE["id"], "endpoint_type": "user", "timeout": 10},
    ]})
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=group))
    mark = fs.mark()
    first = sipp.phone("1002", "uas_ring_forever.xml")
    second = sipp.phone("1003", "uas_answer.xml", "-d", "300")
    caller = sipp.call(DID, "-d", "1500")
    finish(fs, caller, first, second)
    assert [line.split()[0] for line in first.received()] == ["INVITE", "CANCEL", "ACK"]  # rang, gave up
    assert "SIP/2.0 200 OK" in caller.received()
    assert second.received()[-1].startswith("BYE ")  # answered, then the caller hung up
    [bridge] = executed(fs, mark, "bridge")
    assert "|" in bridge  # one leg after the other
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


def window(offset_hours: int) -> tuple[int, int]:
    """A one-hour window (seconds of the day, UTC) starting `offset_hours` from half an hour ago:
    0 holds now, 2 does not (wrapping past midnight as the rules do)."""
    now = datetime.datetime.now(datetime.UTC)
    second = now.hour * 3600 + now.minute * 60 + now.second
    start = (second - 1800 + offset_hours * 3600) % 86400
    return start, (start + 3600) % 86400


@pytest.mark.parametrize(("offset", "chosen", "other"), [(0, "1002", "1003"), (2, "1003", "1002")],
                         ids=["now-in-the-window", "now-outside-it"])
def test_a_temporal_route_takes_the_rules_child_only_within_its_hours(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], offset: int, chosen: str, other: str,
) -> None:
    start, stop = window(offset)
    rule = {"id": "open", "name": "Open hours", "cycle": "daily", "time_window_start": start,
            "time_window_stop": stop}
    route = node("temporal_route", {"timezone": "UTC", "rules": [rule]}, open=ring(BEN), _=ring(CHLOE))
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=route))
    mark = fs.mark()
    phones = {user: sipp.phone(user, "uas_ring_forever.xml") for user in ("1002", "1003")}
    caller = sipp.call(DID)
    finish(fs, caller, phones[chosen])
    assert invited(phones[chosen])
    assert not invited(phones[other])
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]))
    assert fs.errors_since(mark) == []
