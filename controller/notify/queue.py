"""The notification job queue on Redis: at least once, nothing lost, one email per key.

- enqueue: the job is stored and its id pushed on `queue:ready`, atomically, unless a job with
  the same idempotency key was already enqueued (the call's own process and the inbound watcher
  may both try: one wins).
- claim: BLMOVE moves an id from `ready` to the worker's own processing list in one step, so a
  job is always in exactly one list (rq's pattern). The worker keeps a heartbeat key whose expiry
  is the lease; when a worker dies its heartbeat expires and any process's `reap` moves its
  processing list back to `ready`.
- complete: the key is recorded as sent (for `sent_ttl`, two days by default) before the job is
  dropped; a worker checks that record before delivering, so a job delivered twice sends once.
- fail: a transient failure schedules a retry with exponential backoff (`queue:scheduled`,
  promoted back to `ready` when due) up to `max_attempts`; then, or on a permanent failure, the
  job goes to the dead-letter set with its last error, where `controller jobs dead` lists it and
  `controller jobs replay` re-queues it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import redis
from redis.client import Pipeline

from controller.metrics import Metrics
from controller.store import keys

_ENQUEUE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[4]) then
  redis.call('HSET', KEYS[2], 'doc', ARGV[2], 'attempts', 0, 'enqueued_at', ARGV[3])
  redis.call('LPUSH', KEYS[3], ARGV[1])
  return 1
end
return 0
"""

_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('LPUSH', KEYS[2], id)
end
return #due
"""

_REPLAY = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], 'attempts', 0)
  redis.call('LPUSH', KEYS[3], ARGV[1])
  return 1
end
return 0
"""

_CLAIM_SOME = """
local ids = {}
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not id then break end
  ids[i] = id
end
return ids
"""

