"""Live calls and call history: `/v2/accounts/{id}/channels` lists a call while it rings (from
the serve side's memory, asked over its role socket, as under `controller run`) and
`/v2/accounts/{id}/cdrs` has its record once it ended, with Crossbar's range filters and paging."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import redis
import requests

from controller.api.app import close_app, create_app
from controller.call import Call
from controller.esl import commands
from controller.esl.livecalls import LiveCalls
from controller.esl.server import OutboundServer
from controller.esl.watcher import Watcher
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import run_call
from controller.modules import TERMINATION_HANDLERS, missed_call_alert
from controller.services import Services
from controller.store import keys
from controller.store.cdrs import GREGORIAN_OFFSET, CdrWriter
from controller.store.tokens import Tokens
from tests.live_calls import api_asking_serve, serving_live_calls
from tests.office import ACCOUNT, flow, load, node
from tests.own_redis import wait_for

pytestmark = pytest.mark.timeout(60)


class World:
    def __init__(self, base: str, token: str, server: OutboundServer, live: LiveCalls) -> None:
        self.base, self.token, self.server, self.live = base, token, server, live

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.base + path, params=params, headers={"X-Auth-Token": self.token}, timeout=10)

    def put(self, path: str, data: dict[str, Any]) -> requests.Response:
        return requests.put(self.base + path, json={"data": data}, headers={"X-Auth-Token": self.token}, timeout=10)


@pytest.fixture
def world(rds: redis.Redis, services: Services, tmp_path: Path) -> Iterator[World]:
    load(rds, flow("+15554441111", node("user", {"id": "u-ann", "timeout": 20})),
         flow("+15554442222", node("user", {"id": "u-ann", "timeout": 1})))
    run_dir = tmp_path / "run"
    with serving_live_calls(services, run_dir) as (server, live), api_asking_serve(services, run_dir) as base:
        token = Tokens(services.rds).create(ACCOUNT, admin=True)[0]
        yield World(f"{base}/v2/accounts/{ACCOUNT}", token, server, live)


def test_a_ringing_call_is_listed_in_channels_then_recorded_in_cdrs(world: World) -> None:
    scenario = Scenario(destination="+15554441111", caller_number="+15557770000", caller_name="Carol",
                        account_id=ACCOUNT, bridges=(BridgeOutcome("no_answer", timeout=1.5),))
    placed = gevent.spawn(run_call, world.server.address, scenario, 15.0)
    wait_for(lambda: len(world.get("/channels").json()["data"]) == 1)
    channel = world.get("/channels").json()["data"][0]
    assert channel["caller_id_number"] == "+15557770000" and channel["destination"] == "+15554441111"
    assert channel["answered"] is False and channel["bridged"] is False and channel["direction"] == "inbound"
    assert world.get(f"/channels/{channel['uuid']}").json()["data"]["uuid"] == channel["uuid"]
    record = placed.get(timeout=15)
    assert record.uuid == channel["uuid"]
    wait_for(lambda: world.get("/channels").json()["data"] == [])
    wait_for(lambda: world.get(f"/cdrs/{record.uuid}").status_code == 200)
    cdr = world.get(f"/cdrs/{record.uuid}").json()["data"]
    assert cdr["caller_id_name"] == "Carol" and cdr["caller_id_number"] == "+15557770000"
    assert cdr["dialed_number"] == "+15554441111" and cdr["outcome"] == "missed" and cdr["missed"] is True
    assert cdr["bridged"] is False and cdr["duration_seconds"] >= 1 and cdr["billing_seconds"] == 0
    assert cdr["timestamp"] == cdr["unix_timestamp"] + GREGORIAN_OFFSET
    assert [c["id"] for c in world.get("/cdrs").json()["data"]] == [record.uuid]


def test_an_answered_call_is_recorded_answered_and_not_missed(world: World) -> None:
    scenario = Scenario(destination="+15554442222", account_id=ACCOUNT,
                        bridges=(BridgeOutcome("answered", ring=0.01, talk=0.05),))
    record = run_call(world.server.address, scenario, 15.0)
    wait_for(lambda: world.get(f"/cdrs/{record.uuid}").status_code == 200)
    cdr = world.get(f"/cdrs/{record.uuid}").json()["data"]
    assert cdr["outcome"] == "answered" and cdr["missed"] is False and cdr["answered"] and cdr["bridged"]
    assert cdr["other_leg_call_id"]


def test_cdrs_are_filtered_by_created_range_and_paged_newest_first(world: World, rds: redis.Redis) -> None:
    now = time.time()
    writer = CdrWriter(rds, 30)
    writer.write([{"id": f"c{i}", "account_id": ACCOUNT, "unix_timestamp": int(now) - 3600 * i} for i in range(5)])
    listed = world.get("/cdrs", page_size=2).json()
    assert [c["id"] for c in listed["data"]] == ["c0", "c1"] and listed["next_start_key"] == "c2"
    rest = world.get("/cdrs", page_size=2, start_key="c2").json()
    assert [c["id"] for c in rest["data"]] == ["c2", "c3"]
    since = int(now) - 3600 * 2 - 60 + GREGORIAN_OFFSET
    ranged = world.get("/cdrs", created_from=since, created_to=int(now) - 1800 + GREGORIAN_OFFSET).json()
    assert [c["id"] for c in ranged["data"]] == ["c1", "c2"]
    too_long = world.get("/cdrs", created_from=since - 40 * 86400)
    assert too_long.status_code == 400 and "created_from" in too_long.json()["data"]
    backwards = world.get("/cdrs", created_from=since, created_to=since - 10)
    assert backwards.status_code == 400
    assert world.get("/cdrs/nope").status_code == 404


def test_records_expire_after_the_configured_days_and_the_index_is_trimmed(rds: redis.Redis) -> None:
    writer = CdrWriter(rds, 1)
    now = time.time()
    writer.write([{"id": "old", "account_id": ACCOUNT, "unix_timestamp": int(now) - 2 * 86400},
                  {"id": "new", "account_id": ACCOUNT, "unix_timestamp": int(now)}])
    assert rds.zrange(keys.cdrs(ACCOUNT), 0, -1) == ["new"]
    assert 86000 < rds.ttl(keys.cdr(ACCOUNT, "new")) <= 86400
    assert not rds.exists(keys.cdr(ACCOUNT, "old"))


def test_deleting_the_account_drops_its_call_history(rds: redis.Redis, services: Services) -> None:
    load(rds)
    CdrWriter(rds, 30).write([{"id": "c1", "account_id": ACCOUNT, "unix_timestamp": int(time.time())}])
    services.accounts.delete(ACCOUNT)
    assert not rds.exists(keys.cdrs(ACCOUNT))


def test_channel_actions_are_validated_before_anything_reaches_freeswitch(world: World) -> None:
    assert world.put("/channels/abc-123-def", {"action": "dance"}).status_code == 400
    assert world.put("/channels/abc-123-def", {"action": "hangup"}).status_code == 404  # not a call of the account
    with pytest.raises(ValueError):
        commands.transfer_command("abc-123-def", "1001 XML default")
    with pytest.raises(ValueError):
        commands.transfer_command("abc-123-def", "${system(id)}")
    with pytest.raises(ValueError):
        commands.hangup_command("x\nbgapi")
    assert commands.transfer_command("abc-123-def", "+15554441111") == \
        "uuid_transfer abc-123-def +15554441111 XML controller"


def test_channels_without_a_serve_role_answer_503(services: Services) -> None:
    app = create_app(services)
    try:
        client = app.test_client()
        token = Tokens(services.rds).create(ACCOUNT, admin=True)[0]
        services.accounts.save({"id": ACCOUNT, "name": "Test Office", "realm": "office.test"})
        answer = client.get(f"/v2/accounts/{ACCOUNT}/channels", headers={"X-Auth-Token": token})
        assert answer.status_code == 503
    finally:
        close_app(app)


def test_a_call_whose_controller_died_is_recorded_by_the_watcher_that_completes_it(
    rds: redis.Redis, services: Services
) -> None:
    load(rds)
    data = {"Unique-ID": "orphan-1", "Core-UUID": "core-1", "Caller-Caller-ID-Number": "+15557770000",
            "Caller-Destination-Number": "+15554441111"}
    call = Call(None, data, ACCOUNT, False, services)  # type: ignore[arg-type]
    call.callflow_id = "cf-main"
    call.register_termination(missed_call_alert.alert_if_missed, {"recipients": []})
    services.calls.save(call.snapshot())
    watching = Watcher((), services, TERMINATION_HANDLERS, grace=0.05,
                       cdrs=CdrWriter(services.rds, services.settings.cdr_days, window=0.01))
    watching.on_event({"Event-Name": "CHANNEL_DESTROY", "Unique-ID": "orphan-1", "Hangup-Cause": "NO_ANSWER"})
    wait_for(lambda: rds.exists(keys.cdr(ACCOUNT, "orphan-1")))
    cdr = json.loads(rds.get(keys.cdr(ACCOUNT, "orphan-1")))
    assert cdr["hangup_cause"] == "NO_ANSWER" and cdr["missed"] is True and cdr["dialed_number"] == "+15554441111"
