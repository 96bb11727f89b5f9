"""/v2/accounts/{id}/users, devices, vmboxes and a box's messages over real HTTP: CRUD, schema
validation on every write, the SIP username index the call path reads, the revision bump that
tells caches to reload, and access from other accounts."""

from collections.abc import Iterator

import gevent
import pytest
import redis

from controller.services import Services
from controller.store import keys
from controller.store.documents import device_by_sip_user
from tests.api_world import Client, serve_api


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def revision(rds: redis.Redis, aid: str) -> int:
    return int(rds.get(keys.revision(aid)) or 0)


def test_users_are_created_read_replaced_merged_listed_and_deleted(api: Client, rds: redis.Redis) -> None:
    start = revision(rds, "child")
    created = api.call("PUT", "/v2/accounts/child/users", json={"data": {"first_name": "Ann", "email": "ann@x.test"}})
    assert created.status_code == 201
    uid = created.json()["data"]["id"]
    assert api.ok("GET", f"/v2/accounts/child/users/{uid}")["email"] == "ann@x.test"
    merged = api.ok("PATCH", f"/v2/accounts/child/users/{uid}", json={"data": {"last_name": "Lee"}})
    assert merged["first_name"] == "Ann" and merged["last_name"] == "Lee"
    replaced = api.ok("POST", f"/v2/accounts/child/users/{uid}", json={"data": {"first_name": "Annie"}})
    assert replaced == {"id": uid, "first_name": "Annie"}
    api.ok("PUT", "/v2/accounts/child/users", json={"data": {"id": "u-bob", "first_name": "Bob"}})
    assert sorted(u["id"] for u in api.ok("GET", "/v2/accounts/child/users")) == sorted([uid, "u-bob"])
    assert api.ok("DELETE", f"/v2/accounts/child/users/{uid}")["id"] == uid
    assert api.call("GET", f"/v2/accounts/child/users/{uid}").status_code == 404
    assert revision(rds, "child") == start + 5


def test_a_users_schema_errors_are_reported_per_field_and_nothing_is_written(api: Client, rds: redis.Redis) -> None:
    bad = {"data": {"id": "u-1", "first_name": 7, "email": "not an address", "priv_level": "boss"}}
    response = api.call("PUT", "/v2/accounts/child/users", json=bad)
    assert response.status_code == 400
    data = response.json()["data"]
    assert set(data) == {"first_name", "email", "priv_level"}
    assert "type" in data["first_name"] and "format" in data["email"] and "enum" in data["priv_level"]
    assert not rds.hexists(keys.docs("child", "users"), "u-1")
    api.ok("PUT", "/v2/accounts/child/users", json={"data": {"id": "u-1", "first_name": "Ok"}})
    assert api.call("PUT", "/v2/accounts/child/users", json={"data": {"id": "u-1"}}).status_code == 409
    bad_id = api.call("PUT", "/v2/accounts/child/users", json={"data": {"id": "has space"}})
    assert bad_id.status_code == 400 and "pattern" in bad_id.json()["data"]["id"]
    assert api.call("POST", "/v2/accounts/child/users/missing", json={"data": {}}).status_code == 404
    assert api.call("PATCH", "/v2/accounts/child/users/missing", json={"data": {}}).status_code == 404
    assert api.call("DELETE", "/v2/accounts/child/users/missing").status_code == 404


def test_device_writes_keep_the_sip_username_index_the_call_path_reads(api: Client, rds: redis.Redis) -> None:
    api.ok("PUT", "/v2/accounts/child/devices", json={"data": {"id": "d-1", "sip": {"username": "2001"}}})
    assert device_by_sip_user(rds, "child", "2001") == {"id": "d-1", "sip": {"username": "2001"}}
    api.ok("PATCH", "/v2/accounts/child/devices/d-1", json={"data": {"sip": {"username": "2002"}}})
    assert device_by_sip_user(rds, "child", "2001") is None
    assert device_by_sip_user(rds, "child", "2002")["id"] == "d-1"  # type: ignore[index]
    taken = api.call("PUT", "/v2/accounts/child/devices", json={"data": {"id": "d-2", "sip": {"username": "2002"}}})
    assert taken.status_code == 409 and "sip.username" in taken.json()["data"]
    assert not rds.hexists(keys.docs("child", "devices"), "d-2")
    api.ok("DELETE", "/v2/accounts/child/devices/d-1")
    assert rds.hgetall(keys.sip_users("child")) == {}


def test_vmboxes_need_a_mailbox(api: Client) -> None:
    missing = api.call("PUT", "/v2/accounts/child/vmboxes", json={"data": {"id": "vm-1"}})
    assert missing.status_code == 400 and missing.json()["data"] == {
        "mailbox": {"required": "'mailbox' is a required property"}}
    assert api.ok("PUT", "/v2/accounts/child/vmboxes", json={"data": {"id": "vm-1", "mailbox": "1001"}})["id"] == "vm-1"


