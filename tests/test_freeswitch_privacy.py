"""privacy through a real FreeSWITCH: Alice's phone dials *67 and Ben's extension; Ben's phone is
offered the call as from Anonymous, with FreeSWITCH's privacy flags on its leg."""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

from typing import Any

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.store.bundle import load_bundle
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    BEN,
    OFFICE,
    finish,
    mailbox,
    node,
    office,
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]


def feature_code(rds: redis.Redis, **privacy: Any) -> None:
    callflows = [{"id": "fs-privacy", "patterns": [r"^\*67(\d+)$"], "flow": node("privacy", privacy)},
                 {"id": "fs-ben", "numbers": ["1002"], "flow": node("user", {"id": BEN["id"], "timeout": 10})}]
    load_bundle(rds, {**OFFICE, "callflows": callflows}, "privacy feature code")


def invite_to(phone: Any) -> str:
    """The INVITE the phone was offered, as it arrived."""
    blocks = phone.messages.split("message received")[1:]
    return next(block for block in blocks if "\nINVITE " in block or block.lstrip("-\n ").startswith("INVITE"))


def test_star_67_offers_the_call_to_ben_as_anonymous(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer
) -> None:
    feature_code(rds, mode="full")
    mark = fs.mark()
    ben = sipp.phone("1002", "uas_answer.xml")
    alice = sipp.internal_call("1001", "*671002", "-d", "1000")
    finish(fs, alice, ben)
    invite = invite_to(ben)
    from_line = next(line for line in invite.splitlines() if line.lower().startswith("from:"))
    assert "Anonymous" in from_line or "anonymous" in from_line, invite
    assert "1001" not in from_line, invite
    assert any(" EXECUTE [" in line and " privacy(full)" in line for line in fs.log_since(mark))
    assert fs.errors_since(mark) == []
