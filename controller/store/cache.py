"""What calls read from an account (callflows, the number index, the account, users, devices,
menus, temporal rules), kept in this process for as long as the account's revision stays the same.

Every write to an account's callflows, documents or the account itself bumps
`account:{aid}:revision` and publishes a notice in the same transaction (store/revisions.py,
used by store/callflows.py, store/documents.py, store/bundle.py). A call reads the revision
first (one GET) and only then anything else, so a value cached under revision R was read after
R was current: it is at least as new as R, and any later change moves the revision and empties
the account's entries. A change is therefore seen by the next call, in this process and in
every other controller sharing the Redis. (The revision is never deleted nor lowered: deleting
an account bumps it too.) A process serving calls also follows the notices (RevisionWatch):
while it does, an account with no notice since its revision was read is served without the
GET, and a notice sends the next call back to Redis. While Redis is unavailable, an account
this process holds a view of is served from it as it was (stale if error): its calls are
routed as before and their alerts wait in the spool, instead of being turned away.

Values are kept as the JSON text Redis holds and parsed again for each call, so a module that
changes what it was given cannot change what the next call reads.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar

import redis

from controller.store import keys
from controller.store.connection import UNAVAILABLE
from controller.store.revisions import RevisionWatch, Stamp

log = logging.getLogger(__name__)
T = TypeVar("T")
_MISSING = object()
# How long one call goes on reading its account at the revision it last read (see CallViews).
CALL_REFRESH_SECONDS = 1.0


class AccountView:
    """The cached values of one account at one revision."""

    __slots__ = ("_limit", "_values", "revision", "stamp")

    def __init__(self, revision: int, limit: int, stamp: Stamp | None = None) -> None:
        self.revision = revision
        self.stamp = stamp  # the revision watch's stamp taken before the revision was read
        self._values: dict[Hashable, Any] = {}
        self._limit = limit

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value under `key`, loaded (after the revision was read) on a miss."""
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            value = load()
            if len(self._values) >= self._limit:
                self._values.clear()
            self._values[key] = value
        return value


class AccountCache:
    """Per-process views of the accounts calls are reaching, newest revision only."""

    def __init__(self, rds: redis.Redis, max_accounts: int = 1024, max_entries: int = 4096) -> None:
        self._rds = rds
        self._views: collections.OrderedDict[str, AccountView] = collections.OrderedDict()
        self._max_accounts = max_accounts
        self._max_entries = max_entries
        self._watch: RevisionWatch | None = None
        self._stale_since: float | None = None  # when views began to be served stale (Redis away)

    def follow(self, watch: RevisionWatch) -> None:
        """Trust views the watch vouches for (no revision read while no notice came)."""
        self._watch = watch

    def any_stamp(self) -> Stamp | None:
        """Equal stamps: no account changed in between (None: nothing is vouched for)."""
        return None if self._watch is None else self._watch.any_stamp()

    def view(self, aid: str) -> AccountView:
        """The account's view at its current revision: without a Redis round trip when the
        revision watch vouches that nothing changed since the view's revision was read, else
        after reading the revision (one round trip)."""
        stamp = self._watch.stamp(aid) if self._watch is not None else None
        current = self._views.get(aid)
        if stamp is not None and current is not None and current.stamp == stamp:
            self._views.move_to_end(aid)
            return current
        try:
            revision = int(self._rds.get(keys.revision(aid)) or 0)
        except UNAVAILABLE as exc:
            if current is None:
                raise
            self._stale(aid, exc)  # stale if error: a call routed as before beats a call lost
            return current
        if self._stale_since is not None:
            log.warning("Redis answers again: accounts read at their current revision (stale views for %.1f s)",
                        time.monotonic() - self._stale_since)
            self._stale_since = None
        return self.view_at(aid, revision, stamp)

    def _stale(self, aid: str, exc: Exception) -> None:
        if self._stale_since is None:
            self._stale_since = time.monotonic()
            log.warning("Redis unavailable (%s): calls to accounts this process has served run from its "
                        "cached views until it answers (first: %s)", exc, aid)

    def view_at(self, aid: str, revision: int, stamp: Stamp | None = None) -> AccountView:
        """The account's view at a revision just read from Redis (`stamp`: the watch's, taken
        before the read); a view for another revision is dropped (a call that read an older
        revision while a newer one was being cached only costs the next call a reload: what
        it caches was read after its own revision)."""
        views = self._views
        current = views.get(aid)
        if current is not None and current.revision == revision:
            current.stamp = stamp
            views.move_to_end(aid)
            return current
        view = views[aid] = AccountView(revision, self._max_entries, stamp)
        views.move_to_end(aid)
        while len(views) > self._max_accounts:
            views.popitem(last=False)
        return view


