"""`controller lab bench-match`: how long a callflow lookup takes with a large account.

Loads N callflows (exact numbers) plus P pattern callflows into a scratch account of the
configured Redis, then times the matcher's lookups (Redis round trips included) for exact numbers
and for pattern hits, and prints p50/p99. The scratch account is removed afterwards.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

import redis

from controller.callflows.matcher import Matcher
from controller.callflows.validate import check_callflow
from controller.store import keys
from controller.store.callflows import Callflows

ACCOUNT = "bench-match"


def _number(i: int) -> str:
    return f"+1555{i:07d}"


def _pattern(i: int) -> str:
    # Feature-code and prefix shapes, all different, several overlapping.
    shapes = (r"^\*{i}(\d+)$", r"^9{i:03d}(?<dest>\d{{4,}})$", r"^\+44{i:03d}(\d+)")
    return shapes[i % 3].format(i=i // 3)


def _doc(cid: str, key: str, value: list[str]) -> dict[str, Any]:
    return {"id": cid, key: value, "flow": {"module": "answer", "data": {}, "children": {}}}


def documents(callflows: int, patterns: int) -> Iterator[dict[str, Any]]:
    for i in range(callflows):
        yield _doc(f"n{i}", "numbers", [_number(i)])
    for i in range(patterns):
        yield _doc(f"p{i}", "patterns", [_pattern(i)])


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us"


def _clear(rds: redis.Redis) -> None:
    pipe = rds.pipeline(transaction=False)
    for number in rds.hkeys(keys.numbers(ACCOUNT)):
        pipe.srem(keys.number_accounts(str(number)), ACCOUNT)
    pipe.delete(*keys.all_of_account(ACCOUNT), keys.revision(ACCOUNT))
    pipe.execute()


def run(rds: redis.Redis, callflows: int, patterns: int, lookups: int) -> None:
    _clear(rds)
    started = time.perf_counter()
    docs = list(documents(callflows, patterns))
    invalid = [d["id"] for d in docs if not check_callflow(d).is_valid]
    validated = time.perf_counter()
    Callflows(rds).save_many(ACCOUNT, docs)
    loaded = time.perf_counter()
    print(f"callflows: {callflows} numbers + {patterns} patterns ({len(invalid)} invalid)")
    print(f"validate:  {validated - started:6.2f} s   load: {loaded - validated:6.2f} s")
    try:
        _time_lookups(rds, callflows, patterns, lookups)
    finally:
        _clear(rds)


def _time_lookups(rds: redis.Redis, callflows: int, patterns: int, lookups: int) -> None:
    matcher = Matcher(rds)
    first = time.perf_counter()
    matcher.match(ACCOUNT, "warm-up", is_internal=False)
    print(f"compile:   {time.perf_counter() - first:6.3f} s (first lookup: {patterns} patterns)")
    rng = random.Random(7)
    exact, pattern = [], []
    for _ in range(lookups):
        number = _number(rng.randrange(callflows))
        t0 = time.perf_counter()
        route = matcher.match(ACCOUNT, number, is_internal=False)
        exact.append(time.perf_counter() - t0)
        assert route is not None and route.reason == "number"
        i = rng.randrange(patterns)
        dialed = _pattern_hit(i)
        t0 = time.perf_counter()
        route = matcher.match(ACCOUNT, dialed, is_internal=False)
        pattern.append(time.perf_counter() - t0)
        assert route is not None and route.reason == "pattern", dialed
    print(f"exact:     {_percentiles(exact)}   ({lookups} lookups)")
    print(f"pattern:   {_percentiles(pattern)}   ({lookups} lookups)")


def _pattern_hit(i: int) -> str:
    n = i // 3
    return (f"*{n}12345", f"9{n:03d}5551234", f"+44{n:03d}2071234567")[i % 3]
