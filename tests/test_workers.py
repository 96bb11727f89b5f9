"""The API's workers are real processes: one that overruns the hard limit, dies or answers
nonsense is killed and replaced, and the request fails with an error that says why (for a
template, a TemplateError); a request finding every worker busy for too long is refused, never
left waiting."""

import os
import sys
from collections.abc import Iterator

import gevent
import pytest

from controller.callflows.validate import check_callflow
from controller.notify.render import TemplateError, TemplateTimeError
from controller.workers.pool import Worker, WorkerFailedError, WorkerPool, WorkersBusyError

# Never finishes: stopped by the worker's own 1 s time limit (SIGALRM), or by the pool's hard one.
ENDLESS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def fake_worker(after_ready: str) -> Worker:
    """A worker process that says it is ready, reads one request, then runs `after_ready`."""
    code = f"import json, sys, time\nprint(json.dumps({{'ready': 1}}), flush=True)\nsys.stdin.readline()\n{after_ready}"
    return Worker([sys.executable, "-c", code])


def is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    made = WorkerPool(workers=1)
    yield made
    made.close()


@pytest.mark.timeout(30)
def test_templates_render_in_a_worker_process(pool: WorkerPool) -> None:
    assert pool.render_all([("Hello {{ user.first_name }}", False), ("<b>{{ x }}</b>", True)],
                           {"user": {"first_name": "Ann"}, "x": "<i>"}) == ["Hello Ann", "<b>&lt;i&gt;</b>"]
    assert pool.names("{{ caller_id.name }} {{ account.realm }}") == {"caller_id", "account"}
    (worker,) = pool._idle.queue
    assert worker.process.pid != os.getpid() and worker.alive


@pytest.mark.timeout(30)
def test_the_workers_own_time_limit_refuses_an_endless_template_and_keeps_the_worker(pool: WorkerPool) -> None:
    pool.render_all([("warm", False)], {})
    (worker,) = pool._idle.queue
    with pytest.raises(TemplateTimeError, match="template ran longer than 1 s"):
        pool.render_all([(ENDLESS, False)], {})
    assert pool._idle.queue == [worker] and worker.alive and pool.replaced == 0
    assert pool.render_all([("{{ 1 + 1 }}", False)], {}) == ["2"]


@pytest.mark.timeout(30)
def test_a_worker_that_overruns_the_hard_limit_is_killed_and_replaced() -> None:
    pool = WorkerPool(workers=1, render_limit=0.5, make=lambda: fake_worker("time.sleep(60)"))
    try:
        pool.start()
        (hung,) = pool._idle.queue
        stopped = r"template ran past the hard limit of 0\.5 s \(its worker was stopped\)"
        with pytest.raises(TemplateTimeError, match=stopped):
            pool.render_all([("{{ x }}", False)], {"x": 1})
        assert not is_running(hung.process.pid)
        assert pool.replaced == 1
        (fresh,) = pool._idle.queue
        assert fresh is not hung and fresh.alive
    finally:
        pool.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("after_ready", "reason"), [
    ("sys.exit(3)", r"template failed: its worker ended during the job \(exit status 3\)"),
    ("print('Traceback (most recent call last):', flush=True); time.sleep(60)", "template failed: its worker answered"),
])
def test_a_worker_that_dies_or_answers_nonsense_is_replaced(after_ready: str, reason: str) -> None:
    made: list[Worker] = []

    def make() -> Worker:
        made.append(fake_worker(after_ready) if not made else Worker())
        return made[-1]

    pool = WorkerPool(workers=1, make=make)
    try:
        with pytest.raises(TemplateError, match=reason):
            pool.render_all([("{{ x }}", False)], {"x": 1})
        assert not is_running(made[0].process.pid)
        assert pool.render_all([("{{ x }}", False)], {"x": 1}) == ["1"]  # by the real worker that replaced it
    finally:
        pool.close()


@pytest.mark.timeout(30)
def test_a_request_waits_for_a_free_worker_up_to_the_queue_limit() -> None:
    pool = WorkerPool(workers=1, queue_wait=0.3)
    try:
        pool.start()
        pool.render_all([("warm", False)], {})
        endless = gevent.spawn(pool.render_all, [(ENDLESS, False)], {})
        gevent.sleep(0.05)
        with pytest.raises(WorkersBusyError, match=r"all 1 API workers stayed busy for 0\.3 s"):
            pool.render_all([("{{ x }}", False)], {"x": 1})
        with pytest.raises(TemplateTimeError):
            endless.get(timeout=10)
        assert pool.render_all([("{{ x }}", False)], {"x": 1}) == ["1"]
    finally:
        pool.close()


@pytest.mark.timeout(30)
def test_closing_the_pool_ends_its_workers() -> None:
    pool = WorkerPool(workers=2)
    pool.start()
    pids = [worker.process.pid for worker in pool._idle.queue]
    assert len(pids) == 2 and all(map(is_running, pids))
    pool.close()
    assert not any(map(is_running, pids))


@pytest.mark.timeout(30)
def test_a_callflow_is_validated_in_a_worker_as_flows_check_validates_it(pool: WorkerPool) -> None:
    doc = {"numbers": ["+15550001000"], "flow": {"module": "menu", "data": {"retries": "many"}, "children": {
        "1": {"module": "missed_call_alret", "data": {}}}}}
    found = pool.check_callflow(doc, "api")
    expected = check_callflow(doc, "api").errors
    assert [(e.source, e.path, e.reason) for e in found] == [(e.source, e.path, e.reason) for e in expected]
    assert any("did you mean 'missed_call_alert'" in e.reason for e in found)
    assert pool.check_callflow({"numbers": ["+15550001000"], "flow": {"module": "answer", "data": {}}}) == []


@pytest.mark.timeout(30)
def test_a_callflow_check_past_its_hard_limit_fails_naming_it() -> None:
    pool = WorkerPool(workers=1, check_limit=0.5, make=lambda: fake_worker("time.sleep(60)"))
    try:
        with pytest.raises(WorkerFailedError, match=r"ran past the hard limit of 0\.5 s") as failed:
            pool.check_callflow({"numbers": ["1"], "flow": {"module": "answer", "data": {}}})
        assert failed.value.overran and pool.replaced == 1
    finally:
        pool.close()
