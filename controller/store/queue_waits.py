"""How long the callers an agent answered waited in each queue: what the wait-time announcement
estimates from (Kazoo's acdc_stats average_wait_time: the average wait of the queue's handled
calls). One hash per account, queue id -> the most recent waits as `[[answered at, seconds],
...]`, newest first: at most `KEPT` of them, and only those of the last `WINDOW` seconds count,
so the hash stays small whatever the traffic.
"""

from __future__ import annotations

import time

import redis

from controller.store import codec, keys

KEPT = 20  # waits kept per queue
WINDOW = 3600  # seconds: older waits no longer count


class QueueWaits:
    """The recent waits of an account's queues."""

    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def record(self, aid: str, queue_id: str, seconds: float, now: float | None = None) -> None:
        """One caller was answered after waiting `seconds`."""
        at = int(time.time() if now is None else now)
        key = keys.queue_waits(aid)

        def add(pipe: redis.client.Pipeline) -> None:
            waits = recent(codec.load(pipe.hget(key, queue_id)), at)
            pipe.multi()
            pipe.hset(key, queue_id, codec.dump([[at, max(0, int(seconds))], *waits][:KEPT]))

        self._rds.transaction(add, key)

    def average(self, aid: str, queue_id: str, now: float | None = None) -> int:
        """The average wait of the queue's recent answered callers, in whole seconds (0: none)."""
        at = time.time() if now is None else now
        waits = recent(codec.load(self._rds.hget(keys.queue_waits(aid), queue_id)), at)
        return sum(seconds for _, seconds in waits) // len(waits) if waits else 0


def recent(entries: object, now: float) -> list[list[int]]:
    """The well-formed entries of the last WINDOW seconds (a damaged value counts as none)."""
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, list) and len(e) == 2 and all(isinstance(v, int) for v in e)
            and now - e[0] <= WINDOW]
