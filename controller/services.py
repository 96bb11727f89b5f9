"""The shared parts a call may use, built once in the process entry point and passed down
(no module-level clients). Modules reach them through `call.services`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import redis

from controller.callflows.matcher import Matcher
from controller.callstate import CallStates
from controller.config import Settings
from controller.metrics import Metrics
from controller.notify.queue import JobQueue
from controller.spool import Spool, call_spool
from controller.store import codec, keys
from controller.store.cache import (
    AccountCache,
    CallViews,
    Views,
    device_text,
    document_text,
    group_texts,
    ringing_texts,
    temporal_texts,
)
from controller.store.callflows import Callflows
from controller.store.documents import Accounts, Documents
from controller.store.voicemail import VoicemailMessages

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Services:
    settings: Settings
    rds: redis.Redis
    accounts: Accounts
    users: Documents
    devices: Documents
    vmboxes: Documents
    messages: VoicemailMessages
    callflows: Callflows
    matcher: Matcher
    queue: JobQueue
    calls: CallStates
    # What calls read from accounts, kept while the account's revision stays (store/cache.py);
    # None reads Redis every time.
    cache: Views | None = None
    # This process's Prometheus metrics (controller/metrics.py); None counts nothing.
    metrics: Metrics | None = None
    # Where calls whose end could not reach Redis wait for it (controller/spool.py); None: nowhere.
    spool: Spool | None = None

    def _texts(self, aid: str, key: Hashable, load: Callable[[], T]) -> T:
        """What `load` reads from the account, from the cache under the account's revision
        when there is one (store/cache.py), else from Redis."""
        return load() if self.cache is None else self.cache.view(aid).get(key, load)

    def account(self, aid: str) -> dict[str, Any]:
        """The account document ({} when there is none)."""
        return codec.load(self._texts(aid, ("account",), lambda: self.rds.get(keys.account(aid)))) or {}

    def ringing_context(
        self, aid: str, user_id: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]:
        """The account, the user and the account's devices: one Redis round trip (the
        account's revision, when they are cached)."""
        account, user, devices = self._texts(aid, ("ringing", user_id), lambda: ringing_texts(self.rds, aid, user_id))
        ordered = sorted((codec.load(d) for d in devices), key=lambda d: str(d.get("id")))
        return codec.load(account) or {}, codec.load(user), ordered

    def calling_device(self, aid: str, username: str) -> dict[str, Any] | None:
        """The account's device registered with this SIP username (how internal callers are
        known: every call from a phone asks, so the answer is cached like the rest)."""
        return codec.load(self._texts(aid, ("sip-user", username), lambda: device_text(self.rds, aid, username)))

    def group_context(
        self, aid: str
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """The account and its users, devices and groups by id, in one Redis round trip (what a
        ring group needs; the account's revision only, when they are cached)."""
        account, users, devices, groups = self._texts(aid, ("group",), lambda: group_texts(self.rds, aid))
        return codec.load(account) or {}, _by_id(users), _by_id(devices), _by_id(groups)

    def document(self, aid: str, kind: str, doc_id: str) -> dict[str, Any] | None:
        """One document of the account (a menu a callflow names), cached like the rest."""
        return codec.load(self._texts(aid, ("doc", kind, doc_id), lambda: document_text(self.rds, aid, kind, doc_id)))

    def temporal_context(
        self, aid: str
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """The account and its temporal rules and rule sets by id, in one Redis round trip
        (what a temporal_route needs; the account's revision only, when they are cached)."""
        account, rules, sets = self._texts(aid, ("temporal",), lambda: temporal_texts(self.rds, aid))
        return codec.load(account) or {}, _by_id(rules), _by_id(sets)

    def for_call(self) -> Services:
        """The services one call uses: its account's revision is read once at its start (and
        again after a second), not before every lookup (store/cache.py: CallViews). A copy
        with the call's views (dataclasses.replace would look at every field for each call)."""
        if not isinstance(self.cache, AccountCache):
            return self
        copy = object.__new__(Services)
        copy.__dict__.update(self.__dict__)
        object.__setattr__(copy, "cache", CallViews(self.cache))
        return copy

    @classmethod
    def build(cls, settings: Settings, rds: redis.Redis, metrics: Metrics | None = None) -> Services:
        cache = AccountCache(rds)
        return cls(
            settings=settings,
            rds=rds,
            accounts=Accounts(rds),
            users=Documents(rds, "users"),
            devices=Documents(rds, "devices"),
            vmboxes=Documents(rds, "vmboxes"),
            messages=VoicemailMessages(rds),
            callflows=Callflows(rds),
            matcher=Matcher(rds, accounts=cache),
            queue=JobQueue(rds, metrics=metrics),
            calls=CallStates(rds),
            cache=cache,
            metrics=metrics,
            spool=call_spool(settings.data_dir),
        )


def _by_id(found: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Stored documents by id, parsed, in id order."""
    return {str(k): codec.load(found[k]) for k in sorted(found)}
