"""Notification templates (Kazoo's teletype templates): system defaults shipped in
`notify/templates/` (`<id>.json` fields, `<id>.txt` and `<id>.html` bodies), a system override
and per-account copies in Redis. Lookup cascades: the account, its parents, the system."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from controller.store import codec, keys
from controller.store.documents import Accounts

DEFAULTS = Path(__file__).with_name("templates")
SYSTEM = "system"


@dataclasses.dataclass(frozen=True)
class Template:
    id: str
    owner: str  # the account whose copy this is, or "system"
    fields: dict[str, Any]
    text: str
    html: str

    @property
    def enabled(self) -> bool:
        return self.fields.get("enabled", True) is not False

    @property
    def charset(self) -> str:
        return str(self.fields.get("template_charset") or "utf-8")


@functools.cache
def packaged(template_id: str) -> Template | None:
    path = DEFAULTS / f"{template_id}.json"
    if not path.is_file():
        return None
    fields = json.loads(path.read_text(encoding="utf-8"))
    text = (DEFAULTS / f"{template_id}.txt").read_text(encoding="utf-8")
    html = (DEFAULTS / f"{template_id}.html").read_text(encoding="utf-8")
    return Template(template_id, SYSTEM, fields, text, html)


def stored_template(owner: str, template_id: str, raw: str | bytes | None) -> Template | None:
    """A template as Redis stores it (None when there is none)."""
    doc = codec.load(raw)
    if doc is None:
        return None
    return Template(template_id, owner, doc["fields"], doc.get("text", ""), doc.get("html", ""))


def first_stored(owners: list[str], template_id: str, stored: Sequence[str | bytes | None]) -> Template | None:
    """The first stored copy among the owners' (nearest first), else the packaged default: the
    cascade account -> parents -> system -> packaged, once the copies are read."""
    for owner, raw in zip(owners, stored, strict=True):
        template = stored_template(owner, template_id, raw)
        if template is not None:
            return template
    return packaged(template_id)


class Templates:
    """Template lookup and storage."""

    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def save(self, owner: str, template_id: str, fields: dict[str, Any], text: str, html: str) -> None:
        doc = {"fields": fields, "text": text, "html": html}
        self._rds.set(keys.template(owner, template_id), codec.dump(doc))

    def find(self, aid: str, template_id: str, account: dict[str, Any] | None = None) -> Template | None:
        """The account's copy, else its parents', else the system's (one MGET for them all)."""
        if account is None:
            account = codec.load(self._rds.get(keys.account(aid))) or {"id": aid}
        owners = [aid, *Accounts(self._rds).parents_of(account), SYSTEM]
        stored = self._rds.mget([keys.template(owner, template_id) for owner in owners])
        return first_stored(owners, template_id, stored)

    # --- writes and listings used by the HTTP API ---------------------------------------------------

    def own(self, owner: str, template_id: str) -> Template | None:
        """The owner's own copy (no cascade)."""
        return stored_template(owner, template_id, self._rds.get(keys.template(owner, template_id)))

    def ids(self, owner: str) -> list[str]:
        """Ids of the templates an owner defines (those written with `put`)."""
        return sorted(str(i) for i in self._rds.smembers(keys.templates(owner)))

    def put(self, owner: str, template_id: str, fields: dict[str, Any], text: str, html: str) -> None:
        """Save an owner's copy and list it in the owner's index, in one transaction."""
        pipe = self._rds.pipeline(transaction=True)
        pipe.set(keys.template(owner, template_id), codec.dump({"fields": fields, "text": text, "html": html}))
        pipe.sadd(keys.templates(owner), template_id)
        pipe.execute()

    def remove(self, owner: str, template_id: str) -> bool:
        pipe = self._rds.pipeline(transaction=True)
        pipe.delete(keys.template(owner, template_id))
        pipe.srem(keys.templates(owner), template_id)
        removed, _ = pipe.execute()
        return bool(removed)

    def save_transient(
        self, owner: str, template_id: str, fields: dict[str, Any], text: str, html: str, *, ttl: int
    ) -> None:
        """A copy that expires by itself and is never listed (a one-off message's template)."""
        doc = {"fields": fields, "text": text, "html": html}
        self._rds.set(keys.template(owner, template_id), codec.dump(doc), ex=ttl)


def packaged_ids() -> list[str]:
    """Ids of the system defaults shipped with the package."""
    return sorted(path.stem for path in DEFAULTS.glob("*.json"))
