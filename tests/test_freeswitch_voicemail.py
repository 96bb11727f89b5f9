"""Voicemail through a real FreeSWITCH: a message too short to keep, and a box checked with keys
sent both ways a phone sends them (RTP telephone-events, RFC 2833, and SIP INFO).

The FreeSWITCH package has no sound files: a prompt's `playback` fails at once (a WARNING that
the file is missing) and `say` too (an ERR the harness knows is the package's). The prompts that
collect keys are installed as short silences (the `prompts` fixture: FreeSWITCH collects no key
after a prompt it could not open), so the menus wait for keys almost at once; the caller's keys
are timed for that.
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.store.documents import Documents
from controller.store.voicemail import VoicemailMessages
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    BEN_BOX,
    OFFICE,
    executed,
    finish,
    mail,
    mailbox,
    main_number,
    node,
    office,
    prompts,
    queued_calls,
    ring_ben,
    settings,
    silence_wav,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]


def test_a_voicemail_shorter_than_the_minimum_is_discarded_and_sends_no_email_of_either_kind(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    """voicemail_compose.py: once FreeSWITCH recorded, the caller reached voicemail (no
    missed-call alert) even when the message is shorter than min_message_length (3 s here) and
    is discarded (no voicemail email, no message in the box).

    The caller ends the recording with # (about 1 s after the beep) rather than by hanging up:
    a hang-up during `record` races the controller (see the report of
    test_a_voicemail_left_sends_one_voicemail_email_with_the_recording_and_no_missed_call_email)."""
    main_number(rds, ring_ben(2, _=node("voicemail", {"id": BEN_BOX["id"]})))
    mark = fs.mark()
    caller = sipp.call("+15554441111", "-set", "keys", "#", scenario="uac_keys.xml")  # Ben's phone is not registered
    finish(fs, caller)
    assert caller.received()[-1].startswith("BYE ")  # the flow ended after the recording
    [record] = executed(fs, mark, "record")
    assert f"{fs.voicemail_dir}/{ACCOUNT_ID}/{BEN_BOX['id']}/" in record  # FreeSWITCH recorded ...
    assert VoicemailMessages(rds).all(ACCOUNT_ID, BEN_BOX["id"]) == []  # ... and the message was not kept
    assert queued_calls(rds) == []
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


# Ben's PIN and #, then Kazoo's keys: 1 (new messages), 1 (keep the one heard), # (goodbye): one
# group every two seconds, each answering a prompt that starts at once (no sound files) and
# waits 5 s.
CHECK_KEYS = f"{BEN_BOX['pin']}#/1/1/#"
# What FreeSWITCH logs for a key, by how it came: RTP telephone-event, or SIP INFO.
KEY_LOGGED = {"rfc2833": "RTP RECV DTMF", "info": "INFO DTMF"}


@pytest.mark.parametrize("mode", ["rfc2833", "info"])
def test_a_voicemail_box_checked_with_keys_saves_the_message_heard(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], prompts: Any, mode: str,
) -> None:
    prompts("voicemail/vm-enter_pass.wav", "voicemail/vm-main_menu.wav", "voicemail/vm-message_menu.wav")
    messages = VoicemailMessages(rds)
    main_number(rds, node("voicemail", {"id": BEN_BOX["id"], "action": "check"}))
    recording = fs.voicemail_dir / ACCOUNT_ID / BEN_BOX["id"] / "left-earlier.wav"
    silence_wav(recording, 0.5)
    messages.add(ACCOUNT_ID, BEN_BOX["id"], {
        "media_id": "left-earlier", "timestamp": 1700000000, "length": 1, "caller_id_name": "Earlier",
        "caller_id_number": "+15557770001", "call_id": "earlier", "media_path": str(recording),
    })
    mark = fs.mark()
    caller = sipp.call("+15554441111", "-set", "keys", CHECK_KEYS, "-set", "mode", mode, scenario="uac_keys.xml")
    finish(fs, caller)
    assert caller.received()[-1].startswith("BYE ")  # the flow ended: FreeSWITCH hung up
    [message] = messages.all(ACCOUNT_ID, BEN_BOX["id"])
    assert message["folder"] == "saved"
    [played] = [line for line in executed(fs, mark, "playback") if "left-earlier.wav" in line]
    assert str(recording) in played
    keys = [line for line in fs.log_since(mark) if KEY_LOGGED[mode] in line]
    assert len(keys) >= len(CHECK_KEYS.replace("/", "")), keys
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


def test_kazoos_keys_replay_then_delete_a_message_through_rfc2833(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, prompts: Any,
) -> None:
    """After a message, Kazoo's 2 plays it again and 7 deletes it (RTP telephone-events)."""
    prompts("voicemail/vm-enter_pass.wav", "voicemail/vm-main_menu.wav", "voicemail/vm-message_menu.wav")
    messages = VoicemailMessages(rds)
    main_number(rds, node("voicemail", {"id": BEN_BOX["id"], "action": "check"}))
    recording = silence_wav(fs.voicemail_dir / ACCOUNT_ID / BEN_BOX["id"] / "to-delete.wav", 0.5)
    messages.add(ACCOUNT_ID, BEN_BOX["id"], {
        "media_id": "to-delete", "timestamp": 1700000000, "length": 1, "caller_id_name": "Earlier",
        "caller_id_number": "+15557770001", "call_id": "earlier", "media_path": str(recording),
    })
    mark = fs.mark()
    keys = f"{BEN_BOX['pin']}#/1/2/7/#"
    caller = sipp.call("+15554441111", "-set", "keys", keys, "-set", "mode", "rfc2833", scenario="uac_keys.xml")
    finish(fs, caller)
    assert caller.received()[-1].startswith("BYE ")
    [message] = messages.all(ACCOUNT_ID, BEN_BOX["id"])
    assert message["folder"] == "deleted"
    assert len([line for line in executed(fs, mark, "playback") if "to-delete.wav" in line]) == 2
    assert len([line for line in fs.log_since(mark) if KEY_LOGGED["rfc2833"] in line]) >= len(keys.replace("/", ""))
    assert fs.errors_since(mark) == []


