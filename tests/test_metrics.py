"""The metrics registry: counters fed by the queue and the missed-call alert, gauges read at scrape."""

import json

import redis

from controller.api.ops import OpsApp
from controller.metrics import Metrics
from controller.notify.job import make_job
from controller.notify.queue import JobQueue


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels or None)


def test_the_queue_counts_enqueued_retried_and_dead_jobs(rds: redis.Redis) -> None:
    metrics = Metrics()
    queue = JobQueue(rds, metrics=metrics, max_attempts=2)
    job = make_job("missed_call", "acct", {"call_id": "c1"}, instance="fs")
    assert queue.enqueue(job) and not queue.enqueue(job)  # the duplicate is not counted
    assert sample(metrics, "controller_jobs_enqueued_total", type="missed_call") == 1.0
    claimed = queue.claim("w", timeout=0.1)
    assert claimed is not None and queue.fail("w", claimed, "451 try later") == "retry"
    assert sample(metrics, "controller_jobs_retried_total") == 1.0
    assert queue.fail("w", claimed, "550 no", permanent=True) == "dead"
    assert sample(metrics, "controller_jobs_dead_total") == 1.0


def test_gauges_are_read_when_scraped(rds: redis.Redis) -> None:
    metrics = Metrics()
    queue = JobQueue(rds)
    active = [3]
    connected = {"esl://127.0.0.1:8021": True, "esl://10.0.0.2:8021": False}
    metrics.count_calls_active(lambda: active[0])
    metrics.watch_queue(queue.stats)
    metrics.watch_freeswitch(lambda: connected)
    queue.enqueue(make_job("missed_call", "acct", {"call_id": "c2"}, instance="fs"))
    assert sample(metrics, "controller_calls_active") == 3.0
    assert sample(metrics, "controller_queue_depth") == 1.0
    assert sample(metrics, "controller_freeswitch_connected", endpoint="esl://10.0.0.2:8021") == 0.0
    active[0] = 0
    text = metrics.exposition().decode()
    assert "controller_calls_active 0.0" in text
    assert 'controller_calls_total{outcome="missed"} 0.0' in text


def call_ops(app: OpsApp, path: str, method: str = "GET") -> tuple[str, bytes]:
    replies: list[str] = []
    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": method}, lambda status, headers: replies.append(status)))
    return replies[0], body


def test_healthz_reports_redis_and_each_watcher(rds: redis.Redis) -> None:
    connected = {"esl://127.0.0.1:8021": True}
    app = OpsApp(lambda environ, start: [b"api"], rds, Metrics(), lambda: connected)
    status, body = call_ops(app, "/healthz")
    assert status == "200 OK" and json.loads(body)["checks"]["freeswitch"] == {"esl://127.0.0.1:8021": "connected"}
    connected["esl://127.0.0.1:8021"] = False
    status, body = call_ops(app, "/healthz")
    assert status.startswith("503") and json.loads(body)["status"] == "degraded"
    down = OpsApp(lambda environ, start: [b"api"], redis.Redis(unix_socket_path="/nonexistent/redis.sock"), Metrics())
    status, body = call_ops(down, "/healthz")
    assert status.startswith("503") and json.loads(body)["checks"]["redis"].startswith("unreachable")
    assert call_ops(app, "/metrics", "POST")[0].startswith("405")
    passed = b"".join(app({"PATH_INFO": "/v2/accounts", "REQUEST_METHOD": "GET"}, lambda *a: None))
    assert passed == b"api"  # everything else goes to the API
