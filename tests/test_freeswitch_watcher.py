"""The inbound watcher against a real FreeSWITCH: it subscribes, FreeSWITCH takes its filter,
and of a bridged call it is sent the caller's CHANNEL_BRIDGE and CHANNEL_DESTROY only (the
phone's leg is outbound and filtered out by FreeSWITCH itself)."""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import redis

from controller import config
from controller.config import EslEndpoint
from controller.esl.server import OutboundServer
from controller.esl.watcher import Watcher
from controller.lab.freeswitch import ESL_PASSWORD
from controller.modules import TERMINATION_HANDLERS
from controller.services import Services
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    BEN,
    DID,
    finish,
    mail,
    mailbox,
    main_number,
    node,
    office,
    settings,
    wait_for,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]


@pytest.fixture
def watched(fs: FreeSwitch, services: Services) -> Iterator[list[dict[str, Any]]]:
    """A watcher on FreeSWITCH's event socket; the events it is sent, as they come."""
    endpoint = EslEndpoint("127.0.0.1", fs.ports.esl, password=ESL_PASSWORD)
    watcher = Watcher((endpoint,), services, TERMINATION_HANDLERS, grace=0.2)
    seen: list[dict[str, Any]] = []
    original = watcher.on_event

    def on_event(event: Any) -> None:
        seen.append({name: event.get(name) for name in ("Event-Name", "Call-Direction", "Unique-ID")})
        original(event)

    watcher.on_event = on_event  # type: ignore[method-assign]
    watcher.start()
    wait_for(lambda: all(watcher.connected.values()), "the watcher connected")
    yield seen
    watcher.stop()


def test_the_watcher_is_sent_the_callers_leg_of_a_bridged_call_only(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], watched: list[dict[str, Any]],
) -> None:
    main_number(rds, node("user", {"id": BEN["id"], "timeout": 20}))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_answer.xml", "-d", "500")
    caller = sipp.call(DID, "-d", "1500")
    finish(fs, caller, phone)
    wait_for(lambda: any(e["Event-Name"] == "CHANNEL_DESTROY" for e in watched), "the caller's destroy")
    gevent.sleep(0.5)  # the phone's destroy, were it sent, comes within this
    assert [e["Event-Name"] for e in watched] == ["CHANNEL_BRIDGE", "CHANNEL_DESTROY"], watched
    assert {e["Call-Direction"] for e in watched} == {"inbound"}
    assert len({e["Unique-ID"] for e in watched}) == 1
    assert fs.errors_since(mark) == []