def test_the_pin_is_changed_from_the_settings_menu(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, prompts: Any,
) -> None:
    """Kazoo's settings menu: 5, then 3 and the new PIN twice, 0 back, # goodbye (SIP INFO: the
    keys of RFC 2833 go one a second, too slow for this many within the call's time limit)."""
    prompts("voicemail/vm-enter_pass.wav", "voicemail/vm-main_menu.wav", "voicemail/vm-settings_menu.wav",
            "voicemail/vm-enter_new_pin.wav", "voicemail/vm-enter_new_pin_confirm.wav")
    main_number(rds, node("voicemail", {"id": BEN_BOX["id"], "action": "check"}))
    mark = fs.mark()
    keys = f"{BEN_BOX['pin']}#/5/3/97531#/97531#/0/#"
    caller = sipp.call("+15554441111", "-set", "keys", keys, "-set", "mode", "info", scenario="uac_keys.xml")
    finish(fs, caller)
    assert caller.received()[-1].startswith("BYE ")
    assert Documents(rds, "vmboxes").get(ACCOUNT_ID, BEN_BOX["id"])["pin"] == "97531"
    assert fs.errors_since(mark) == []


def test_star_during_the_greeting_stops_it_and_logs_in(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, prompts: Any,
) -> None:
    """Kazoo's login key while the greeting plays: any key stops FreeSWITCH's playback, the
    controller reads which one from playback_terminator_used, and * asks for the PIN instead of
    recording (RTP telephone-events)."""
    prompts("voicemail/vm-enter_pass.wav", "voicemail/vm-main_menu.wav")
    greeting = silence_wav(fs.voicemail_dir / ACCOUNT_ID / BEN_BOX["id"] / "long-greeting.wav", 8.0)
    vmboxes = [{**box, "media": {"unavailable": str(greeting)}} if box is BEN_BOX else box for box in OFFICE["vmboxes"]]
    main_number(rds, node("voicemail", {"id": BEN_BOX["id"]}), vmboxes=vmboxes)
    mark = fs.mark()
    keys = f"*/{BEN_BOX['pin']}#/#"
    caller = sipp.call("+15554441111", "-set", "keys", keys, "-set", "mode", "rfc2833", scenario="uac_keys.xml")
    finish(fs, caller)
    assert caller.received()[-1].startswith("BYE ")
    assert executed(fs, mark, "record") == []
    prompted = executed(fs, mark, "play_and_get_digits")
    assert [p for p in ("vm-enter_pass", "vm-main_menu") if any(p in line for line in prompted)] == [
        "vm-enter_pass", "vm-main_menu"]
    assert VoicemailMessages(rds).all(ACCOUNT_ID, BEN_BOX["id"]) == []
    assert fs.errors_since(mark) == []
