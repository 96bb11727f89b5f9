"""The matcher against a real Redis: Kazoo's cf_flow order (numbers, patterns, no_match), the
account resolution order, and cache invalidation across processes."""

from typing import Any

import pytest
import redis

from controller.callflows.matcher import Matcher, resolve_account
from controller.errors import ConflictError, DocumentError
from controller.store.callflows import Callflows, stage_write

ACCOUNT = "acct1"


def flow(cid: str, numbers: list[str] | None = None, patterns: list[str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": cid, "flow": {"module": "answer", "data": {}}}
    if numbers:
        doc["numbers"] = numbers
    if patterns:
        doc["patterns"] = patterns
    return doc


@pytest.fixture
def callflows(rds: redis.Redis) -> Callflows:
    store = Callflows(rds)
    store.save(ACCOUNT, flow("main", numbers=["+15554441111", "1000"]))
    store.save(ACCOUNT, flow("vm", patterns=[r"^\*98(?<mailbox>\d+)$"]))
    store.save(ACCOUNT, flow("feature", patterns=[r"^\*9(\d)"]))
    store.save(ACCOUNT, flow("outbound", numbers=["no_match"]))
    return store


@pytest.mark.parametrize(
    ("number", "internal", "callflow", "reason", "capture"),
    [
        ("+15554441111", False, "main", "number", None),
        ("1000", True, "main", "number", None),
        ("*98100", False, "vm", "pattern", "100"),
        ("*95", False, "feature", "pattern", "5"),
        ("+442071234567", True, "outbound", "no_match", None),
        ("2071234567", True, "outbound", "no_match", None),
        ("+442071234567", False, None, None, None),  # outside callers never reach no_match
        ("sip-user", True, None, None, None),  # no_match only for all-digit numbers
        ("12a4", True, None, None, None),
    ],
)
def test_lookup_order_follows_kazoo(
    rds: redis.Redis, callflows: Callflows, number: str, internal: bool,
    callflow: str | None, reason: str | None, capture: str | None,
) -> None:
    route = Matcher(rds).match(ACCOUNT, number, is_internal=internal)
    if callflow is None:
        assert route is None
        return
    assert route is not None
    assert (route.callflow_id, route.reason, route.capture_group) == (callflow, reason, capture)


def test_exact_number_beats_a_matching_pattern(rds: redis.Redis, callflows: Callflows) -> None:
    callflows.save(ACCOUNT, flow("exact", numbers=["*98100"]))
    route = Matcher(rds).match(ACCOUNT, "*98100", is_internal=False)
    assert route is not None and route.callflow_id == "exact"


@pytest.mark.parametrize(("number", "internal"), [("+15550009999", False), ("2000", False), ("no_match", False)])
def test_a_callflow_holding_no_match_routes_only_internal_callers_whatever_number_found_it(
    rds: redis.Redis, callflows: Callflows, number: str, internal: bool,
) -> None:
    """Kazoo's cf_route_req: a flow that contains no_match is refused to an unauthorized call,
    even when one of its other numbers (or a pattern) matched."""
    callflows.save(ACCOUNT, flow("outbound", numbers=["no_match", "+15550009999"], patterns=[r"^2\d{3}$"]))
    assert Matcher(rds).match(ACCOUNT, number, is_internal=internal) is None
    route = Matcher(rds).match(ACCOUNT, number, is_internal=True)
    assert route is not None and route.callflow_id == "outbound"


def test_equal_captures_go_to_the_pattern_kazoo_tests_first(rds: redis.Redis, callflows: Callflows) -> None:
    callflows.save(ACCOUNT, flow("any-prefix", patterns=[r"^\d(\d{4})$"]))
    callflows.save(ACCOUNT, flow("two-prefix", patterns=[r"^2(\d{4})$"]))
    route = Matcher(rds).match(ACCOUNT, "21234", is_internal=False)
    assert route is not None and (route.callflow_id, route.capture_group) == ("two-prefix", "1234")


def test_named_groups_become_capture_groups(rds: redis.Redis, callflows: Callflows) -> None:
    route = Matcher(rds).match(ACCOUNT, "*98123", is_internal=False)
    assert route is not None and route.capture_groups == {"mailbox": "123"}


def test_pattern_cache_sees_a_change_made_by_another_process(rds: redis.Redis, callflows: Callflows) -> None:
    matcher = Matcher(rds)
    assert matcher.match(ACCOUNT, "*7123", is_internal=False) is None
    Callflows(rds).save(ACCOUNT, flow("park", patterns=[r"^\*7(\d+)$"]))  # a different writer
    route = matcher.match(ACCOUNT, "*7123", is_internal=False)
    assert route is not None and route.callflow_id == "park"
    Callflows(rds).delete(ACCOUNT, "park")
    assert matcher.match(ACCOUNT, "*7123", is_internal=False) is None


def test_duplicate_number_names_the_callflow_that_holds_it(rds: redis.Redis, callflows: Callflows) -> None:
    with pytest.raises(ConflictError) as caught:
        callflows.save(ACCOUNT, flow("other", numbers=["2000", "1000"]))
    assert caught.value.owner == "callflow 'main'"
    assert "'1000'" in str(caught.value)
    assert callflows.owner_of(ACCOUNT, "2000") is None  # nothing half-written


def test_saving_again_moves_numbers(rds: redis.Redis, callflows: Callflows) -> None:
    callflows.save(ACCOUNT, flow("main", numbers=["1001"]))
    assert callflows.owner_of(ACCOUNT, "1000") is None
    assert callflows.owner_of(ACCOUNT, "1001") == "main"
    assert callflows.accounts_using("1000") == []


def test_invalid_callflow_is_refused_with_its_path(rds: redis.Redis) -> None:
    with pytest.raises(DocumentError) as caught:
        Callflows(rds).save(ACCOUNT, {"numbers": ["1"], "flow": {"module": "answer"}})
    assert caught.value.path == "$.flow"
    assert "'data' is a required property" in caught.value.reason


def test_account_resolution_order(rds: redis.Redis, callflows: Callflows) -> None:
    # Two accounts on one number: refused by the store now (numbers are global), but data written
    # before that (or by hand) may hold it; the matcher still refuses to guess.
    pipe = rds.pipeline()
    stage_write(pipe, "acct2", flow("shared", numbers=["1000"]), None)
    pipe.execute()
    assert resolve_account(rds, "1000", "fromvar", "dflt")[0] == "fromvar"
    assert resolve_account(rds, "+15554441111", None, "dflt")[0] == ACCOUNT
    assert resolve_account(rds, "1000", None, "dflt")[0] == "dflt"  # two accounts use it
    assert resolve_account(rds, "1000", None, "")[0] is None