def test_documents_of_another_account_can_neither_be_read_nor_changed(api: Client, rds: redis.Redis) -> None:
    api.ok("PUT", "/v2/accounts/reseller/users", json={"data": {"id": "boss", "first_name": "Boss"}})
    for method, path in (("GET", "/v2/accounts/reseller/users"), ("GET", "/v2/accounts/reseller/users/boss"),
                         ("PATCH", "/v2/accounts/reseller/users/boss"), ("DELETE", "/v2/accounts/reseller/users/boss"),
                         ("PUT", "/v2/accounts/reseller/devices")):
        for who in ("child", "other"):
            response = api.call(method, path, who, json={"data": {"first_name": "Pwned"}})
            assert response.status_code == 403, (method, path, who)
            assert "Boss" not in response.text
    assert api.ok("GET", "/v2/accounts/reseller/users/boss")["first_name"] == "Boss"
    assert api.ok("GET", "/v2/accounts/grandchild/users", "child") == []


def test_paging_through_devices(api: Client) -> None:
    for n in range(5):
        api.ok("PUT", "/v2/accounts/child/devices", json={"data": {"id": f"d-{n}"}})
    seen, start = [], None
    while True:
        query = "?page_size=2" + (f"&start_key={start}" if start else "")
        body = api.call("GET", "/v2/accounts/child/devices" + query).json()
        seen += [d["id"] for d in body["data"]]
        start = body.get("next_start_key")
        if start is None:
            break
    assert seen == [f"d-{n}" for n in range(5)]


def test_voicemail_messages_are_listed_moved_and_deleted(api: Client, services: Services) -> None:
    api.ok("PUT", "/v2/accounts/child/vmboxes", json={"data": {"id": "vm-1", "mailbox": "1001"}})
    for n, stamp in ((1, 300.0), (2, 100.0), (3, 200.0)):
        services.messages.add("child", "vm-1", {"media_id": f"m-{n}", "timestamp": stamp, "caller_id_number": "555"})
    base = "/v2/accounts/child/vmboxes/vm-1/messages"
    assert [m["media_id"] for m in api.ok("GET", base)] == ["m-2", "m-3", "m-1"]
    page = api.call("GET", base + "?page_size=1&start_key=m-3").json()
    assert [m["media_id"] for m in page["data"]] == ["m-3"] and page["next_start_key"] == "m-1"
    assert api.ok("GET", f"{base}/m-3")["folder"] == "new"
    assert api.ok("POST", f"{base}/m-3", json={"data": {"folder": "saved"}})["folder"] == "saved"
    assert api.ok("PATCH", f"{base}/m-1", json={"data": {"folder": "deleted"}})["folder"] == "deleted"
    assert [m["media_id"] for m in api.ok("GET", base + "?folder=saved")] == ["m-3"]
    assert services.messages.counts("child", "vm-1") == {"new": 1, "saved": 1}
    wrong = api.call("PATCH", f"{base}/m-2", json={"data": {"folder": "archive"}})
    assert wrong.status_code == 400 and "enum" in wrong.json()["data"]["folder"]
    extra = api.call("PATCH", f"{base}/m-2", json={"data": {"folder": "saved", "caller_id_number": "1"}})
    assert extra.status_code == 400 and "caller_id_number" in extra.json()["data"]
    assert api.ok("DELETE", f"{base}/m-2")["media_id"] == "m-2"
    assert api.call("GET", f"{base}/m-2").status_code == 404
    assert api.call("GET", "/v2/accounts/child/vmboxes/no-box/messages").status_code == 404
    assert api.call("GET", base, "other").status_code == 403


def test_deleting_a_vmbox_drops_its_messages(api: Client, services: Services, rds: redis.Redis) -> None:
    api.ok("PUT", "/v2/accounts/child/vmboxes", json={"data": {"id": "vm-1", "mailbox": "1001"}})
    services.messages.add("child", "vm-1", {"media_id": "m-1", "timestamp": 1.0})
    api.ok("DELETE", "/v2/accounts/child/vmboxes/vm-1")
    assert not rds.exists(keys.vm_messages("child", "vm-1"), keys.vm_order("child", "vm-1"))


def test_groups_are_validated_and_bump_the_revision(api: Client, rds: redis.Redis) -> None:
    start = revision(rds, "child")
    group = {"id": "sales", "name": "Sales", "endpoints": {"ann": {"type": "user"}, "d-1": {"type": "device"}}}
    assert api.ok("PUT", "/v2/accounts/child/groups", json={"data": group})["endpoints"]["ann"] == {"type": "user"}
    wrong = api.call("PATCH", "/v2/accounts/child/groups/sales", json={"data": {"endpoints": {"x": {"type": "fax"}}}})
    assert wrong.status_code == 400 and "enum" in wrong.json()["data"]["endpoints.x.type"]
    assert api.ok("GET", "/v2/accounts/child/groups/sales")["endpoints"] == group["endpoints"]
    api.ok("DELETE", "/v2/accounts/child/groups/sales")
    assert revision(rds, "child") == start + 2 and rds.hgetall(keys.docs("child", "groups")) == {}


def test_concurrent_creations_with_one_id_have_exactly_one_winner(api: Client) -> None:
    def create(n: int) -> int:
        doc = {"data": {"id": "shared", "first_name": f"Writer{n}"}}
        return api.call("PUT", "/v2/accounts/child/users", json=doc).status_code

    def create_account(n: int) -> int:
        doc = {"data": {"id": "racy", "name": f"Writer{n}"}}
        return api.call("PUT", "/v2/accounts", "super", json=doc).status_code

    for attempt in (create, create_account):
        jobs = [gevent.spawn(attempt, n) for n in range(8)]
        gevent.joinall(jobs, timeout=20, raise_error=True)
        assert sorted(job.value for job in jobs) == [201] + [409] * 7, attempt.__name__
