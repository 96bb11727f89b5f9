"""Callflow documents and their number/pattern index.

A number belongs to one callflow of an account (Kazoo's rule); saving a callflow that claims a
number another callflow holds raises ConflictError naming that callflow. Every change bumps the
account's revision, which is how each process's compiled-pattern cache learns it is stale.
Writes are Redis transactions (WATCH/MULTI): two controllers saving at once cannot both win a
number.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import redis
from redis.client import Pipeline

from controller.callflows.validate import require_valid
from controller.errors import ConflictError, NotFoundError
from controller.store import codec, keys, revisions


def describe(doc: dict[str, Any]) -> str:
    """How an error names a callflow: its id, and its name when it has one."""
    name = doc.get("name")
    return f"callflow {doc.get('id')!r}" + (f" ({name})" if name else "")


def numbers_of(doc: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(doc.get("numbers") or []))


def foreign_numbers(rds: redis.Redis, aid: str, numbers: Sequence[str]) -> list[str]:
    """The numbers among `numbers` that another account's callflows hold: a number routes to
    exactly one account, as in Kazoo (two accounts holding one would leave it routing to none).
    One round trip; the callers WATCH the same keys, so a race is caught at EXEC."""
    if not numbers:
        return []
    pipe = rds.pipeline(transaction=False)
    for number in numbers:
        pipe.smembers(keys.number_accounts(number))
    return [number for number, holders in zip(numbers, pipe.execute(), strict=True) if set(holders) - {aid}]


def number_watches(numbers: Iterable[str]) -> list[str]:
    """The keys a write of these numbers watches for a competing account."""
    return [keys.number_accounts(number) for number in numbers]


def stage_write(pipe: Pipeline, aid: str, doc: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Queue the writes of one callflow and its index entries (inside a MULTI)."""
    cid = doc["id"]
    new_numbers = numbers_of(doc)
    for number in set(numbers_of(old or {})) - set(new_numbers):
        pipe.hdel(keys.numbers(aid), number)
        pipe.srem(keys.number_accounts(number), aid)
    for number in new_numbers:
        pipe.hset(keys.numbers(aid), number, cid)
        pipe.sadd(keys.number_accounts(number), aid)
    if doc.get("patterns"):
        pipe.hset(keys.patterns(aid), cid, codec.dump(doc["patterns"]))
    else:
        pipe.hdel(keys.patterns(aid), cid)
    pipe.hset(keys.docs(aid, "callflows"), cid, codec.dump(doc))


def stage_delete(pipe: Pipeline, aid: str, doc: dict[str, Any]) -> None:
    for number in numbers_of(doc):
        pipe.hdel(keys.numbers(aid), number)
        pipe.srem(keys.number_accounts(number), aid)
    pipe.hdel(keys.patterns(aid), doc["id"])
    pipe.hdel(keys.docs(aid, "callflows"), doc["id"])


class Callflows:
    """Callflows of accounts, with the index the matcher reads."""

    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def get(self, aid: str, cid: str) -> dict[str, Any]:
        doc = self.find(aid, cid)
        if doc is None:
            raise NotFoundError("callflow", cid)
        return doc

    def find(self, aid: str, cid: str) -> dict[str, Any] | None:
        doc = codec.load(self._rds.hget(keys.docs(aid, "callflows"), cid))
        return None if doc is None else dict(doc)

    def all(self, aid: str) -> list[dict[str, Any]]:
        values = self._rds.hvals(keys.docs(aid, "callflows"))
        return sorted((codec.load(v) for v in values), key=lambda d: str(d.get("id")))

    def owner_of(self, aid: str, number: str) -> str | None:
        """The id of the callflow that holds a number in an account."""
        value = self._rds.hget(keys.numbers(aid), number)
        return None if value is None else str(value)

    def accounts_using(self, number: str) -> list[str]:
        return sorted(str(a) for a in self._rds.smembers(keys.number_accounts(number)))

    def revision(self, aid: str) -> int:
        return int(self._rds.get(keys.revision(aid)) or 0)

    def patterns(self, aid: str) -> dict[str, list[str]]:
        """callflow id -> its patterns, for the whole account."""
        raw = self._rds.hgetall(keys.patterns(aid))
        return {str(cid): list(codec.load(value)) for cid, value in raw.items()}

    def save(self, aid: str, doc: dict[str, Any], checked: bool = False) -> dict[str, Any]:
        """Validate and store a callflow (new when it has no id); returns the stored document.
        `checked`: the caller has just validated this very document (the API does, in a worker
        process: a large flow takes a second of CPU), so it is not validated twice."""
        doc = dict(doc)
        doc.setdefault("id", uuid.uuid4().hex)
        if not checked:
            require_valid(doc, describe(doc))
        self._rds.transaction(
            lambda pipe: self._save_in(pipe, aid, doc), keys.numbers(aid), keys.docs(aid, "callflows"),
            *number_watches(numbers_of(doc)),
        )
        return doc

    def create(self, aid: str, doc: dict[str, Any], checked: bool = False) -> dict[str, Any]:
        """Like `save`, but an id already in use is refused (ConflictError) in the same
        transaction, so two creations with one id cannot both win."""
        doc = dict(doc)
        doc.setdefault("id", uuid.uuid4().hex)
        if not checked:
            require_valid(doc, describe(doc))

        def write(pipe: Pipeline) -> None:
            if pipe.hexists(keys.docs(aid, "callflows"), doc["id"]):
                raise ConflictError(f"id {doc['id']!r}", "another callflow")
            self._save_in(pipe, aid, doc)

        self._rds.transaction(write, keys.numbers(aid), keys.docs(aid, "callflows"), *number_watches(numbers_of(doc)))
        return doc

    def _save_in(self, pipe: Pipeline, aid: str, doc: dict[str, Any]) -> None:
        old = codec.load(pipe.hget(keys.docs(aid, "callflows"), doc["id"]))
        self._check_numbers(pipe, aid, doc)
        pipe.multi()
        stage_write(pipe, aid, doc, old)
        revisions.bump(pipe, aid)

    def _check_numbers(self, pipe: Pipeline, aid: str, doc: dict[str, Any]) -> None:
        wanted = numbers_of(doc)
        if not wanted:
            return
        for number, holder in zip(wanted, pipe.hmget(keys.numbers(aid), wanted), strict=True):
            if holder is not None and holder != doc["id"]:
                other = codec.load(pipe.hget(keys.docs(aid, "callflows"), holder)) or {"id": holder}
                raise ConflictError(f"number {number!r}", describe(other))
        for number in foreign_numbers(self._rds, aid, wanted):
            raise ConflictError(f"number {number!r}", "another account")

    def delete(self, aid: str, cid: str) -> None:
        def remove(pipe: Pipeline) -> None:
            doc = codec.load(pipe.hget(keys.docs(aid, "callflows"), cid))
            if doc is None:
                raise NotFoundError("callflow", cid)
            pipe.multi()
            stage_delete(pipe, aid, doc)
            revisions.bump(pipe, aid)

        self._rds.transaction(remove, keys.numbers(aid), keys.docs(aid, "callflows"))

    def save_many(self, aid: str, docs: Iterable[dict[str, Any]], chunk: int = 2000) -> int:
        """Bulk import of already-validated callflows with distinct numbers (benchmarks, bundle
        loads); written in pipelined chunks. Returns how many were written."""
        count = 0
        pipe = self._rds.pipeline(transaction=False)
        for doc in docs:
            stage_write(pipe, aid, doc, None)
            count += 1
            if count % chunk == 0:
                pipe.execute()
        revisions.bump(pipe, aid)
        pipe.execute()
        return count