class Views(Protocol):
    """Where account views come from: the process-wide cache, or one call's (CallViews)."""

    def view(self, aid: str) -> AccountView: ...


class CallViews:
    """One call's views: the revision is read at the call's first lookup in an account and again
    only once `refresh` seconds have passed, so a call costs one revision read and still sees a
    change within a second, while every new call sees it at once."""

    __slots__ = ("_cache", "_pinned", "_refresh")

    def __init__(self, cache: AccountCache, refresh: float = CALL_REFRESH_SECONDS) -> None:
        self._cache = cache
        self._refresh = refresh
        self._pinned: dict[str, tuple[float, AccountView]] = {}

    def view(self, aid: str) -> AccountView:
        now = time.monotonic()
        pinned = self._pinned.get(aid)
        if pinned is not None and now - pinned[0] < self._refresh:
            return pinned[1]
        view = self._cache.view(aid)
        self._pinned[aid] = (now, view)
        return view


# --- the reads a call caches (parsed again by the caller, see the module docstring) -----------------

RingingTexts = tuple[str | None, str | None, list[str]]
GroupTexts = tuple[str | None, dict[str, str], dict[str, str], dict[str, str]]
TemporalTexts = tuple[str | None, dict[str, str], dict[str, str]]


def ringing_texts(rds: redis.Redis, aid: str, user_id: str) -> RingingTexts:
    """The account, a user and every device of the account, as stored, in one round trip."""
    pipe = rds.pipeline(transaction=False)
    pipe.get(keys.account(aid))
    pipe.hget(keys.docs(aid, "users"), user_id)
    pipe.hvals(keys.docs(aid, "devices"))
    account, user, devices = pipe.execute()
    return account, user, list(devices)


def device_text(rds: redis.Redis, aid: str, username: str) -> str | None:
    """The stored device registered with this SIP username (the index, then the device)."""
    device_id = rds.hget(keys.sip_users(aid), username)
    device = None if device_id is None else rds.hget(keys.docs(aid, "devices"), str(device_id))
    return None if device is None else str(device)


def group_texts(rds: redis.Redis, aid: str) -> GroupTexts:
    """The account and its users, devices and groups by id, as stored, in one round trip."""
    pipe = rds.pipeline(transaction=False)
    pipe.get(keys.account(aid))
    for kind in ("users", "devices", "groups"):
        pipe.hgetall(keys.docs(aid, kind))
    account, users, devices, groups = pipe.execute()
    return account, users, devices, groups


def document_text(rds: redis.Redis, aid: str, kind: str, doc_id: str) -> str | None:
    """One stored document of the account (a menu), as stored."""
    found = rds.hget(keys.docs(aid, kind), doc_id)
    return None if found is None else str(found)


def temporal_texts(rds: redis.Redis, aid: str) -> TemporalTexts:
    """The account and its temporal rules and rule sets by id, as stored, in one round trip."""
    pipe = rds.pipeline(transaction=False)
    pipe.get(keys.account(aid))
    pipe.hgetall(keys.docs(aid, "temporal_rules"))
    pipe.hgetall(keys.docs(aid, "temporal_rules_sets"))
    account, rules, sets = pipe.execute()
    return account, rules, sets