_REQUEUE_ALL = """
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'RIGHT') do n = n + 1 end
return n
"""


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A job a worker holds."""

    job_id: str
    doc: Any  # the parsed job, or None when its JSON is broken
    raw: str
    attempts: int


@dataclasses.dataclass(frozen=True)
class Backoff:
    base: float = 5.0
    factor: float = 3.0
    limit: float = 900.0

    def delay(self, attempts: int) -> float:
        return float(min(self.limit, self.base * self.factor ** max(0, attempts - 1)))


class JobQueue:
    """The shared queue; every method is safe to call from several processes at once."""

    def __init__(
        self,
        rds: redis.Redis,
        *,
        lease: float = 30.0,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        sent_ttl: int = 2 * 86400,
        metrics: Metrics | None = None,
    ) -> None:
        self._rds = rds
        self.metrics = metrics
        self.lease = lease
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.sent_ttl = sent_ttl
        self._enqueue = rds.register_script(_ENQUEUE)
        self._promote = rds.register_script(_PROMOTE)
        self._requeue_all = rds.register_script(_REQUEUE_ALL)
        self._replay = rds.register_script(_REPLAY)
        self._claim_some = rds.register_script(_CLAIM_SOME)

    # --- producing ----------------------------------------------------------------------------

    def enqueue(self, job: dict[str, Any]) -> bool:
        """Store and queue a job; False when its idempotency key was already enqueued."""
        key = job["idempotency_key"]
        added = self._enqueue(
            keys=[keys.queue_enqueued(key), keys.queue_job(job["id"]), keys.QUEUE_READY],
            args=[job["id"], json.dumps(job, separators=(",", ":")), time.time(), self.sent_ttl],
        )
        if added and self.metrics is not None:
            self.metrics.jobs_enqueued.labels(str(job.get("type", ""))).inc()
        return bool(added)

    # --- consuming ----------------------------------------------------------------------------

    def heartbeat(self, worker: str) -> None:
        pipe = self._rds.pipeline(transaction=False)
        pipe.sadd(keys.QUEUE_WORKERS, worker)
        pipe.set(keys.queue_heartbeat(worker), "1", px=int(self.lease * 1000))
        pipe.execute()

    def claim(self, worker: str, timeout: float = 1.0, heartbeat: bool = True) -> Claimed | None:
        """Take the next ready job (waiting up to `timeout`), or None. A worker that keeps its
        heartbeat alive on its own passes heartbeat=False."""
        if heartbeat:
            self.heartbeat(worker)
        job_id = self._rds.blmove(
            keys.QUEUE_READY, keys.queue_processing(worker), timeout, "RIGHT", "LEFT"  # type: ignore[arg-type]
        )
        if job_id is None:
            return None
        return self._read([str(job_id)])[0]

    def claim_batch(self, worker: str, count: int, timeout: float = 1.0) -> list[Claimed]:
        """Take up to `count` ready jobs in one step (the worker's heartbeat must be alive): two
        round trips for the batch instead of two per job. With nothing ready, wait up to `timeout`
        for one. The jobs are held in the worker's processing list like claimed ones."""
        ids = [str(i) for i in self._claim_some(keys=[keys.QUEUE_READY, keys.queue_processing(worker)], args=[count])]
        if not ids:
            claimed = self.claim(worker, timeout, heartbeat=False)
            return [] if claimed is None else [claimed]
        return self._read(ids)

    def _read(self, job_ids: list[str]) -> list[Claimed]:
        pipe = self._rds.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(keys.queue_job(job_id), "doc", "attempts")
        found = []
        for job_id, (raw, attempts) in zip(job_ids, pipe.execute(), strict=True):
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = None
            found.append(Claimed(job_id, doc, str(raw or ""), int(attempts or 0)))
        return found

    def was_sent(self, key: str) -> bool:
        return self.sent(key)[0]

    def sent(self, *parts: str) -> list[bool]:
        """Which of these idempotency keys (or key:medium parts) were delivered, in one call."""
        return [value is not None for value in self._rds.mget([keys.queue_sent(p) for p in parts])]

    def mark_sent(self, key: str, pipe: Pipeline | None = None) -> None:
        """Record one part of a job as delivered (e.g. its email, before its SMS is tried); with
        `pipe`, as part of that transaction (the caller executes it)."""
        (pipe or self._rds).set(keys.queue_sent(key), "1", ex=self.sent_ttl)

    def complete(self, worker: str, claimed: Claimed, pipe: Pipeline | None = None) -> None:
        """The job was delivered (or found already delivered): record its key, drop the job.
        `pipe` (a transaction) may carry the caller's own writes (the SMTP log entry): they and
        the completion are applied together, in one round trip."""
        pipe = pipe if pipe is not None else self._rds.pipeline(transaction=True)
        if isinstance(claimed.doc, dict) and claimed.doc.get("idempotency_key"):
            pipe.set(keys.queue_sent(claimed.doc["idempotency_key"]), claimed.job_id, ex=self.sent_ttl)
        pipe.lrem(keys.queue_processing(worker), 1, claimed.job_id)
        pipe.delete(keys.queue_job(claimed.job_id))
        pipe.execute()

    def fail(self, worker: str, claimed: Claimed, error: str, *, permanent: bool = False) -> str:
        """Record a failed delivery; returns "retry" (scheduled with backoff) or "dead"."""
        attempts = claimed.attempts + 1
        now = time.time()
        pipe = self._rds.pipeline(transaction=True)
        pipe.hset(keys.queue_job(claimed.job_id), mapping={"attempts": attempts, "last_error": error[:2000]})
        if permanent or attempts >= self.max_attempts:
            pipe.zadd(keys.QUEUE_DEAD, {claimed.job_id: now})
            outcome = "dead"
        else:
            pipe.zadd(keys.QUEUE_SCHEDULED, {claimed.job_id: now + self.backoff.delay(attempts)})
            outcome = "retry"
        pipe.lrem(keys.queue_processing(worker), 1, claimed.job_id)
        pipe.execute()
        if self.metrics is not None:
            (self.metrics.jobs_dead if outcome == "dead" else self.metrics.jobs_retried).inc()
        return outcome

    def release(self, worker: str) -> int:
        """A worker stopping cleanly hands back whatever it still holds."""
        moved = int(self._requeue_all(keys=[keys.queue_processing(worker), keys.QUEUE_READY]))
        self._rds.srem(keys.QUEUE_WORKERS, worker)
        self._rds.delete(keys.queue_heartbeat(worker))
        return moved

    # --- housekeeping (any process may run it) ------------------------------------------------

    def promote(self, now: float | None = None) -> int:
        """Move retries that are due back to `ready`."""
        return int(self._promote(keys=[keys.QUEUE_SCHEDULED, keys.QUEUE_READY], args=[now or time.time()]))

    def reap(self) -> int:
        """Give the jobs of workers whose lease ran out back to `ready`."""
        moved = 0
        for worker in self._rds.smembers(keys.QUEUE_WORKERS):
            name = str(worker)
            if not self._rds.exists(keys.queue_heartbeat(name)):
                moved += self.release(name)
        return moved

    # --- operators ----------------------------------------------------------------------------

    def dead(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead-lettered jobs, oldest first, with their last error."""
        entries = []
        dead: Any = self._rds.zrange(keys.QUEUE_DEAD, 0, limit - 1, withscores=True)
        for job_id, when in dead:
            fields = ("doc", "attempts", "last_error")
            raw, attempts, error = self._rds.hmget(keys.queue_job(str(job_id)), *fields)
            entries.append(
                {"id": str(job_id), "dead_at": when, "attempts": int(attempts or 0),
                 "error": error, "job": raw}
            )
        return entries

    def replay(self, job_ids: list[str] | None = None) -> int:
        """Put dead jobs (all, or those named) back on `ready` with a fresh attempt count."""
        targets = job_ids
        if targets is None:
            targets = [str(j) for j in self._rds.zrange(keys.QUEUE_DEAD, 0, -1)]
        moved = 0
        for job_id in targets:
            moved += int(
                self._replay(keys=[keys.QUEUE_DEAD, keys.queue_job(job_id), keys.QUEUE_READY], args=[job_id])
            )
        return moved

    def stats(self) -> dict[str, Any]:
        """Depth, age of the oldest ready job, retries waiting, jobs held, dead letters."""
        oldest = self._rds.lindex(keys.QUEUE_READY, -1)
        age = None
        if oldest is not None:
            enqueued = self._rds.hget(keys.queue_job(str(oldest)), "enqueued_at")
            age = max(0.0, time.time() - float(enqueued)) if enqueued else None
        workers = [str(w) for w in self._rds.smembers(keys.QUEUE_WORKERS)]
        held = sum(int(self._rds.llen(keys.queue_processing(w))) for w in workers)
        return {
            "ready": int(self._rds.llen(keys.QUEUE_READY)),
            "oldest_ready_age": age,
            "scheduled": int(self._rds.zcard(keys.QUEUE_SCHEDULED)),
            "processing": held,
            "workers": len(workers),
            "dead": int(self._rds.zcard(keys.QUEUE_DEAD)),
        }
