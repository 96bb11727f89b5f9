"""Voicemail on a FreeSWITCH without sound files (the package's, the lab box's): with
CONTROLLER_VOICEMAIL_PROMPTS=tts the prompts are spoken by mod_flite and the menus read the keys
that follow them, where recorded prompts would read none (FreeSWITCH collects no key after a
prompt it could not open)."""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.store.voicemail import VoicemailMessages
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    BEN_BOX,
    executed,
    finish,
    mailbox,
    main_number,
    node,
    office,
    silence_wav,
)
from tests.freeswitch_harness import ROOT, FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]


@pytest.fixture
def settings(redis_url: str, freeswitch: FreeSwitch, mailbox: tuple[int, Path]) -> config.Settings:
    """The FreeSWITCH tests' controller (tests/freeswitch_calls.py), its prompts spoken."""
    return config.load({
        "CONTROLLER_CONFIG": str(ROOT / "tests" / "controller-test.toml"),
        "CONTROLLER_REDIS_URL": redis_url,
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{freeswitch.ports.controller_esl}",
        "CONTROLLER_API_LISTEN": "127.0.0.1:0",
        "CONTROLLER_ROUTE_PROFILE": "external",
        "CONTROLLER_VOICEMAIL_DIR": str(freeswitch.voicemail_dir),
        "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{mailbox[0]}",
        "CONTROLLER_VOICEMAIL_PROMPTS": "tts",
    })


def test_a_box_is_logged_in_to_and_left_with_keys_pressed_during_spoken_prompts(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis,
) -> None:
    messages = VoicemailMessages(rds)
    main_number(rds, node("voicemail", {"id": BEN_BOX["id"], "action": "check"}))
    recording = silence_wav(fs.voicemail_dir / ACCOUNT_ID / BEN_BOX["id"] / "spoken.wav", 0.5)
    messages.add(ACCOUNT_ID, BEN_BOX["id"], {
        "media_id": "spoken", "timestamp": 1700000000, "length": 1, "caller_id_name": "Earlier",
        "caller_id_number": "+15557770001", "call_id": "earlier", "media_path": str(recording),
    })
    mark = fs.mark()
    keys = f"{BEN_BOX['pin']}#/#"  # each while its spoken prompt is said
    caller = sipp.call("+15554441111", "-set", "keys", keys, "-set", "mode", "info", scenario="uac_keys.xml")
    finish(fs, caller)
    assert caller.received()[-1].startswith("BYE ")  # # at the main menu: goodbye
    asked = executed(fs, mark, "play_and_get_digits")
    assert len(asked) == 2, asked  # the PIN at the first try, then the main menu once
    assert "tts://flite|slt|Please enter your password" in asked[0]
    assert "tts://flite|slt|You have 1 new, and 0 saved. To listen to new messages, press 1." in asked[1]
    assert fs.errors_since(mark) == []
