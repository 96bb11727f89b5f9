"""Previews and save-time checks render in the API's template workers, never on the loop that
answers requests: a heavy preview leaves every other request answered at once, and a worker
that overruns the hard limit is killed while the API answers 400 naming the limit."""

import itertools
import time

import gevent
import pytest
import redis

from controller.notify.render_pool import RenderPool
from controller.services import Services
from controller.store import keys
from tests.api_world import serve_api
from tests.test_render_pool import ENDLESS, is_running

BASE = "/v2/accounts/child/notifications/missed_call"


@pytest.mark.timeout(60)
def test_a_worker_over_the_hard_limit_is_killed_and_the_api_answers_with_the_limit(
    services: Services, rds: redis.Redis
) -> None:
    pool = RenderPool(workers=1, hard_limit=0.3)
    with serve_api(services, pool) as api:
        assert api.call("POST", BASE + "/preview", json={"data": {"subject": "warm"}}).status_code == 200
        (worker,) = pool._idle.queue
        for path in (BASE + "/preview", BASE):
            response = api.call("POST", path, json={"data": {"subject": "ok", "plain": ENDLESS}})
            assert response.status_code == 400, response.text
            assert response.json()["data"] == {"text/plain": {
                "template": "template ran past the hard limit of 0.3 s (its render worker was stopped)"}}
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
