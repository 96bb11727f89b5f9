"""What delivering a batch of jobs needs to know, read from Redis in two round trips for the whole
batch rather than four per job.

First trip: each job's sent records (the job's idempotency key, its email part and the recipients
its email already reached while others wait for a retry), each account
document and its recipient users (once per account, whatever the number of its jobs). Second
trip: the template copies along each account's lineage (account, parents, system; an account with
parents costs one read per parent in between), once per account and template. Templates that send
to the account's admins get the account's users in a third trip. Nothing is kept between batches:
an edited template, account or user is seen by the next batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import redis

from controller.notify import addresses
from controller.notify.sender import account_sender
from controller.notify.templates import SYSTEM, Template, first_stored
from controller.store import codec, keys
from controller.store.documents import Accounts


@dataclasses.dataclass(frozen=True)
class Context:
    """One job's account, users (by id), template, whether it (or its email) was delivered, and
    the recipients its email already reached (address -> receipt). `has_account`: the account
    exists (a job for one that does not is dead-lettered, not mailed with empty values).
    `sender`: the `notifications.from` of the account or its nearest parent (sender.py)."""

    account: dict[str, Any]
    users: dict[str, dict[str, Any]]
    template: Template | None
    sent: bool = False
    email_sent: bool = False
    delivered_to: dict[str, str] = dataclasses.field(default_factory=dict)
    has_account: bool = True
    sender: str = ""


def _user_ids(job: dict[str, Any]) -> list[str]:
    return [ident for ident, _ in addresses.recipient_users(job["recipients"], {})]


def _wants_admins(template: Template | None) -> bool:
    fields = template.fields if template is not None else {}
    return any((fields.get(rule) or {}).get("type") == "admins" for rule in ("to", "cc", "bcc"))


def _users(docs: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    return {str(user.get("id")): user for user in map(codec.load, docs) if user}


class ContextReader:
    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def read(self, jobs: list[dict[str, Any]]) -> list[Context]:
        """The contexts of valid jobs, in order. Each account, its users and each template are
        read once per batch, however many of its jobs the batch holds."""
        sent, reached, accounts, users = self._accounts(jobs)
        ancestors = {aid: Accounts(self._rds).parent_documents(account or {"id": aid})
                     for aid, account in accounts.items()}
        owners = {aid: [aid, *(ident for ident, _ in ancestors[aid]), SYSTEM] for aid in accounts}
        senders = {aid: account_sender([accounts[aid], *(doc for _, doc in ancestors[aid])]) for aid in accounts}
        wanted = list(dict.fromkeys((job["account_id"], job["template_id"]) for job in jobs))
        found = self._templates([(owners[aid], template_id) for aid, template_id in wanted])
        templates = dict(zip(wanted, found, strict=True))
        admins = self._admins({aid for (aid, _), template in templates.items() if _wants_admins(template)})
        return [
            Context(accounts[job["account_id"]] or {"id": job["account_id"]},
                    {**admins.get(job["account_id"], {}), **users[job["account_id"]]},
                    templates[job["account_id"], job["template_id"]], sent[2 * n] is not None,
                    sent[2 * n + 1] is not None, reached[n], has_account=accounts[job["account_id"]] is not None,
                    sender=senders[job["account_id"]])
            for n, job in enumerate(jobs)
        ]

    def _accounts(
        self, jobs: list[dict[str, Any]]
    ) -> tuple[list[str | None], list[dict[str, str]], dict[str, dict[str, Any] | None],
               dict[str, dict[str, dict[str, Any]]]]:
        """The sent records of the jobs (key, key:email for each), the recipients each one reached,
        and by account id its document (None when there is none) and its recipient users."""
        wanted: dict[str, set[str]] = {}
        for job in jobs:
            wanted.setdefault(job["account_id"], set()).update(_user_ids(job))
        pipe = self._rds.pipeline(transaction=False)
        pipe.mget([keys.queue_sent(job["idempotency_key"] + part) for job in jobs for part in ("", ":email")])
        for job in jobs:
            pipe.hgetall(keys.queue_delivered_to(job["idempotency_key"]))
        for aid, ids in wanted.items():
            pipe.get(keys.account(aid))
            if ids:
                pipe.hmget(keys.docs(aid, "users"), sorted(ids))
        replies = iter(pipe.execute())
        sent = next(replies)
        reached = [next(replies) for _ in jobs]
        accounts: dict[str, dict[str, Any] | None] = {}
        users: dict[str, dict[str, dict[str, Any]]] = {}
        for aid, ids in wanted.items():
            accounts[aid] = codec.load(next(replies))
            users[aid] = _users(next(replies)) if ids else {}
        return sent, reached, accounts, users

    def _templates(self, wanted: list[tuple[list[str], str]]) -> list[Template | None]:
        """Template lookups (owners in order, template id), one MGET each, in one round trip."""
        pipe = self._rds.pipeline(transaction=False)
        for owners, template_id in wanted:
            pipe.mget([keys.template(owner, template_id) for owner in owners])
        found = zip(wanted, pipe.execute(), strict=True)
        return [first_stored(owners, template_id, stored) for (owners, template_id), stored in found]

    def _admins(self, accounts: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Every user of these accounts (the `admins` rule looks for them)."""
        if not accounts:
            return {}
        pipe = self._rds.pipeline(transaction=False)
        ordered = sorted(accounts)
        for aid in ordered:
            pipe.hvals(keys.docs(aid, "users"))
        return {aid: _users(docs) for aid, docs in zip(ordered, pipe.execute(), strict=True)}
