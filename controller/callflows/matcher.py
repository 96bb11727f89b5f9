"""Which callflow runs a call: Kazoo's `cf_flow` lookup.

1. Exact `numbers` first: one hash lookup, whatever the number of callflows.
2. Then every pattern of the account: the winner is the pattern whose longest capture group (or
   whole match, when it has no group) is longest; ties go to the later pattern in sorted order.
   The winning capture becomes the call's `capture_group`, named groups its `capture_groups`.
3. Then the `no_match` callflow, only for all-digit numbers (optional leading `+`).

A callflow that has `no_match` among its numbers, however it was found (by another of its
numbers, a pattern, or as the fallback), routes only internal callers, as Kazoo's cf_route_req
refuses a flow that `contains_no_match` to a call it does not authorize: an outside caller must
not reach the account's outbound route, not even through a DID listed beside `no_match`.

What a lookup reads (the number's callflow, the callflow documents, the compiled patterns) is
kept in this process for as long as the account's revision in Redis stays the same (every change
bumps it; store/cache.py), so a call costs one round trip, the revision, and several controller
processes sharing one Redis never route with a stale callflow.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from typing import Any

import redis

from controller.callflows.patterns import Pattern, PatternSet, compile_pattern, named_captures
from controller.store import codec, keys
from controller.store.cache import AccountCache, AccountView, Views

NO_MATCH = "no_match"
_DIGITS = re.compile(r"\+?[0-9]+")
ACCOUNT_VARIABLE = "controller_account_id"
_EXACT = """
local cid = redis.call('HGET', KEYS[1], ARGV[1])
local doc = false
if cid then doc = redis.call('HGET', KEYS[2], cid) end
return {cid, doc}
"""


@dataclasses.dataclass(frozen=True)
class Route:
    """The callflow chosen for a number, and why."""

    account_id: str
    number: str
    callflow: dict[str, Any]
    reason: str  # "number", "pattern" or "no_match"
    pattern: str | None = None
    capture_group: str | None = None
    capture_groups: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def callflow_id(self) -> str:
        return str(self.callflow.get("id"))


class Matcher:
    """Looks callflows up for an account; holds the per-process compiled-pattern cache."""

    def __init__(self, rds: redis.Redis, cache_size: int = 1024, accounts: AccountCache | None = None) -> None:
        self._rds = rds
        self._cache: collections.OrderedDict[str, tuple[int, PatternSet]] = (
            collections.OrderedDict()
        )
        self._cache_size = cache_size
        self._accounts = accounts or AccountCache(rds)
        self._exact_script = rds.register_script(_EXACT)

    def match(self, aid: str, number: str, *, is_internal: bool, views: Views | None = None) -> Route | None:
        """The route of a number; `views` are a call's own (Services.for_call), else this
        matcher's cache is asked (one revision read). None when nothing matches, or when what
        matched holds `no_match` and the caller is not internal."""
        route = self._lookup(aid, number, views)
        if route is None or (not is_internal and NO_MATCH in (route.callflow.get("numbers") or ())):
            return None
        return route

    def _lookup(self, aid: str, number: str, views: Views | None) -> Route | None:
        view = (views or self._accounts).view(aid)
        doc = view.get(("number", number), lambda: self._exact(aid, number))
        if doc is not None:
            return Route(account_id=aid, number=number, callflow=codec.load(doc), reason="number")
        found = self._patterns(aid, view.revision).best(number)
        if found is not None:
            pattern, capture = found
            route = self._route(view, aid, number, pattern.callflow_id, "pattern")
            if route is not None:
                return dataclasses.replace(
                    route,
                    pattern=pattern.source,
                    capture_group=capture or None,
                    capture_groups=named_captures(pattern.regex, number),
                )
        if _DIGITS.fullmatch(number):
            doc = view.get(("number", NO_MATCH), lambda: self._exact(aid, NO_MATCH))
            if doc is not None:
                return Route(account_id=aid, number=number, callflow=codec.load(doc), reason=NO_MATCH)
        return None

    def _exact(self, aid: str, number: str) -> str | None:
        """The document of the callflow holding a number, in one round trip."""
        _, doc = self._exact_script(keys=[keys.numbers(aid), keys.docs(aid, "callflows")], args=[number])
        return str(doc) if doc is not None else None

    def _route(self, view: AccountView, aid: str, number: str, cid: str, reason: str) -> Route | None:
        doc = view.get(("callflow", cid), lambda: self._rds.hget(keys.docs(aid, "callflows"), cid))
        if doc is None:
            return None
        return Route(account_id=aid, number=number, callflow=codec.load(doc), reason=reason)

    def _patterns(self, aid: str, revision: int) -> PatternSet:
        cached = self._cache.get(aid)
        if cached is not None and cached[0] == revision:
            self._cache.move_to_end(aid)
            return cached[1]
        compiled = []
        for cid, sources in self._rds.hgetall(keys.patterns(aid)).items():
            for source in codec.load(sources):
                compiled.append(Pattern(source, str(cid), compile_pattern(source)))
        patterns = PatternSet(compiled)
        self._cache[aid] = (revision, patterns)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return patterns


def resolve_account(
    rds: redis.Redis, number: str, channel_account: str | None, default_account: str
) -> tuple[str | None, str]:
    """The account of a call and why: the dialplan's `controller_account_id` channel variable;
    else the one account whose callflows use the dialed number; else CONTROLLER_DEFAULT_ACCOUNT."""
    if channel_account:
        return channel_account, f"channel variable {ACCOUNT_VARIABLE}"
    owners = sorted(str(a) for a in rds.smembers(keys.number_accounts(number)))
    if len(owners) == 1:
        return owners[0], "owner of the dialed number"
    if default_account:
        return default_account, "CONTROLLER_DEFAULT_ACCOUNT"
    return None, "no account: no channel variable, number not owned by exactly one account"
