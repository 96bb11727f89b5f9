"""Revision notices against a real Redis: while the watch follows them, a call to an unchanged
account reads nothing from Redis; a change made by another writer, a lost subscription or a
silent Redis each send the next lookup back to Redis, so nothing stale is ever served."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
import redis

from controller.callflows.matcher import Matcher
from controller.config import Settings
from controller.esl.lifecycle import CallLifecycle
from controller.executor import Executor
from controller.modules import REGISTRY
from controller.services import Services
from controller.store.bundle import load_bundle
from controller.store.cache import AccountCache
from controller.store.callflows import Callflows
from controller.store.revisions import CHANNEL, RevisionWatch

ACCOUNT = "watched"
BUNDLE: dict[str, Any] = {
    "account": {"id": ACCOUNT, "name": "Watched", "realm": "watched.example.com"},
    "callflows": [{"id": "cf1", "numbers": ["100"], "flow": {"module": "answer", "data": {}}}],
}


def until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.01)
    return True


@pytest.fixture
def watch(redis_url: str) -> Iterator[RevisionWatch]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    followed = RevisionWatch(client, ping_seconds=0.2)
    followed.start()
    assert until(lambda: followed.live), "the watch never subscribed"
    yield followed
    followed.stop()
    client.close()


@pytest.fixture
def matcher(rds: redis.Redis, watch: RevisionWatch) -> Matcher:
    cache = AccountCache(rds)
    cache.follow(watch)
    return Matcher(rds, accounts=cache)


def module_of(matcher: Matcher, number: str = "100") -> str | None:
    route = matcher.match(ACCOUNT, number, is_internal=False)
    return None if route is None else str(route.callflow["flow"]["module"])


def commands_processed(rds: redis.Redis) -> int:
    return int(rds.info("stats")["total_commands_processed"])


def test_an_unchanged_account_costs_no_redis_read(rds: redis.Redis, watch: RevisionWatch, matcher: Matcher) -> None:
    before_load = watch.stamp(ACCOUNT)
    load_bundle(rds, BUNDLE, "test")
    assert until(lambda: watch.stamp(ACCOUNT) != before_load), "the load's notice never arrived"
    assert module_of(matcher) == "answer"
    before = commands_processed(rds)
    for _ in range(5):
        assert module_of(matcher) == "answer"
    assert commands_processed(rds) - before == 1  # INFO itself


def test_a_change_by_another_writer_is_seen_once_its_notice_arrives(
    rds: redis.Redis, redis_url: str, matcher: Matcher
) -> None:
    load_bundle(rds, BUNDLE, "test")
    assert module_of(matcher) == "answer"
    writer = redis.Redis.from_url(redis_url, decode_responses=True)
    Callflows(writer).save(ACCOUNT, {"id": "cf1", "numbers": ["100"], "flow": {"module": "hangup", "data": {}}})
    assert until(lambda: module_of(matcher) == "hangup", 2.0)
    Callflows(writer).delete(ACCOUNT, "cf1")
    assert until(lambda: module_of(matcher) is None, 2.0)
    writer.close()


def test_a_write_publishes_the_account_in_its_transaction(rds: redis.Redis, redis_url: str) -> None:
    listener = redis.Redis.from_url(redis_url, decode_responses=True).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(CHANNEL)
    load_bundle(rds, BUNDLE, "test")
    message = None
    deadline = time.monotonic() + 2
    while message is None and time.monotonic() < deadline:
        message = listener.get_message(timeout=0.1)
    listener.close()
    assert message is not None and message["data"] == ACCOUNT


def test_a_lost_subscription_vouches_for_nothing_cached_before_it(
    rds: redis.Redis, watch: RevisionWatch, matcher: Matcher
) -> None:
    load_bundle(rds, BUNDLE, "test")
    assert module_of(matcher) == "answer"
    vouched = watch.stamp(ACCOUNT)
    rds.client_kill_filter(_type="pubsub")
    assert until(lambda: watch.stamp(ACCOUNT) != vouched), "the watch did not notice its connection closing"
    # A change whose notice the watch cannot have received: it is down, or subscribed after it.
    Callflows(rds).save(ACCOUNT, {"id": "cf1", "numbers": ["100"], "flow": {"module": "hangup", "data": {}}})
    assert module_of(matcher) == "hangup"
    assert until(lambda: watch.live, 5.0), "the watch did not subscribe again"
    assert watch.stamp(ACCOUNT) != vouched
    assert module_of(matcher) == "hangup"


def test_a_silent_redis_stops_the_watch_vouching(rds: redis.Redis, watch: RevisionWatch) -> None:
    rds.execute_command("CLIENT", "PAUSE", "1500", "ALL")  # pings go unanswered
    try:
        assert until(lambda: not watch.live, 1.4), "the watch kept vouching without replies"
        assert watch.stamp(ACCOUNT) is None
    finally:
        rds.execute_command("CLIENT", "UNPAUSE")
    assert until(lambda: watch.live, 5.0)


def test_a_notice_the_watch_cannot_read_makes_it_lapse_not_die(rds: redis.Redis, watch: RevisionWatch) -> None:
    vouched = watch.stamp(ACCOUNT)
    rds.publish(CHANNEL, b"\xff\xfe")  # not UTF-8: the client's decoding fails
    assert until(lambda: watch.stamp(ACCOUNT) != vouched), "the watch kept vouching"
    assert until(lambda: watch.live, 5.0), "the watch did not come back"
    again = watch.stamp(ACCOUNT)
    rds.publish(CHANNEL, ACCOUNT)
    assert until(lambda: watch.stamp(ACCOUNT) != again), "notices are no longer followed"



@pytest.fixture
def lifecycle(settings: Settings, rds: redis.Redis, watch: RevisionWatch) -> Iterator[CallLifecycle]:
    services = Services.build(settings, redis.Redis.from_url(settings.redis_url, decode_responses=True))
    assert isinstance(services.cache, AccountCache)
    services.cache.follow(watch)
    yield CallLifecycle(services, Executor(REGISTRY))
    services.rds.close()


def test_a_number_whose_owner_has_not_changed_is_routed_without_asking_redis(
    rds: redis.Redis, watch: RevisionWatch, lifecycle: CallLifecycle
) -> None:
    before = watch.any_stamp()
    load_bundle(rds, BUNDLE, "test")
    assert until(lambda: watch.any_stamp() != before), "the load's notice never arrived"
    assert lifecycle._resolve("100", None) == (ACCOUNT, "owner of the dialed number")
    sent: list[str] = []
    original = lifecycle.services.rds.execute_command
    lifecycle.services.rds.execute_command = (  # type: ignore[method-assign]
        lambda *args, **options: sent.append(str(args[0])) or original(*args, **options))
    for _ in range(3):
        assert lifecycle._resolve("100", None) == (ACCOUNT, "owner of the dialed number")
    assert sent == []


def test_a_number_moved_to_another_account_is_routed_there_once_the_notice_arrives(
    rds: redis.Redis, redis_url: str, lifecycle: CallLifecycle
) -> None:
    load_bundle(rds, BUNDLE, "test")
    load_bundle(rds, {"account": {"id": "other", "name": "Other", "realm": "other.example.com"}}, "test")
    assert until(lambda: lifecycle._resolve("100", None)[0] == ACCOUNT)
    writer = redis.Redis.from_url(redis_url, decode_responses=True)
    Callflows(writer).delete(ACCOUNT, "cf1")
    Callflows(writer).save("other", {"id": "cf9", "numbers": ["100"], "flow": {"module": "hangup", "data": {}}})
    writer.close()
    assert until(lambda: lifecycle._resolve("100", None)[0] == "other", 2.0)


def test_without_the_watch_every_call_asks_redis_for_the_owner(
    rds: redis.Redis, watch: RevisionWatch, lifecycle: CallLifecycle
) -> None:
    load_bundle(rds, BUNDLE, "test")
    assert until(lambda: lifecycle._resolve("100", None)[0] == ACCOUNT)
    watch.stop()  # it vouches for nothing now
    rds.srem("number:100:accounts", ACCOUNT)  # behind the watch's back (no notice)
    assert lifecycle._resolve("100", None)[0] != ACCOUNT
