"""What an operator and `/healthz` read about the notification queue (`queue.py` writes it): its
depth, how late mail is, which workers are alive and which of them fail to deliver.

A worker is alive while its heartbeat key lives (the lease); the `queue:workers` set may still
name one that died until a reaper releases it, so counts go by heartbeat. How late mail is: the
age of the oldest job in `queue:due` (enqueued, neither delivered nor dead-lettered, whether ready,
held or waiting for a retry); an entry whose job is gone (deleted by hand) is dropped on the way.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from controller.store import keys

STALE_SCAN = 20  # due entries checked (and dropped when their job is gone) per read


def live_workers(rds: redis.Redis) -> list[str]:
    """The workers whose heartbeat runs, sorted."""
    workers = sorted(str(w) for w in rds.smembers(keys.QUEUE_WORKERS))
    if not workers:
        return []
    pipe = rds.pipeline(transaction=False)
    for worker in workers:
        pipe.exists(keys.queue_heartbeat(worker))
    return [worker for worker, alive in zip(workers, pipe.execute(), strict=True) if alive]


def oldest_due_age(rds: redis.Redis, now: float | None = None) -> float | None:
    """Seconds since the oldest undelivered, undead job was enqueued (None: there is none)."""
    now = time.time() if now is None else now
    for _ in range(STALE_SCAN):
        oldest: Any = rds.zrange(keys.QUEUE_DUE, 0, 0, withscores=True)
        if not oldest:
            return None
        job_id, enqueued = oldest[0]
        if rds.exists(keys.queue_job(str(job_id))):
            return max(0.0, now - float(enqueued))
        rds.zrem(keys.QUEUE_DUE, job_id)  # its job was deleted without the queue knowing
    return None


def oldest_ready_age(rds: redis.Redis, now: float | None = None) -> float | None:
    oldest = rds.lindex(keys.QUEUE_READY, -1)
    if oldest is None:
        return None
    enqueued = rds.hget(keys.queue_job(str(oldest)), "enqueued_at")
    return max(0.0, (time.time() if now is None else now) - float(enqueued)) if enqueued else None


def failing_workers(rds: redis.Redis) -> dict[str, float]:
    """Live workers whose deliveries fail, with the time they started failing."""
    found = {str(k): float(v) for k, v in rds.hgetall(keys.QUEUE_FAILING).items()}
    if not found:
        return {}
    alive = set(live_workers(rds))
    return {worker: since for worker, since in found.items() if worker in alive}


def queue_stats(rds: redis.Redis) -> dict[str, Any]:
    """Depth, ages, retries waiting, jobs held (by any worker, live or not yet reaped), the live
    workers, dead letters."""
    now = time.time()
    registered = [str(w) for w in rds.smembers(keys.QUEUE_WORKERS)]
    pipe = rds.pipeline(transaction=False)
    for worker in registered:
        pipe.llen(keys.queue_processing(worker))
    held = sum(int(n) for n in pipe.execute()) if registered else 0
    workers = live_workers(rds)
    return {
        "ready": int(rds.llen(keys.QUEUE_READY)),
        "oldest_ready_age": oldest_ready_age(rds, now),
        "oldest_due_age": oldest_due_age(rds, now),
        "scheduled": int(rds.zcard(keys.QUEUE_SCHEDULED)),
        "processing": held,
        "workers": len(workers),
        "worker_names": workers,
        "dead": int(rds.zcard(keys.QUEUE_DEAD)),
    }
