"""What delivering a batch of jobs needs to know, read from Redis in two round trips for the whole
batch rather than four per job.

First trip: each job's sent records (the job's idempotency key and its email part), each account
document, the recipient users. Second trip: the template copies along each account's lineage
(account, parents, system; an account with parents costs one read per parent in between).
Templates that send to the account's admins get the account's users in a third trip. Nothing is
kept between batches: an edited template, account or user is seen by the next batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import redis

from controller.notify import addresses
from controller.notify.templates import SYSTEM, Template, packaged
from controller.store import codec, keys
from controller.store.documents import Accounts


@dataclasses.dataclass(frozen=True)
class Context:
    """One job's account, users (by id), template, and whether it (or its email) was delivered."""

    account: dict[str, Any]
    users: dict[str, dict[str, Any]]
    template: Template | None
    sent: bool = False
    email_sent: bool = False


def _user_ids(job: dict[str, Any]) -> list[str]:
    return [ident for ident, _ in addresses.recipient_users(job["recipients"], {})]


def _wants_admins(template: Template | None) -> bool:
    fields = template.fields if template is not None else {}
    return any((fields.get(rule) or {}).get("type") == "admins" for rule in ("to", "cc", "bcc"))


def _users(docs: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    return {str(user.get("id")): user for user in map(codec.load, docs) if user}


def _first(owners: list[str], template_id: str, stored: list[str | None]) -> Template | None:
    """The first stored copy among the owners' (in order), else the packaged default."""
    for owner, raw in zip(owners, stored, strict=True):
        doc = codec.load(raw)
        if doc is not None:
            return Template(template_id, owner, doc["fields"], doc.get("text", ""), doc.get("html", ""))
    return packaged(template_id)


class ContextReader:
    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def read(self, jobs: list[dict[str, Any]]) -> list[Context]:
        """The contexts of valid jobs, in order."""
        pipe = self._rds.pipeline(transaction=False)
        for job in jobs:
            key = job["idempotency_key"]
            pipe.mget(keys.queue_sent(key), keys.queue_sent(key + ":email"))
            pipe.get(keys.account(job["account_id"]))
            ids = _user_ids(job)
            if ids:
                pipe.hmget(keys.docs(job["account_id"], "users"), ids)
        replies = iter(pipe.execute())
        firsts = []
        for job in jobs:
            sent, raw_account = next(replies), next(replies)
            users = _users(next(replies)) if _user_ids(job) else {}
            account = codec.load(raw_account) or {"id": job["account_id"]}
            firsts.append((sent, account, users))
        accounts = {job["account_id"]: account for job, (_, account, _) in zip(jobs, firsts, strict=True)}
        lineage = Accounts(self._rds).parents_of
        owners = {aid: [aid, *lineage(account), SYSTEM] for aid, account in accounts.items()}
        templates = self._templates([(owners[job["account_id"]], job["template_id"]) for job in jobs])
        admins = self._admins({job["account_id"] for job, t in zip(jobs, templates, strict=True) if _wants_admins(t)})
        return [
            Context(account, {**admins.get(job["account_id"], {}), **users}, template, sent[0] is not None,
                    sent[1] is not None)
            for job, (sent, account, users), template in zip(jobs, firsts, templates, strict=True)
        ]

    def _templates(self, wanted: list[tuple[list[str], str]]) -> list[Template | None]:
        """Template lookups (owners in order, template id), one MGET each, in one round trip."""
        pipe = self._rds.pipeline(transaction=False)
        for owners, template_id in wanted:
            pipe.mget([keys.template(owner, template_id) for owner in owners])
        found = zip(wanted, pipe.execute(), strict=True)
        return [_first(owners, template_id, stored) for (owners, template_id), stored in found]

    def _admins(self, accounts: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Every user of these accounts (the `admins` rule looks for them)."""
        if not accounts:
            return {}
        pipe = self._rds.pipeline(transaction=False)
        ordered = sorted(accounts)
        for aid in ordered:
            pipe.hvals(keys.docs(aid, "users"))
        return {aid: _users(docs) for aid, docs in zip(ordered, pipe.execute(), strict=True)}
