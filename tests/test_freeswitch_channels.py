"""Live calls and call history through a real FreeSWITCH: a SIPp call to the office's number is
listed in /channels while Ben's phone rings, `PUT /channels/{uuid}` with `hangup` ends it
(`uuid_kill` over FreeSWITCH's inbound event socket), and its record is in /cdrs after it."""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from controller.config import EslEndpoint
from controller.lab.freeswitch import ESL_PASSWORD
from controller.services import Services
from controller.store.bundle import load_bundle
from controller.store.tokens import Tokens
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    ALERT_ALICE,
    ALICE,
    BEN,
    CALLER,
    CHLOE,
    DID,
    OFFICE,
    finish,
    mail,
    mailbox,
    main_number,
    node,
    settings,
    wait_for,
)
from tests.freeswitch_harness import FreeSwitch, Sipp, SippRun
from tests.live_calls import api_asking_serve, serving_live_calls

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]


@dataclasses.dataclass
class Office:
    base: str
    token: str

    def get(self, path: str) -> Any:
        answer = requests.get(self.base + path, headers={"X-Auth-Token": self.token}, timeout=10)
        return answer.status_code, answer.json()["data"]

    def put(self, path: str, data: dict[str, Any]) -> int:
        answer = requests.put(self.base + path, json={"data": data}, headers={"X-Auth-Token": self.token}, timeout=10)
        return answer.status_code


@pytest.fixture
def office_api(fs: FreeSwitch, services: Services, tmp_path: Path) -> Iterator[Office]:
    """The controller's outbound server keeping its calls in memory, the serve role's socket
    answering `channels`, and the API asking it, with FreeSWITCH's inbound event socket for the
    actions."""
    endpoint = EslEndpoint("127.0.0.1", fs.ports.esl, ESL_PASSWORD)
    services = dataclasses.replace(services, settings=dataclasses.replace(services.settings, freeswitch=(endpoint,)))
    run_dir = tmp_path / "run"
    with serving_live_calls(services, run_dir, (endpoint,)), api_asking_serve(services, run_dir) as base:
        token = Tokens(services.rds).create(ACCOUNT_ID, admin=True)[0]
        yield Office(f"{base}/v2/accounts/{ACCOUNT_ID}", token)


def test_a_ringing_call_is_listed_hung_up_through_the_api_and_recorded(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office_api: Office
) -> None:
    main_number(rds, node("user", {"id": BEN["id"], "timeout": 30}))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID)
    wait_for(lambda: len(office_api.get("/channels")[1]) == 1, "the call in /channels")
    [channel] = office_api.get("/channels")[1]
    assert channel["caller_id_number"] == CALLER and channel["destination"] == DID
    assert channel["answered"] is False and channel["bridged"] is False
    wait_for(lambda: phone.received()[:1] == [f"INVITE sip:1002@127.0.0.1:{phone.port};transport=UDP SIP/2.0"],
             "Ben's phone ringing")
    assert office_api.put(f"/channels/{channel['uuid']}", {"action": "hangup"}) == 202
    finish(fs, caller, phone)
    assert not caller.received()[-1].startswith("SIP/2.0 200"), caller.received()
    wait_for(lambda: office_api.get(f"/cdrs/{channel['uuid']}")[0] == 200, "the call's record")
    _, cdr = office_api.get(f"/cdrs/{channel['uuid']}")
    assert cdr["caller_id_number"] == CALLER and cdr["dialed_number"] == DID
    assert cdr["hangup_cause"] == "NORMAL_CLEARING" and cdr["bridged"] is False and cdr["missed"] is True
    assert office_api.get("/channels")[1] == []
    assert [line for line in fs.log_since(mark) if "uuid_kill" in line or "NORMAL_CLEARING" in line]
    assert fs.errors_since(mark) == []



