"""Previews and save-time checks render in the API's template workers, never on the loop that
answers requests: a heavy preview leaves every other request answered at once, and a worker
that overruns the hard limit is killed while the API answers 400 naming the limit."""

import itertools
import time
from typing import Any

import gevent
import pytest
import redis

from controller.services import Services
from controller.store import keys
from controller.workers.pool import WorkerPool
from tests.api_world import serve_api
from tests.test_workers import ENDLESS, is_running

BASE = "/v2/accounts/child/notifications/missed_call"


@pytest.mark.timeout(60)
def test_a_worker_over_the_hard_limit_is_killed_and_the_api_answers_with_the_limit(
    services: Services, rds: redis.Redis
) -> None:
    pool = WorkerPool(workers=1, render_limit=0.3)
    with serve_api(services, pool) as api:
        assert api.call("POST", BASE + "/preview", json={"data": {"subject": "warm"}}).status_code == 200
        (worker,) = pool._idle.queue
        for path in (BASE + "/preview", BASE):
            response = api.call("POST", path, json={"data": {"subject": "ok", "plain": ENDLESS}})
            assert response.status_code == 400, response.text
            assert response.json()["data"] == {"text/plain": {
                "template": "template ran past the hard limit of 0.3 s (its worker was stopped)"}}
        assert not is_running(worker.process.pid) and pool.replaced == 2
        assert not rds.exists(keys.template("child", "missed_call"))
        shown = api.ok("POST", BASE + "/preview", json={"data": {"subject": "Hi {{ account.name }}"}})
        assert shown["subject"] == "Hi Child Office"


@pytest.mark.timeout(60)
def test_the_api_answers_other_requests_while_a_heavy_preview_renders(services: Services) -> None:
    """The client and the API share this process's loop: a render on it would stop both, the
    ticker below too."""
    ticks: list[float] = []
    answered = [0]

    def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    def ask_others() -> None:
        while True:
            assert api.call("GET", "/v2/accounts/child").status_code == 200
            answered[0] += 1

    with serve_api(services) as api:
        api.ok("POST", BASE + "/preview", json={"data": {"subject": "warm"}})
        others = [gevent.spawn(tick), gevent.spawn(ask_others)]
        started = time.monotonic()
        response = api.call("POST", BASE + "/preview", json={"data": {"subject": "ok", "plain": ENDLESS}})
        took = time.monotonic() - started
        gevent.killall(others)
    assert response.status_code == 400 and "template ran longer than 1 s" in response.text
    assert took >= 0.9  # its worker ran it for 1 s
    assert max(later - earlier for earlier, later in itertools.pairwise(ticks)) < 0.5
    assert answered[0] >= 10


def wide_flow(depth: int, width: int) -> dict[str, Any]:
    if depth == 0:
        return {"module": "play", "data": {"id": "tone_stream://%(20,0,440)"}, "children": {}}
    return {"module": "menu", "data": {}, "children": {str(i): wide_flow(depth - 1, width) for i in range(width)}}


@pytest.mark.timeout(60)
def test_a_large_callflow_is_validated_in_a_worker_under_its_hard_limit(services: Services) -> None:
    """11,111 nodes (0.9 MB): over a second of validation, once, in a worker. Past the limit
    the worker is stopped and the API answers 400 naming it."""
    doc = {"name": "big", "numbers": ["+15550009999"], "flow": wide_flow(4, 10)}
    hasty = WorkerPool(workers=1, check_limit=0.05)
    with serve_api(services, hasty) as api:
        response = api.call("PUT", "/v2/accounts/child/callflows", json={"data": doc})
        assert response.status_code == 400, response.text
        assert response.json()["data"] == {"document": {
            "maxTime": "validating the callflow ran past the hard limit of 0.05 s (its worker was stopped)"}}
        assert hasty.replaced == 1
    with serve_api(services) as api:
        made = api.ok("PUT", "/v2/accounts/child/callflows", json={"data": doc})
        assert api.ok("GET", f"/v2/accounts/child/callflows/{made['id']}")["flow"] == doc["flow"]
