"""`uuid_transfer` through the simulator, as tests/test_freeswitch_channels.py's transfer tests do
it on a real FreeSWITCH: the serve role's `transfer` question (LiveCalls.transfer) sends
`uuid_transfer <uuid> <target> XML controller` to the simulator's inbound event socket and closes
the call's connection; the same channel comes back to the controller's outbound socket for the
target's callflow, with transfer_source set, and the phone that was ringing is cancelled. The
missed-call alert of the first flow is handed over (Call.hand_over) and judged at the call's
real end: no email when the target answers, exactly one when nobody does."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import redis

from controller import config, roles
from controller.config import EslEndpoint
from controller.esl import inbound_api
from controller.esl.livecalls import LiveCalls
from controller.esl.server import OutboundServer
from controller.esl.wire import Event
from controller.lab.inbound import TRANSFER_USAGE, InboundServer
from controller.lab.recording import RecordingSocket
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import CallRecord, run_call
from controller.services import Services
from controller.store import keys
from tests.live_calls import serving_live_calls
from tests.mailserver import mail, running_smtp
from tests.office import ACCOUNT, flow, load, node
from tests.own_redis import wait_for

pytestmark = pytest.mark.timeout(60)

DID = "+15554441111"
TARGET = "2005"
ALERT_ANN = {"recipients": [{"type": "user", "id": "u-ann"}]}


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


@pytest.fixture
def settings(redis_url: str, tmp_path: Path, mailbox: tuple[int, Path]) -> config.Settings:
    """conftest's settings, with the test's SMTP server for the mail sender."""
    return config.load({
        "CONTROLLER_CONFIG": str(Path(__file__).parent / "controller-test.toml"),
        "CONTROLLER_REDIS_URL": redis_url,
        "CONTROLLER_VOICEMAIL_DIR": str(tmp_path / "voicemail"),
        "CONTROLLER_DATA_DIR": str(tmp_path / "var"),
        "CONTROLLER_ESL_LISTEN": "127.0.0.1:0",
        "CONTROLLER_API_LISTEN": "127.0.0.1:0",
        "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{mailbox[0]}",
    })


@dataclasses.dataclass
class Switch:
    """The simulated FreeSWITCH (its inbound socket, and every event it published there, parsed)
    and the controller's serve side: outbound server, live calls, role socket."""

    inbound: InboundServer
    server: OutboundServer
    live: LiveCalls
    serve_socket: Path
    published: list[tuple[str, dict[str, str]]]

    def transfer(self, uuid: str, target: str) -> bytes:
        return roles.ask(self.serve_socket, f"transfer {ACCOUNT} {uuid} {target}")

    def legs(self, event: str, caller: str) -> list[dict[str, str]]:
        """The `event`s of the callee legs of `caller`'s bridges, in order."""
        return [h for name, h in self.published
                if name == event and h.get("Unique-ID") != caller and h.get("Other-Leg-Unique-ID") == caller]


@pytest.fixture
def switch(services: Services, tmp_path: Path) -> Iterator[Switch]:
    inbound = InboundServer()
    inbound.start()
    published: list[tuple[str, dict[str, str]]] = []
    relay = inbound.relay

    def recording_relay(event: str, frame: bytes, uuid: str = "") -> None:
        published.append((event, dict(Event(frame[frame.index(b"\n\n") + 2:]))))
        relay(event, frame, uuid)

    inbound.relay = recording_relay  # type: ignore[method-assign]
    endpoint = EslEndpoint(*inbound.address, password="ClueCon")
    services = dataclasses.replace(services, settings=dataclasses.replace(services.settings, freeswitch=(endpoint,)))
    try:
        with serving_live_calls(services, tmp_path, (endpoint,)) as (server, live):
            yield Switch(inbound, server, live, roles.socket_path(tmp_path, "serve"), published)
    finally:
        inbound.stop()


def transfer_while_bob_rings(rds: redis.Redis, switch: Switch, target: dict[str, Any], answers: BridgeOutcome,
                             wire: list[tuple[str, float, bytes]] | None = None) -> CallRecord:
    """A call to the main number (an alert to Ann, then Bob's phone for 30 s) transferred through
    the serve role to 2005 (`target`) while Bob's phone rings; the target's bridge ends as
    `answers`. Returns the call's record once all is over."""
    load(rds, flow(DID, node("missed_call_alert", ALERT_ANN, _=node("user", {"id": "u-bob", "timeout": 30}))),
         flow(TARGET, target))
    scenario = Scenario(destination=DID, caller_number="+15557770000", caller_name="Carol", account_id=ACCOUNT,
                        bridges=(BridgeOutcome("no_answer", timeout=20), answers))
    tap = None if wire is None else (lambda sock: RecordingSocket(sock, wire))
    placed = gevent.spawn(run_call, switch.server.address, scenario, 30.0, switch.inbound, tap)
    wait_for(lambda: len(switch.live.channels(ACCOUNT)) == 1)
    [channel] = switch.live.channels(ACCOUNT)
    wait_for(lambda: len(switch.legs("CHANNEL_PROGRESS", channel["uuid"])) == 1)  # Bob's phone rings
    assert switch.transfer(channel["uuid"], TARGET) == b"+OK"
    record: CallRecord = placed.get(timeout=30)
    assert record.uuid == channel["uuid"] and record.transferred_to == TARGET
    first, second = record.connections()
    assert first.hangup_cause is None and first.closed_by == "server"  # the controller let go of it
    assert second.uuid == record.uuid and second.hangup_cause is not None
    assert first.args_of("bridge") and second.args_of("bridge")
    [cancelled, *_] = switch.legs("CHANNEL_HANGUP", record.uuid)
    assert cancelled["Hangup-Cause"] == "ORIGINATOR_CANCEL"  # Bob's phone: a CANCEL
    assert [name for name, h in switch.published if h.get("Unique-ID") == record.uuid
            and name in ("CHANNEL_CREATE", "CHANNEL_DESTROY")] == ["CHANNEL_CREATE", "CHANNEL_DESTROY"]
    assert record.uuid not in switch.inbound.channels
    return record


