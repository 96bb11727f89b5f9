"""Dial by name through a real FreeSWITCH: an outside caller spells a last name with RFC 2833
keys while the directory's spoken prompt (mod_flite, the prompt of play_and_get_digits) is said,
confirms the one match with 1, and the chosen user's phone rings. The user's name carries a
FreeSWITCH expansion: it is spoken inert and runs nothing."""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import shutil
import tempfile
from pathlib import Path

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.store.bundle import load_bundle
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    CHLOE,
    DID,
    OFFICE,
    executed,
    finish,
    mailbox,
    node,
    office,
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]


def test_a_caller_spells_a_last_name_confirms_and_the_users_phone_rings(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis,
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="dir", dir="/tmp"))
    script = folder / "pwn"
    script.write_text(f"#!/bin/sh\ntouch {folder}/pwned\n")
    script.chmod(0o755)
    surname = f"Nguyen ${{system({script})}}"  # still spelled 648...
    users = [{**user, "last_name": surname, "directories": {"staff": "fs-test-chloe"}} if user == CHLOE else user
             for user in OFFICE["users"]]
    callflows = [{"id": "fs-test-main", "numbers": [DID], "flow": node("directory", {"id": "staff"})},
                 {"id": "fs-test-chloe", "numbers": ["2003"], "flow": node("user", {"id": CHLOE["id"], "timeout": 1})}]
    load_bundle(rds, {**OFFICE, "users": users, "directories": [{"id": "staff", "name": "Staff"}],
                      "callflows": callflows}, "the office with a directory")
    mark = fs.mark()
    chloe = sipp.phone("1003", "uas_ring_forever.xml")
    caller = sipp.call(DID, "-set", "keys", "648#1", scenario="uac_keys.xml")
    try:
        finish(fs, caller, chloe)
        assert any(line.startswith("INVITE ") for line in chloe.received())
        asked, confirmed = executed(fs, mark, "play_and_get_digits")
        assert "tts://flite|slt|Please enter the first few letters" in asked
        assert "To connect to Chloe Nguyen \uff04{system(" in confirmed  # said inert, as written
        assert not (folder / "pwned").exists()
        assert fs.errors_since(mark) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)
