"""Calls that leave the office through a real FreeSWITCH: `offnet` out through the carrier's
gateway (a SIPp phone stands for the carrier), and `pivot`, which asks a web application (a
small HTTP server of the test) what to do.
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.freeswitch import free_port
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ALERT_ALICE,
    BEN,
    CALLER,
    DID,
    WEB_APPS,
    assert_one_missed_call_to_alice,
    executed,
    finish,
    mail,
    mailbox,
    main_number,
    node,
    office,
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]

CARRIER = "carrier-a"  # conf/freeswitch/sip_profiles/controller-external.xml; tests/controller-test.toml's "primary"
OUTSIDE = "+15559990000"


@pytest.fixture
def carrier(fs: FreeSwitch) -> Iterator[int]:
    """The port where the carrier's gateway sends calls for this test (then back to its own proxy)."""
    port = free_port()
    fs.point_gateway(CARRIER, f"127.0.0.1:{port}")
    yield port
    fs.point_gateway(CARRIER, "sip.carrier-a.example.net")


def test_offnet_sends_an_internal_callers_outside_number_through_the_carriers_gateway(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], carrier: int,
) -> None:
    """Alice's desk phone dials an outside number: the account's no_match callflow sends it to
    offnet, which dials sofia/gateway/carrier-a/<E.164>; the carrier answers."""
    main_number(rds, node("offnet"), number="no_match")
    mark = fs.mark()
    trunk = sipp.start("carrier", "uas_answer.xml", "-d", "300", port=carrier)
    caller = sipp.internal_call("1001", OUTSIDE, "-d", "1000")
    finish(fs, caller, trunk)
    [invite] = [line for line in trunk.received() if line.startswith("INVITE ")]
    assert invite == f"INVITE sip:{OUTSIDE}@127.0.0.1:{carrier} SIP/2.0"
    assert trunk.received()[-1].startswith("BYE ")  # answered, then Alice hung up
    assert "SIP/2.0 200 OK" in caller.received()
    [bridge] = executed(fs, mark, "bridge")
    assert f"sofia/gateway/{CARRIER}/{OUTSIDE}" in bridge
    assert mail(settings, mailbox[1]) == []
    assert fs.errors_since(mark) == []


class PivotApp(BaseHTTPRequestHandler):
    """Answers every GET with the callflow in `server.flow` and keeps the query it was sent."""

    server: Any

    def do_GET(self) -> None:
        self.server.asked.append(parse_qs(urlparse(self.path).query))
        body = json.dumps(self.server.flow).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def pivot_app() -> Iterator[Any]:
    server = ThreadingHTTPServer((WEB_APPS, 0), PivotApp)
    server.asked, server.flow = [], {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_pivot_runs_the_callflow_a_web_application_returns(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], pivot_app: Any,
) -> None:
    """The application answers with a Kazoo callflow that rings Ben's phone; nobody answers."""
    pivot_app.flow = {"module": "user", "data": {"id": BEN["id"], "timeout": 2}, "children": {}}
    url = f"http://{WEB_APPS}:{pivot_app.server_port}/call"
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=node("pivot", {"voice_url": url, "method": "GET"})))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID)
    finish(fs, caller, phone)
    [asked] = pivot_app.asked
    assert asked["Caller-ID-Number"] == [CALLER] and asked["To"] == [DID]
    assert [line.split()[0] for line in phone.received()] == ["INVITE", "CANCEL", "ACK"]  # the returned flow rang Ben
    assert_one_missed_call_to_alice(mail(settings, mailbox[1]))
    assert fs.errors_since(mark) == []
