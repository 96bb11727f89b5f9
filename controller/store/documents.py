"""Accounts and the documents that live in them (users, devices, voicemail boxes), in Kazoo's
shapes, validated against `store/schemas/`. Callflows have their own store (`callflows.py`)
because they carry the number and pattern index."""

from __future__ import annotations

from typing import Any

import redis

from controller.errors import NotFoundError
from controller.store import codec, keys

SCHEMA_OF = {"users": "user.json", "devices": "device.json", "vmboxes": "vmbox.json", "groups": "group.json"}


class Accounts:
    """Account documents and the account tree (parent -> children)."""

    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def get(self, aid: str) -> dict[str, Any]:
        doc = codec.load(self._rds.get(keys.account(aid)))
        if doc is None:
            raise NotFoundError("account", aid)
        return dict(doc)

    def exists(self, aid: str) -> bool:
        return bool(self._rds.exists(keys.account(aid)))

    def ids(self) -> list[str]:
        return sorted(str(a) for a in self._rds.smembers(keys.ACCOUNTS))

    def children(self, aid: str) -> list[str]:
        return sorted(str(a) for a in self._rds.smembers(keys.children(aid)))

    def ancestors(self, aid: str) -> list[str]:
        """Parent, grandparent, ... of an account (nearest first)."""
        return self.parents_of(self.get(aid))

    def parents_of(self, account: dict[str, Any]) -> list[str]:
        """The existing ancestors of an account document (nearest first), stopping at a cycle
        or at a parent that does not exist."""
        found: list[str] = []
        current = account.get("parent_id")
        while current and current not in found and current != account.get("id"):
            doc = codec.load(self._rds.get(keys.account(current)))
            if doc is None:
                break
            found.append(current)
            current = doc.get("parent_id")
        return found


class Documents:
    """Users, devices or voicemail boxes of accounts: one Redis hash per account and kind."""

    def __init__(self, rds: redis.Redis, kind: str) -> None:
        if kind not in SCHEMA_OF:
            raise ValueError(f"unknown document kind {kind!r}")
        self._rds = rds
        self.kind = kind

    def get(self, aid: str, doc_id: str) -> dict[str, Any]:
        doc = codec.load(self._rds.hget(keys.docs(aid, self.kind), doc_id))
        if doc is None:
            raise NotFoundError(self.kind[:-1] if self.kind != "vmboxes" else "vmbox", doc_id)
        return dict(doc)

    def find(self, aid: str, doc_id: str) -> dict[str, Any] | None:
        doc = codec.load(self._rds.hget(keys.docs(aid, self.kind), doc_id))
        return None if doc is None else dict(doc)

    def all(self, aid: str) -> list[dict[str, Any]]:
        values = self._rds.hvals(keys.docs(aid, self.kind))
        return sorted((codec.load(v) for v in values), key=lambda d: str(d.get("id")))


def device_by_sip_user(rds: redis.Redis, aid: str, username: str) -> dict[str, Any] | None:
    """The account's device registered with this SIP username (how internal callers are known)."""
    device_id = rds.hget(keys.sip_users(aid), username)
    if device_id is None:
        return None
    return Documents(rds, "devices").find(aid, str(device_id))


def ringing_context(
    rds: redis.Redis, aid: str, user_id: str
) -> tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]:
    """The account, a user and every device of the account, in one round trip (what ringing a
    user needs)."""
    pipe = rds.pipeline(transaction=False)
    pipe.get(keys.account(aid))
    pipe.hget(keys.docs(aid, "users"), user_id)
    pipe.hvals(keys.docs(aid, "devices"))
    account, user, devices = pipe.execute()
    ordered = sorted((codec.load(d) for d in devices), key=lambda d: str(d.get("id")))
    return codec.load(account) or {}, codec.load(user), ordered


def group_context(
    rds: redis.Redis, aid: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The account and its users, devices and groups (each by id), in one round trip."""
    pipe = rds.pipeline(transaction=False)
    pipe.get(keys.account(aid))
    for kind in ("users", "devices", "groups"):
        pipe.hgetall(keys.docs(aid, kind))
    account, users, devices, groups = pipe.execute()

    def by_id(found: dict[str, str]) -> dict[str, dict[str, Any]]:
        return {str(k): codec.load(found[k]) for k in sorted(found)}

    return codec.load(account) or {}, by_id(users), by_id(devices), by_id(groups)
