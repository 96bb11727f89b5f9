"""The render pool's workers are real processes: one that overruns the hard limit, dies or
answers nonsense is killed and replaced, and the request fails with a TemplateError that says
why; a request finding every worker busy for too long is refused, never left waiting."""

import os
import sys
from collections.abc import Iterator

import gevent
import pytest

from controller.notify.render import TemplateError, TemplateTimeError
from controller.notify.render_pool import RenderBusyError, RenderPool, RenderWorker

# Never finishes: stopped by the worker's own 1 s time limit (SIGALRM), or by the pool's hard one.
ENDLESS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def fake_worker(after_ready: str) -> RenderWorker:
    """A worker process that says it is ready, reads one request, then runs `after_ready`."""
    code = f"import json, sys, time\nprint(json.dumps({{'ready': 1}}), flush=True)\nsys.stdin.readline()\n{after_ready}"
    return RenderWorker([sys.executable, "-c", code])


def is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def pool() -> Iterator[RenderPool]:
    made = RenderPool(workers=1)
    yield made
    made.close()


@pytest.mark.timeout(30)
def test_templates_render_in_a_worker_process(pool: RenderPool) -> None:
    assert pool.render_all([("Hello {{ user.first_name }}", False), ("<b>{{ x }}</b>", True)],
                           {"user": {"first_name": "Ann"}, "x": "<i>"}) == ["Hello Ann", "<b>&lt;i&gt;</b>"]
    assert pool.names("{{ caller_id.name }} {{ account.realm }}") == {"caller_id", "account"}
    (worker,) = pool._idle.queue
    assert worker.process.pid != os.getpid() and worker.alive


@pytest.mark.timeout(30)
def test_the_workers_own_time_limit_refuses_an_endless_template_and_keeps_the_worker(pool: RenderPool) -> None:
    pool.render_all([("warm", False)], {})
    (worker,) = pool._idle.queue
    with pytest.raises(TemplateTimeError, match="template ran longer than 1 s"):
        pool.render_all([(ENDLESS, False)], {})
    assert pool._idle.queue == [worker] and worker.alive and pool.replaced == 0
    assert pool.render_all([("{{ 1 + 1 }}", False)], {}) == ["2"]


@pytest.mark.timeout(30)
def test_a_worker_that_overruns_the_hard_limit_is_killed_and_replaced() -> None:
    pool = RenderPool(workers=1, hard_limit=0.5, make=lambda: fake_worker("time.sleep(60)"))
    try:
        pool.start()
        (hung,) = pool._idle.queue
        stopped = r"ran past the hard limit of 0\.5 s \(its render worker was stopped\)"
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
    ("sys.exit(3)", r"its render worker ended during the render \(exit status 3\)"),
    ("print('Traceback (most recent call last):', flush=True); time.sleep(60)", "its render worker answered"),
])
def test_a_worker_that_dies_or_answers_nonsense_is_replaced(after_ready: str, reason: str) -> None:
    made: list[RenderWorker] = []

    def make() -> RenderWorker:
        made.append(fake_worker(after_ready) if not made else RenderWorker())
        return made[-1]

    pool = RenderPool(workers=1, make=make)
    try:
        with pytest.raises(TemplateError, match=reason):
            pool.render_all([("{{ x }}", False)], {"x": 1})
        assert not is_running(made[0].process.pid)
        assert pool.render_all([("{{ x }}", False)], {"x": 1}) == ["1"]  # by the real worker that replaced it
    finally:
        pool.close()


@pytest.mark.timeout(30)
def test_a_request_waits_for_a_free_worker_up_to_the_queue_limit() -> None:
    pool = RenderPool(workers=1, queue_wait=0.3)
    try:
        pool.start()
        pool.render_all([("warm", False)], {})
        endless = gevent.spawn(pool.render_all, [(ENDLESS, False)], {})
        gevent.sleep(0.05)
        with pytest.raises(RenderBusyError, match=r"all 1 template workers stayed busy for 0\.3 s"):
            pool.render_all([("{{ x }}", False)], {"x": 1})
        with pytest.raises(TemplateTimeError):
            endless.get(timeout=10)
        assert pool.render_all([("{{ x }}", False)], {"x": 1}) == ["1"]
    finally:
        pool.close()


@pytest.mark.timeout(30)
def test_closing_the_pool_ends_its_workers() -> None:
    pool = RenderPool(workers=2)
    pool.start()
    pids = [worker.process.pid for worker in pool._idle.queue]
    assert len(pids) == 2 and all(map(is_running, pids))
    pool.close()
    assert not any(map(is_running, pids))
