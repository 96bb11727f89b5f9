"""Voicemail message metadata in Redis."""

from __future__ import annotations

import pytest

from controller.errors import NotFoundError
from controller.store.voicemail import VoicemailMessages


def message(media_id: str, timestamp: float, **extra: object) -> dict[str, object]:
    return {"media_id": media_id, "timestamp": timestamp, "length": 7, "caller_id_number": "+15550100", **extra}


def test_messages_are_listed_oldest_first_and_counted_by_folder(rds) -> None:
    store = VoicemailMessages(rds)
    store.add("acct", "vm1", message("b", 200.0))
    store.add("acct", "vm1", message("a", 100.0))
    store.add("acct", "vm1", message("c", 300.0, folder="saved"))
    assert [m["media_id"] for m in store.all("acct", "vm1")] == ["a", "b", "c"]
    assert [m["media_id"] for m in store.all("acct", "vm1", "new")] == ["a", "b"]
    assert store.counts("acct", "vm1") == {"new": 2, "saved": 1}
    assert store.all("acct", "other") == []


def test_move_and_remove(rds) -> None:
    store = VoicemailMessages(rds)
    store.add("acct", "vm1", message("a", 100.0))
    assert store.move("acct", "vm1", "a", "deleted")["folder"] == "deleted"
    assert store.counts("acct", "vm1") == {"new": 0, "saved": 0}
    assert store.remove("acct", "vm1", "a") is True
    assert store.remove("acct", "vm1", "a") is False
    with pytest.raises(NotFoundError):
        store.get("acct", "vm1", "a")


def test_unknown_folder_is_refused(rds) -> None:
    store = VoicemailMessages(rds)
    with pytest.raises(ValueError, match="folder"):
        store.add("acct", "vm1", message("a", 1.0, folder="trash"))
    store.add("acct", "vm1", message("a", 1.0))
    with pytest.raises(ValueError, match="folder"):
        store.move("acct", "vm1", "a", "trash")