def test_a_call_transferred_through_the_api_leaves_the_ringing_phone_for_the_target(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office_api: Office
) -> None:
    """`uuid_transfer` into the controller context: the caller's leg comes back to the controller
    as a new connection for the target's callflow (Chloe's phone, which answers)."""
    mark = fs.mark()
    moved = transfer_while_ben_rings(fs, sipp, rds, office_api, node("user", {"id": BEN["id"], "timeout": 30}),
                                     node("user", {"id": CHLOE["id"], "timeout": 20}), "uas_answer.xml")
    assert "SIP/2.0 200 OK" in moved.caller.received()  # Chloe answered the transferred call
    assert moved.phone.received()[0].startswith("INVITE ")
    assert any("Transfer" in line and f"{TARGET}@controller" in line for line in fs.log_since(mark))
    wait_for(lambda: office_api.get(f"/cdrs/{moved.uuid}")[1].get("bridged") is True, "the final record")
    assert office_api.put(f"/channels/{moved.uuid}", {"action": "transfer", "target": "20 03"}) in (400, 404)


TARGET = "2005"  # the number the calls below are transferred to


@dataclasses.dataclass(frozen=True)
class Transferred:
    uuid: str
    caller: SippRun
    phone: SippRun  # Chloe's, which the target's callflow rings


def transfer_while_ben_rings(fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office_api: Office,
                             first: dict[str, Any], target: dict[str, Any], chloe: str) -> Transferred:
    """A call to the main number (`first`) transferred through the API to TARGET (`target`) while
    Ben's phone rings; Chloe's phone plays `chloe`. Returns once all is over."""
    callflows = [{"id": "fs-test-main", "numbers": [DID], "flow": first},
                 {"id": "fs-test-target", "numbers": [TARGET], "flow": target}]
    load_bundle(rds, {**OFFICE, "callflows": callflows}, "a transfer")
    ben = sipp.phone("1002", "uas_ring_forever.xml")
    phone = sipp.phone("1003", chloe)
    caller = sipp.call(DID, "-d", "2000")
    wait_for(lambda: len(office_api.get("/channels")[1]) == 1, "the call in /channels")
    [channel] = office_api.get("/channels")[1]
    wait_for(lambda: [line.split()[0] for line in ben.received()][:1] == ["INVITE"], "Ben's phone ringing")
    assert office_api.put(f"/channels/{channel['uuid']}", {"action": "transfer", "target": TARGET}) == 202
    finish(fs, caller, ben, phone)
    assert [line.split()[0] for line in ben.received()][:2] == ["INVITE", "CANCEL"]
    return Transferred(str(channel["uuid"]), caller, phone)


def test_a_ringing_call_transferred_to_a_phone_that_answers_is_not_a_missed_call(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office_api: Office, settings: Any, mailbox: tuple[int, Path],
) -> None:
    """The first flow's missed-call alert is handed over to the flow that takes the call, and
    judges the whole call at its end: Chloe answered, so no email (it used to go out at the
    transfer, the call still ringing)."""
    first = node("missed_call_alert", ALERT_ALICE, _=node("user", {"id": BEN["id"], "timeout": 30}))
    transfer_while_ben_rings(fs, sipp, rds, office_api, first, node("user", {"id": CHLOE["id"], "timeout": 20}),
                             "uas_answer.xml")
    assert mail(settings, mailbox[1]) == []


def test_a_transferred_call_nobody_answers_is_one_missed_call_email(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office_api: Office, settings: Any, mailbox: tuple[int, Path],
) -> None:
    """Both flows registered an alert (Alice's, then Chloe's) and nobody answered: one email for
    the one missed call, at its end (the call's first alert, handed over, is queued first)."""
    first = node("missed_call_alert", ALERT_ALICE, _=node("user", {"id": BEN["id"], "timeout": 30}))
    target = node("missed_call_alert", {"recipients": [{"type": "user", "id": CHLOE["id"]}]},
                  _=node("user", {"id": CHLOE["id"], "timeout": 2}))
    uuid = transfer_while_ben_rings(fs, sipp, rds, office_api, first, target, "uas_ring_forever.xml").uuid
    [message] = mail(settings, mailbox[1])
    assert message["To"] == ALICE["email"] and message["Subject"].startswith("Missed call from")
    assert rds.exists(f"call:{uuid}") == 0  # finished here: nothing left for a watcher