def test_a_ringing_call_transferred_to_a_phone_that_answers_is_not_a_missed_call(
    rds: redis.Redis, switch: Switch, settings: config.Settings, mailbox: tuple[int, Path],
) -> None:
    wire: list[tuple[str, float, bytes]] = []
    record = transfer_while_bob_rings(rds, switch, node("user", {"id": "u-ann", "timeout": 20}),
                                      BridgeOutcome("answered", talk=0.05), wire)
    assert mail(settings, mailbox[1]) == []
    wait_for(lambda: rds.exists(keys.cdr(ACCOUNT, record.uuid)))
    cdr = json.loads(rds.get(keys.cdr(ACCOUNT, record.uuid)))  # type: ignore[arg-type]
    assert cdr["bridged"] is True and cdr["missed"] is False
    # The second connection's connect reply: the same channel, its new caller profile.
    first, second = connect_replies(wire)
    source = second["variable_transfer_source"]
    epoch, profile_uuid, kind, where = source.split(":")
    assert epoch.isdigit() and profile_uuid and kind == "bl_xfer" and where == f"{TARGET}/controller/XML"
    assert second["variable_transfer_history"] == source
    assert second["Caller-Transfer-Source"] == second["Channel-Transfer-Source"] == source
    assert second["Unique-ID"] == first["Unique-ID"] == record.uuid
    assert (first["Caller-Destination-Number"], second["Caller-Destination-Number"]) == (DID, TARGET)
    assert second["Caller-RDNIS"] == DID and second["Caller-Context"] == "controller"
    assert "variable_transfer_source" not in first and "Caller-Transfer-Source" not in first


def test_a_transferred_call_nobody_answers_is_one_missed_call_email(
    rds: redis.Redis, switch: Switch, settings: config.Settings, mailbox: tuple[int, Path],
) -> None:
    """Both flows registered an alert (Ann's, then Bob's) and nobody answered: one email for the
    one missed call, at its end (the call's first alert, handed over, is queued first)."""
    target = node("missed_call_alert", {"recipients": [{"type": "user", "id": "u-bob"}]},
                  _=node("user", {"id": "u-ann", "timeout": 2}))
    record = transfer_while_bob_rings(rds, switch, target, BridgeOutcome("no_answer", timeout=0.1))
    [message] = mail(settings, mailbox[1])
    assert message["To"] == "ann@office.test" and str(message["Subject"]).startswith("Missed call from")
    assert rds.exists(keys.call(record.uuid)) == 0  # finished here: nothing left for a watcher


def test_a_bridged_call_transferred_leaves_its_callee_with_blind_transfer(rds: redis.Redis, switch: Switch) -> None:
    """switch_ivr_session_transfer hangs a bridged callee up with BLIND_TRANSFER; the caller goes
    on to the target, answered once already."""
    load(rds, flow(DID, node("user", {"id": "u-bob", "timeout": 30})),
         flow(TARGET, node("user", {"id": "u-ann", "timeout": 20})))
    scenario = Scenario(destination=DID, account_id=ACCOUNT,
                        bridges=(BridgeOutcome("answered", talk=20), BridgeOutcome("answered", talk=0.05)))
    placed = gevent.spawn(run_call, switch.server.address, scenario, 30.0, switch.inbound)
    wait_for(lambda: any(name == "CHANNEL_BRIDGE" for name, _ in switch.published))
    [channel] = switch.live.channels(ACCOUNT)
    assert switch.transfer(channel["uuid"], TARGET) == b"+OK"
    record: CallRecord = placed.get(timeout=30)
    first, second = record.connections()
    [bob, ann] = switch.legs("CHANNEL_HANGUP", record.uuid)
    assert bob["Hangup-Cause"] == "BLIND_TRANSFER" and ann["Hangup-Cause"] == "NORMAL_CLEARING"
    assert [name for name, h in switch.published if h.get("Unique-ID") == record.uuid].count("CHANNEL_ANSWER") == 1
    assert first.hangup_cause is None and second.hangup_cause == "NORMAL_CLEARING"
    assert second.variables["transfer_source"].endswith(f":bl_xfer:{TARGET}/controller/XML")


def test_uuid_transfer_of_a_channel_the_switch_does_not_run_is_refused(switch: Switch) -> None:
    endpoint = EslEndpoint(*switch.inbound.address, password="ClueCon")
    answers = inbound_api.ask(endpoint, "uuid_transfer 3f1c2a4e-0000-4000-8000-000000000000 2005 XML controller",
                              "uuid_transfer only-one-word")
    assert answers == ["-ERR No such channel!\n", TRANSFER_USAGE]


def connect_replies(wire: list[tuple[str, float, bytes]]) -> list[dict[str, str]]:
    """The CHANNEL_DATA blocks the simulator sent, across its connections, URL-decoded."""
    sent = b"".join(data for kind, _, data in wire if kind == "out")
    found = []
    for block in sent.split(b"Event-Name: CHANNEL_DATA\n")[1:]:
        head = block.split(b"\n\n", 1)[0].decode()
        pairs = (line.split(": ", 1) for line in head.splitlines() if ": " in line)
        found.append({name: urllib.parse.unquote(value) for name, value in pairs})
    return found
