"""Accounts and the documents that live in them (users, devices, voicemail boxes, groups, menus,
temporal rules and rule sets, media), in Kazoo's shapes, validated against `store/schemas/`. Callflows
have their own store (`callflows.py`) because they carry the number and pattern index."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import redis
from jsonschema.exceptions import ValidationError
from redis.client import Pipeline

from controller.callflows import schema
from controller.errors import ConflictError, DocumentError, NotFoundError
from controller.store import codec, keys, revisions

SCHEMA_OF = {"users": "user.json", "devices": "device.json", "vmboxes": "vmbox.json", "groups": "group.json",
             "menus": "menu.json", "queues": "queue.json", "temporal_rules": "temporal_rule.json",
             "temporal_rules_sets": "temporal_rule_set.json", "media": "media.json",
             "conferences": "conference.json", "lists": "list.json",
             "faxboxes": "faxbox.json", "directories": "directory.json"}


def schema_errors(kind: str, doc: Any) -> list[ValidationError]:
    """Every schema violation of an account (`accounts`) or of a document of one of SCHEMA_OF's kinds."""
    return schema.errors("account.json" if kind == "accounts" else SCHEMA_OF[kind], doc)


def _require_valid(kind: str, doc: Any) -> None:
    found = schema_errors(kind, doc)
    if found:
        raise DocumentError(kind, found[0].json_path, found[0].message)


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
        return [ident for ident, _ in self.parent_documents(account)]

    def parent_documents(self, account: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """`parents_of` with each parent's document."""
        found: list[tuple[str, dict[str, Any]]] = []
        current = account.get("parent_id")
        while current and current not in (i for i, _ in found) and current != account.get("id"):
            doc = codec.load(self._rds.get(keys.account(current)))
            if doc is None:
                break
            found.append((current, doc))
            current = doc.get("parent_id")
        return found

    def descendants(self, aid: str) -> list[str]:
        """Children, grandchildren, ... of an account (breadth first, each once)."""
        found: list[str] = []
        level = [aid]
        while level:
            pipe = self._rds.pipeline(transaction=False)
            for parent in level:
                pipe.smembers(keys.children(parent))
            level = sorted({str(c) for members in pipe.execute() for c in members} - set(found) - {aid})
            found.extend(level)
        return found

    def save(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an account (schema-checked); keeps the parent's children set and bumps
        the account's revision. A parent that does not exist is refused."""
        return self._store(doc, create=False)

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Like `save`, but an account id already in use is refused (ConflictError), atomically."""
        return self._store(doc, create=True)

    def _store(self, doc: dict[str, Any], create: bool) -> dict[str, Any]:
        _require_valid("accounts", doc)
        aid, parent = doc["id"], doc.get("parent_id")
        if parent and (parent == aid or not self.exists(parent)):
            raise DocumentError("account", "$.parent_id", f"no account {parent!r} can be the parent")

        def write(pipe: Pipeline) -> None:
            existing = codec.load(pipe.get(keys.account(aid)))
            if create and existing is not None:
                raise ConflictError(f"id {aid!r}", "another account")
            old = existing or {}
            pipe.multi()
            if old.get("parent_id") and old.get("parent_id") != parent:
                pipe.srem(keys.children(old["parent_id"]), aid)
            if parent:
                pipe.sadd(keys.children(parent), aid)
            pipe.set(keys.account(aid), codec.dump(doc))
            pipe.sadd(keys.ACCOUNTS, aid)
            revisions.bump(pipe, aid)

        self._rds.transaction(write, keys.account(aid))
        return doc

    def delete(self, aid: str) -> None:
        """Remove an account with its documents, index entries, voicemail messages and templates.
        An account that still has children is refused (ConflictError): delete them first."""

        def remove(pipe: Pipeline) -> None:
            doc = codec.load(pipe.get(keys.account(aid)))
            if doc is None:
                raise NotFoundError("account", aid)
            if pipe.scard(keys.children(aid)):
                raise ConflictError(f"account {aid!r}", "its child accounts")
            numbers = pipe.hkeys(keys.numbers(aid))
            boxes = pipe.hkeys(keys.docs(aid, "vmboxes"))
            templates = pipe.smembers(keys.templates(aid))
            pipe.multi()
            stage_unlink(pipe, aid, doc.get("parent_id"), numbers)
            for box in boxes:
                pipe.delete(keys.vm_messages(aid, str(box)), keys.vm_order(aid, str(box)))
            for template_id in templates:
                pipe.delete(keys.template(aid, str(template_id)))
            # each call record expires itself; the agents' statuses go with their users
            pipe.delete(keys.templates(aid), keys.smtplog(aid), keys.cdrs(aid), keys.agent_statuses(aid),
                        keys.queue_waits(aid))
            pipe.srem(keys.ACCOUNTS, aid)
            revisions.bump(pipe, aid)

        self._rds.transaction(remove, keys.account(aid), keys.children(aid), keys.numbers(aid))


class Documents:
    """The documents of one kind (users, devices, vmboxes, ...) of accounts: one Redis hash per
    account and kind."""

    def __init__(self, rds: redis.Redis, kind: str) -> None:
        if kind not in SCHEMA_OF:
            raise ValueError(f"unknown document kind {kind!r}")
        self._rds = rds
        self.kind = kind

    def get(self, aid: str, doc_id: str) -> dict[str, Any]:
        doc = codec.load(self._rds.hget(keys.docs(aid, self.kind), doc_id))
        if doc is None:
            raise NotFoundError(SCHEMA_OF[self.kind].removesuffix(".json"), doc_id)
        return dict(doc)

    def find(self, aid: str, doc_id: str) -> dict[str, Any] | None:
        doc = codec.load(self._rds.hget(keys.docs(aid, self.kind), doc_id))
        return None if doc is None else dict(doc)

    def all(self, aid: str) -> list[dict[str, Any]]:
        values = self._rds.hvals(keys.docs(aid, self.kind))
        return sorted((codec.load(v) for v in values), key=lambda d: str(d.get("id")))

    def save(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Create or replace one document (schema-checked) and bump the account's revision. A
        device keeps the `sip_users` index the call path reads; a SIP username another device of
        the account holds is refused (ConflictError)."""
        _require_valid(self.kind, doc)
        self._rds.transaction(lambda pipe: self._save_in(pipe, aid, doc), *self._watched(aid))
        return doc

    def create(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Like `save`, but an id already in use is refused (ConflictError) in the same
        transaction."""
        _require_valid(self.kind, doc)

        def write(pipe: Pipeline) -> None:
            if pipe.hexists(keys.docs(aid, self.kind), doc["id"]):
                raise ConflictError(f"id {doc['id']!r}", f"another {self.kind} document")
            self._save_in(pipe, aid, doc)

        self._rds.transaction(write, *self._watched(aid))
        return doc

    def update(self, aid: str, doc_id: str,
               change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any] | None:
        """Change one stored document in one transaction, as Kazoo's modules save and retry on a
        conflict: a write to the account's documents in between makes Redis refuse this one and
        `change` runs again on the newer document. `change` returns the new document (schema-
        checked), or None to leave it as it is. None when there is no such document."""

        result: list[dict[str, Any] | None] = [None]

        def write(pipe: Pipeline) -> None:
            text = pipe.hget(keys.docs(aid, self.kind), doc_id)
            found = codec.load(text)
            changed = None if found is None else change(codec.load(text))  # its own copy
            result[0] = found if changed is None else changed
            if changed is not None and changed != found:
                _require_valid(self.kind, changed)
                self._save_in(pipe, aid, changed)

        self._rds.transaction(write, *self._watched(aid))
        return result[0]

    def _watched(self, aid: str) -> list[str]:
        return [keys.docs(aid, self.kind)] + ([keys.sip_users(aid)] if self.kind == "devices" else [])

    def _save_in(self, pipe: Pipeline, aid: str, doc: dict[str, Any]) -> None:
        old = codec.load(pipe.hget(keys.docs(aid, self.kind), doc["id"])) or {}
        old_user, new_user = sip_username(old), sip_username(doc)
        if self.kind == "devices" and new_user:
            holder = pipe.hget(keys.sip_users(aid), new_user)
            if holder is not None and holder != doc["id"]:
                raise ConflictError(f"SIP username {new_user!r}", f"device {holder!r}")
        pipe.multi()
        if self.kind == "devices" and old_user and old_user != new_user:
            pipe.hdel(keys.sip_users(aid), old_user)
        if self.kind == "devices" and new_user:
            pipe.hset(keys.sip_users(aid), new_user, doc["id"])
        pipe.hset(keys.docs(aid, self.kind), doc["id"], codec.dump(doc))
        revisions.bump(pipe, aid)

    def delete(self, aid: str, doc_id: str) -> None:
        """Remove one document (a device's SIP username, a box's messages with it)."""

        def remove(pipe: Pipeline) -> None:
            doc = codec.load(pipe.hget(keys.docs(aid, self.kind), doc_id))
            if doc is None:
                raise NotFoundError(self.kind, doc_id)
            username = sip_username(doc)
            pipe.multi()
            if self.kind == "devices" and username:
                pipe.hdel(keys.sip_users(aid), username)
            if self.kind == "vmboxes":
                pipe.delete(keys.vm_messages(aid, doc_id), keys.vm_order(aid, doc_id))
            pipe.hdel(keys.docs(aid, self.kind), doc_id)
            revisions.bump(pipe, aid)

        self._rds.transaction(remove, *self._watched(aid))


def sip_username(doc: dict[str, Any]) -> str | None:
    sip = doc.get("sip")
    name = sip.get("username") if isinstance(sip, dict) else None
    return str(name) if name else None


def stage_unlink(pipe: Pipeline, aid: str, parent_id: str | None, numbers: Iterable[object]) -> None:
    """Stage taking an account out of the shared indexes (its numbers, its parent's children)
    and deleting its own keys: what deleting or replacing an account starts with."""
    for number in numbers:
        pipe.srem(keys.number_accounts(str(number)), aid)
    if parent_id:
        pipe.srem(keys.children(parent_id), aid)
    pipe.delete(*keys.all_of_account(aid))


def device_by_sip_user(rds: redis.Redis, aid: str, username: str) -> dict[str, Any] | None:
    """The account's device registered with this SIP username (how internal callers are known)."""
    device_id = rds.hget(keys.sip_users(aid), username)
    if device_id is None:
        return None
    return Documents(rds, "devices").find(aid, str(device_id))
