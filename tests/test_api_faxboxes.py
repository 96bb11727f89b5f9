"""/v2/accounts/{id}/faxboxes over real HTTP (Crossbar's cb_faxboxes): CRUD, schema validation
with the field named, access from other accounts, and a call's fax going where the faxbox the
API stored says."""

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.fax import FaxSender
from controller.services import Services
from controller.store import keys
from tests.api_world import Client, serve_api
from tests.office import call, node, queued_jobs

BOX = {"name": "Front desk fax", "fax_identity": "+15550001000", "media": {"fax_option": "auto"},
       "notifications": {"inbound": {"email": {"send_to": ["desk@office.test"]}}}}
BASE = "/v2/accounts/child/faxboxes"


@pytest.fixture
def settings(settings: config.Settings, tmp_path: Path) -> config.Settings:
    return dataclasses.replace(settings, fax_dir=str(tmp_path / "fax"))


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def test_faxboxes_are_created_read_listed_changed_and_deleted(api: Client, rds: redis.Redis) -> None:
    created = api.call("PUT", BASE, json={"data": BOX})
    assert created.status_code == 201
    box_id = created.json()["data"]["id"]
    assert api.ok("GET", f"{BASE}/{box_id}") == {**BOX, "id": box_id}
    assert [d["id"] for d in api.ok("GET", BASE)] == [box_id]
    assert api.ok("PATCH", f"{BASE}/{box_id}", json={"data": {"fax_header": "Front"}})["fax_header"] == "Front"
    assert api.ok("DELETE", f"{BASE}/{box_id}")["id"] == box_id
    assert api.call("GET", f"{BASE}/{box_id}").status_code == 404
    assert rds.hgetall(keys.docs("child", "faxboxes")) == {}


def test_a_faxbox_breaking_its_schema_is_refused_naming_each_field(api: Client, rds: redis.Redis) -> None:
    bad = {"id": "bad", "media": {"fax_option": "sometimes"}, "fax_identity": "x" * 21,
           "notifications": {"inbound": {"email": {"send_to": ["not an address"]}}}}
    response = api.call("PUT", BASE, json={"data": bad})
    assert response.status_code == 400, response.text
    assert set(response.json()["data"]) == {"name", "media.fax_option", "fax_identity",
                                            "notifications.inbound.email.send_to"}
    assert not rds.hexists(keys.docs("child", "faxboxes"), "bad")


def test_another_accounts_faxboxes_can_neither_be_read_nor_changed(api: Client) -> None:
    api.ok("PUT", "/v2/accounts/reseller/faxboxes", json={"data": {**BOX, "id": "boss"}})
    for who in ("child", "other"):
        assert api.call("GET", "/v2/accounts/reseller/faxboxes/boss", who).status_code == 403
        assert api.call("DELETE", "/v2/accounts/reseller/faxboxes/boss", who).status_code == 403


def test_a_faxbox_stored_through_the_api_receives_the_next_fax(
    api: Client, esl_server: OutboundServer, rds: redis.Redis
) -> None:
    api.ok("PUT", BASE, json={"data": {**BOX, "id": "fb-1"}})
    api.ok("PUT", "/v2/accounts/child/callflows",
           json={"data": {"numbers": ["4700"], "flow": node("receive_fax", {"faxbox_id": "fb-1"})}})
    record = call(esl_server, "4700", account_id="child", fax=FaxSender(t38=True))
    settings = record.apps[0][1].split("\x1f")
    assert "fax_ident=+15550001000" in settings and "fax_enable_t38=true" in settings
    [job] = queued_jobs(rds)
    assert job["type"] == "fax_inbound_to_email"
    assert job["recipients"] == [{"type": "email", "id": ["desk@office.test"]}]
