"""The per-process cache of what calls read from accounts, against a real Redis: a change made
by another writer (another process) is seen by the next lookup, a call reads its account's
revision once, and what a module is given cannot change what the next call reads."""

from typing import Any

import redis

from controller.callflows.matcher import Matcher
from controller.services import Services
from controller.store.bundle import load_bundle
from controller.store.cache import AccountCache, CallViews
from controller.store.callflows import Callflows

ACCOUNT = "cached"
BUNDLE: dict[str, Any] = {
    "account": {"id": ACCOUNT, "name": "Cached", "realm": "cached.example.com"},
    "users": [{"id": "u1", "first_name": "Ann"}],
    "devices": [{"id": "d1", "owner_id": "u1", "sip": {"username": "1001"}}],
    "callflows": [{"id": "cf1", "numbers": ["100"], "flow": {"module": "answer", "data": {}}}],
}


def test_a_changed_callflow_is_seen_by_the_next_lookup(rds: redis.Redis) -> None:
    load_bundle(rds, BUNDLE, "test")
    matcher = Matcher(rds)
    assert matcher.match(ACCOUNT, "100", is_internal=False).callflow["flow"]["module"] == "answer"  # type: ignore[union-attr]
    Callflows(rds).save(ACCOUNT, {"id": "cf1", "numbers": ["100"], "flow": {"module": "hangup", "data": {}}})
    assert matcher.match(ACCOUNT, "100", is_internal=False).callflow["flow"]["module"] == "hangup"  # type: ignore[union-attr]
    Callflows(rds).delete(ACCOUNT, "cf1")
    assert matcher.match(ACCOUNT, "100", is_internal=False) is None


def test_a_lookup_costs_one_revision_read_once_cached(rds: redis.Redis) -> None:
    load_bundle(rds, BUNDLE, "test")
    matcher = Matcher(rds)
    matcher.match(ACCOUNT, "100", is_internal=False)
    before = int(rds.info("stats")["total_commands_processed"])
    matcher.match(ACCOUNT, "100", is_internal=False)
    assert int(rds.info("stats")["total_commands_processed"]) - before == 2  # the GET, then INFO itself


def test_a_changed_device_is_seen_by_the_next_call(services: Services, rds: redis.Redis) -> None:
    load_bundle(rds, BUNDLE, "test")
    _, _, devices = services.for_call().ringing_context(ACCOUNT, "u1")
    assert devices[0]["sip"]["username"] == "1001"
    load_bundle(rds, {**BUNDLE, "devices": [{"id": "d1", "owner_id": "u1", "sip": {"username": "1002"}}]}, "test")
    _, user, devices = services.for_call().ringing_context(ACCOUNT, "u1")
    assert devices[0]["sip"]["username"] == "1002" and user is not None and user["first_name"] == "Ann"


def test_a_call_reads_its_revision_once_then_after_the_refresh(rds: redis.Redis) -> None:
    load_bundle(rds, BUNDLE, "test")
    cache = AccountCache(rds)
    pinned, fresh = CallViews(cache, refresh=60.0), CallViews(cache, refresh=0.0)
    first = pinned.view(ACCOUNT)
    Callflows(rds).save(ACCOUNT, {"id": "cf2", "numbers": ["200"], "flow": {"module": "answer", "data": {}}})
    assert pinned.view(ACCOUNT) is first
    assert fresh.view(ACCOUNT).revision == first.revision + 1


def test_what_a_module_changes_does_not_reach_the_next_call(services: Services, rds: redis.Redis) -> None:
    load_bundle(rds, BUNDLE, "test")
    account, _, devices = services.ringing_context(ACCOUNT, "u1")
    account["realm"] = "changed"
    devices[0]["sip"]["username"] = "changed"
    account, _, devices = services.ringing_context(ACCOUNT, "u1")
    assert account["realm"] == "cached.example.com" and devices[0]["sip"]["username"] == "1001"


def test_an_internal_caller_is_known_from_the_cache_and_a_changed_device_at_once(
    services: Services, rds: redis.Redis
) -> None:
    load_bundle(rds, BUNDLE, "test")
    views = services.for_call()
    assert views.calling_device(ACCOUNT, "1001") == {"id": "d1", "owner_id": "u1", "sip": {"username": "1001"}}
    before = int(rds.info("stats")["total_commands_processed"])
    assert views.calling_device(ACCOUNT, "1001") is not None and views.calling_device(ACCOUNT, "9999") is None
    assert int(rds.info("stats")["total_commands_processed"]) - before == 2  # the HGET of 9999's index, INFO
    load_bundle(rds, {**BUNDLE, "devices": [{"id": "d1", "owner_id": "u1", "sip": {"username": "1002"}}]}, "test")
    fresh = services.for_call()
    assert fresh.calling_device(ACCOUNT, "1001") is None
    assert fresh.calling_device(ACCOUNT, "1002") is not None
