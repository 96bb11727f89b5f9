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
  `controller jobs replay` re-queues it. The recipients a 5xx refused are kept with the job
  (`refused`), so that its retries for the others do not ask for them again.
- identity: a worker's name is unique per process (`worker_id`: the name given, the host, the
  pid and a random suffix), so a worker restarted under the same `--name` never keeps its
  predecessor's heartbeat alive: the jobs the dead one held come back after its lease.
- due: `queue:due` holds every job neither delivered nor dead-lettered with the time it was
  enqueued; its oldest entry is how late mail is (`/healthz`, the metrics).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import socket
import time
from typing import Any

import redis
from redis.client import Pipeline

from controller.metrics import Metrics
from controller.notify.queuestats import failing_workers, queue_stats
from controller.store import keys

log = logging.getLogger(__name__)

_ENQUEUE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[4]) then
  redis.call('HSET', KEYS[2], 'doc', ARGV[2], 'attempts', 0, 'enqueued_at', ARGV[3])
  redis.call('LPUSH', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
  return 1
end
return 0
"""

# A call's end in one step (CallStates.finish): claim it unless ARGV[1] is '0' (then the caller
# holds the claim already), enqueue each job as _ENQUEUE does, drop the call's stored state.
# KEYS: claim, call state, ready, due, then per job its enqueued key and its job key;
# ARGV: claim?, claim ttl, now, sent ttl, then per job its id and document.
# Returns -1 when another process holds the claim, else one 0/1 (enqueued) per job.
_FINISH_CALL = """
if ARGV[1] == '1' and not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return -1
end
local added = {}
for i = 5, #KEYS, 2 do
  local id, doc = ARGV[i], ARGV[i + 1]
  if redis.call('SET', KEYS[i], id, 'NX', 'EX', ARGV[4]) then
    redis.call('HSET', KEYS[i + 1], 'doc', doc, 'attempts', 0, 'enqueued_at', ARGV[3])
    redis.call('LPUSH', KEYS[3], id)
    redis.call('ZADD', KEYS[4], ARGV[3], id)
    added[#added + 1] = 1
  else
    added[#added + 1] = 0
  end
end
redis.call('DEL', KEYS[2])
return added
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
  redis.call('HDEL', KEYS[2], 'refused')
  redis.call('LPUSH', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
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


def worker_id(name: str | None = None) -> str:
    """A worker identity no other process has, even under a fixed name: a restarted worker must
    not renew its dead predecessor's heartbeat, or the jobs that one held are never reclaimed."""
    return f"{name or 'mailer'}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A job a worker holds."""

    job_id: str
    doc: Any  # the parsed job, or None when its JSON is broken
    raw: str
    attempts: int
    refused: dict[str, str] = dataclasses.field(default_factory=dict)  # recipient -> 5xx of an earlier try


@dataclasses.dataclass(frozen=True)
class Fate:
    """What a failed attempt leads to: "retry" at `due` (epoch seconds), or "dead"."""

    outcome: str
    attempts: int
    due: float | None = None


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
        self._finish_call = rds.register_script(_FINISH_CALL)

    # --- producing ----------------------------------------------------------------------------

    def enqueue(self, job: dict[str, Any]) -> bool:
        """Store and queue a job; False when its idempotency key was already enqueued."""
        key = job["idempotency_key"]
        added = self._enqueue(
            keys=[keys.queue_enqueued(key), keys.queue_job(job["id"]), keys.QUEUE_READY, keys.QUEUE_DUE],
            args=[job["id"], json.dumps(job, separators=(",", ":")), time.time(), self.sent_ttl],
        )
        if added and self.metrics is not None:
            self.metrics.jobs_enqueued.labels(str(job.get("type", ""))).inc()
        return bool(added)

    def finish_call(
        self, claim_key: str, state_key: str, jobs: list[dict[str, Any]], *, claim: bool, claim_ttl: int
    ) -> list[bool] | None:
        """Claim a call (unless `claim` is False: held already), enqueue its jobs and drop its
        stored state, atomically, in one round trip. None when another process holds the claim;
        else whether each job was enqueued (False: its idempotency key was already)."""
        job_keys, args = [], []
        for job in jobs:
            job_keys += [keys.queue_enqueued(job["idempotency_key"]), keys.queue_job(job["id"])]
            args += [job["id"], json.dumps(job, separators=(",", ":"))]
        result = self._finish_call(
            keys=[claim_key, state_key, keys.QUEUE_READY, keys.QUEUE_DUE, *job_keys],
            args=["1" if claim else "0", claim_ttl, time.time(), self.sent_ttl, *args],
        )
        if result == -1:
            return None
        added = [bool(flag) for flag in result]
        if self.metrics is not None:
            for job, was_added in zip(jobs, added, strict=True):
                if was_added:
                    self.metrics.jobs_enqueued.labels(str(job.get("type", ""))).inc()
        return added

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
        ready = self.claim_ready(worker, count)
        if not ready:
            claimed = self.claim(worker, timeout, heartbeat=False)
            return [] if claimed is None else [claimed]
        return ready

    def claim_ready(self, worker: str, count: int) -> list[Claimed]:
        """Take up to `count` jobs that are ready now, without waiting (none: an empty list)."""
        ids = [str(i) for i in self._claim_some(keys=[keys.QUEUE_READY, keys.queue_processing(worker)], args=[count])]
        return self._read(ids) if ids else []

    def _read(self, job_ids: list[str]) -> list[Claimed]:
        pipe = self._rds.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(keys.queue_job(job_id), "doc", "attempts", "refused")
        found = []
        for job_id, (raw, attempts, refused) in zip(job_ids, pipe.execute(), strict=True):
            doc = _parsed(raw)
            found.append(Claimed(job_id, doc, str(raw or ""), _attempts(job_id, attempts), _refused(refused)))
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
        pipe.zrem(keys.QUEUE_DUE, claimed.job_id)
        pipe.execute()

    def mark_delivered_to(self, key: str, receipts: dict[str, str], pipe: Pipeline) -> None:
        """Record the recipients of a job's email that the server accepted while others wait for a
        retry: no retry of that job (or replay, or duplicate) sends to them again."""
        pipe.hset(keys.queue_delivered_to(key), mapping=dict[Any, Any](receipts))
        pipe.expire(keys.queue_delivered_to(key), self.sent_ttl)

    def fail(self, worker: str, claimed: Claimed, error: str, *, permanent: bool = False) -> str:
        """Record a failed delivery; returns "retry" (scheduled with backoff) or "dead"."""
        pipe = self._rds.pipeline(transaction=True)
        fate = self.settle_failure(pipe, worker, claimed, error, permanent=permanent)
        pipe.execute()
        if self.metrics is not None:
            (self.metrics.jobs_dead if fate.outcome == "dead" else self.metrics.jobs_retried).inc()
        return fate.outcome

    def settle_failure(
        self, pipe: Pipeline, worker: str, claimed: Claimed, error: str, *, permanent: bool = False,
        refused: dict[str, str] | None = None,
    ) -> Fate:
        """Add a failed attempt's writes to `pipe` (a transaction the caller executes and counts):
        a retry with backoff, or the dead-letter set after the last attempt or a permanent failure.
        `refused`: the recipients refused for good so far, kept for the retries."""
        attempts = claimed.attempts + 1
        now = time.time()
        fields: dict[Any, Any] = {"attempts": attempts, "last_error": error[:2000]}
        if refused:
            fields["refused"] = json.dumps(refused)
        pipe.hset(keys.queue_job(claimed.job_id), mapping=fields)
        if permanent or attempts >= self.max_attempts:
            pipe.zadd(keys.QUEUE_DEAD, {claimed.job_id: now})
            pipe.zrem(keys.QUEUE_DUE, claimed.job_id)
            fate = Fate("dead", attempts)
        else:
            due = now + self.backoff.delay(attempts)
            fate = Fate("retry", attempts, due)
            pipe.zadd(keys.QUEUE_SCHEDULED, {claimed.job_id: due})
        pipe.lrem(keys.queue_processing(worker), 1, claimed.job_id)
        return fate

    def release(self, worker: str) -> int:
        """A worker stopping cleanly hands back whatever it still holds."""
        moved = self.requeue_held(worker)
        pipe = self._rds.pipeline(transaction=False)
        pipe.srem(keys.QUEUE_WORKERS, worker)
        pipe.delete(keys.queue_heartbeat(worker))
        pipe.hdel(keys.QUEUE_FAILING, worker)
        pipe.execute()
        return moved

    def requeue_held(self, worker: str) -> int:
        """Put the jobs a worker holds back on `ready` (it lost track of them in a Redis outage)."""
        return int(self._requeue_all(keys=[keys.queue_processing(worker), keys.QUEUE_READY]))

    def mark_failing(self, worker: str, since: float | None) -> None:
        """Say since when this worker's deliveries fail (None: they succeed again)."""
        if since is None:
            self._rds.hdel(keys.QUEUE_FAILING, worker)
        else:
            self._rds.hsetnx(keys.QUEUE_FAILING, worker, since)

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
            moved += int(self._replay(keys=[keys.QUEUE_DEAD, keys.queue_job(job_id), keys.QUEUE_READY, keys.QUEUE_DUE],
                                      args=[job_id, time.time()]))
        return moved

    def stats(self) -> dict[str, Any]:
        """Depth, age of the oldest ready and oldest due job, retries waiting, jobs held, the live
        workers (those whose heartbeat runs), dead letters."""
        return queue_stats(self._rds)

    def failing(self) -> dict[str, float]:
        """The live workers whose deliveries fail, with the time they started failing."""
        return failing_workers(self._rds)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _parsed(raw: str | None) -> Any:
    """A stored document; None when it is not JSON (Python's NaN and Infinity are not: a time of
    NaN would pass every range check of the job schema)."""
    try:
        return json.loads(raw, parse_constant=_not_json) if raw else None
    except ValueError:
        return None


def _attempts(job_id: str, value: str | None) -> int:
    """The attempts so far; a value that is not a count (a hand edit, a foreign producer) is read
    as none, so the job is still delivered and counted again from there."""
    try:
        return max(0, int(value or 0))
    except ValueError:
        log.warning("job %s: attempts %r is not a number, counted as 0", job_id, value)
        return 0


def _refused(value: str | None) -> dict[str, str]:
    found = _parsed(value)
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
