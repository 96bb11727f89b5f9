"""Documents.update on a real Redis: what the feature codes write with (call_forward,
do_not_disturb, hotdesk), one document changed in one transaction, as Kazoo saves and retries
on a conflict."""

import pytest
import redis

from controller.errors import DocumentError
from controller.store import keys
from controller.store.documents import Documents
from tests.office import ACCOUNT, load


def test_a_write_in_between_makes_the_change_run_again_on_the_newer_document(rds: redis.Redis) -> None:
    load(rds)
    users = Documents(rds, "users")
    seen: list[str] = []

    def change(doc: dict) -> dict:
        seen.append(doc["last_name"])
        if len(seen) == 1:  # another writer, between the read and the write
            users.save(ACCOUNT, {**users.get(ACCOUNT, "u-bob"), "last_name": "Other"})
        return {**doc, "do_not_disturb": {"enabled": True}}

    users.update(ACCOUNT, "u-bob", change)
    assert seen == ["Roy", "Other"]
    stored = users.get(ACCOUNT, "u-bob")
    assert stored["last_name"] == "Other" and stored["do_not_disturb"] == {"enabled": True}


def test_a_change_bumps_the_accounts_revision_and_no_change_leaves_it(rds: redis.Redis) -> None:
    load(rds)
    users = Documents(rds, "users")
    before = int(rds.get(keys.revision(ACCOUNT)) or 0)
    assert users.update(ACCOUNT, "u-bob", lambda doc: {**doc, "call_forward": {"enabled": False}}) is not None
    assert int(rds.get(keys.revision(ACCOUNT)) or 0) == before + 1
    users.update(ACCOUNT, "u-bob", lambda doc: None)
    users.update(ACCOUNT, "u-bob", lambda doc: doc)
    assert int(rds.get(keys.revision(ACCOUNT)) or 0) == before + 1


def test_a_change_the_schema_refuses_writes_nothing_and_a_missing_document_is_none(rds: redis.Redis) -> None:
    load(rds)
    devices = Documents(rds, "devices")
    with pytest.raises(DocumentError):
        devices.update(ACCOUNT, "d-bob", lambda doc: {**doc, "hotdesk": {"users": {"../u": {}}}})
    assert "hotdesk" not in devices.get(ACCOUNT, "d-bob")
    assert devices.update(ACCOUNT, "d-none", lambda doc: doc) is None
