"""The notification queue on a real Redis: at least once, nothing lost, one delivery per key."""

from typing import Any

import pytest
import redis

from controller.notify.job import idempotency_key, job_errors, make_job
from controller.notify.queue import Backoff, JobQueue
from controller.store import keys


def job(call_id: str = "call-1", kind: str = "missed_call") -> dict[str, Any]:
    return make_job(kind, "acct1", {"call_id": call_id, "caller_id_number": "+15550001111"}, instance="fs1")


@pytest.fixture
def queue(rds: redis.Redis) -> JobQueue:
    return JobQueue(rds, lease=0.3, max_attempts=3, backoff=Backoff(base=0.05, factor=2, limit=1))


def test_a_made_job_satisfies_its_schema() -> None:
    assert job_errors(job()) == []
    broken = job() | {"version": 2, "media": []}
    assert len(job_errors(broken)) == 2


def test_idempotency_key_depends_on_instance_call_type_and_template() -> None:
    base = idempotency_key("fs1", "c1", "missed_call", "missed_call")
    assert base == idempotency_key("fs1", "c1", "missed_call", "missed_call")
    others = {
        idempotency_key("fs2", "c1", "missed_call", "missed_call"),
        idempotency_key("fs1", "c2", "missed_call", "missed_call"),
        idempotency_key("fs1", "c1", "cf_notification", "missed_call"),
        idempotency_key("fs1", "c1", "missed_call", "custom"),
    }
    assert base not in others and len(others) == 4


def test_the_same_notification_is_enqueued_once(queue: JobQueue) -> None:
    assert queue.enqueue(job()) is True
    assert queue.enqueue(job()) is False  # a new job id, same key
    assert queue.stats()["ready"] == 1


def test_claim_then_complete_records_the_key_as_sent(queue: JobQueue) -> None:
    queue.enqueue(job())
    claimed = queue.claim("w1", timeout=1)
    assert claimed is not None and claimed.doc["type"] == "missed_call"
    assert queue.stats()["processing"] == 1
    queue.complete("w1", claimed)
    assert queue.was_sent(claimed.doc["idempotency_key"])
    assert queue.stats() | {"oldest_ready_age": None, "worker_names": []} == {
        "ready": 0, "oldest_ready_age": None, "oldest_due_age": None, "scheduled": 0, "processing": 0, "workers": 1,
        "worker_names": [], "dead": 0,
    }


def test_jobs_come_out_in_order(queue: JobQueue) -> None:
    for n in range(3):
        queue.enqueue(job(f"call-{n}"))
    seen = []
    while (claimed := queue.claim("w1", timeout=0.1)) is not None:
        seen.append(claimed.doc["call"]["call_id"])
        queue.complete("w1", claimed)
    assert seen == ["call-0", "call-1", "call-2"]


def test_a_dead_workers_jobs_return_after_its_lease(queue: JobQueue, rds: redis.Redis) -> None:
    queue.enqueue(job())
    assert queue.claim("dying", timeout=1) is not None
    assert queue.reap() == 0  # lease still running
    rds.delete(keys.queue_heartbeat("dying"))  # what the lease running out looks like
    assert queue.reap() == 1
    claimed = queue.claim("healthy", timeout=1)
    assert claimed is not None and claimed.doc["call"]["call_id"] == "call-1"


def test_transient_failures_retry_with_backoff_then_dead_letter(queue: JobQueue) -> None:
    queue.enqueue(job())
    outcomes = []
    for _ in range(3):
        claimed = None
        for _ in range(100):
            queue.promote()
            claimed = queue.claim("w1", timeout=0.05)
            if claimed is not None:
                break
        assert claimed is not None
        outcomes.append(queue.fail("w1", claimed, "421 try again later"))
    assert outcomes == ["retry", "retry", "dead"]
    dead = queue.dead()
    assert [(d["attempts"], d["error"]) for d in dead] == [(3, "421 try again later")]
    assert queue.stats()["dead"] == 1


def test_permanent_failure_dead_letters_at_once_and_replay_requeues(queue: JobQueue) -> None:
    queue.enqueue(job())
    claimed = queue.claim("w1", timeout=1)
    assert claimed is not None
    assert queue.fail("w1", claimed, "550 no such user", permanent=True) == "dead"
    assert queue.replay() == 1
    assert queue.replay() == 0  # nothing left to replay
    again = queue.claim("w1", timeout=1)
    assert again is not None and again.job_id == claimed.job_id and again.attempts == 0


def test_release_hands_back_held_jobs(queue: JobQueue) -> None:
    queue.enqueue(job("a"))
    queue.enqueue(job("b"))
    assert queue.claim("w1", timeout=1) is not None
    assert queue.claim("w1", timeout=1) is not None
    assert queue.release("w1") == 2
    assert queue.stats()["ready"] == 2
