"""The account's preflow (Kazoo's `preflow.always`): a callflow run before every call's own,
through the real server with the simulator as FreeSWITCH."""

from typing import Any

import pytest
import redis

from controller.errors import ControllerError
from controller.esl.server import OutboundServer
from controller.executor import with_preflow
from controller.store.bundle import load_bundle
from tests.office import bundle, call, flow, node

PREFLOW = {"id": "cf-preflow", "numbers": ["*0001"], "name": "Preflow",
           "flow": node("play", {"id": "/media/pre.wav", "answer": False})}


def load_with_preflow(rds: redis.Redis, always: Any, *callflows: dict[str, Any]) -> None:
    doc = bundle([PREFLOW, *callflows])
    doc["account"]["preflow"] = {"always": always}
    load_bundle(rds, doc, "preflow test bundle")


def played(record: Any) -> list[str]:
    return record.args_of("playback")


def test_the_preflow_runs_before_the_call_s_own_flow(rds: redis.Redis, esl_server: OutboundServer) -> None:
    main = node("play", {"id": "/media/main.wav", "answer": False})
    load_with_preflow(rds, "cf-preflow", flow("700", main),
                      {"id": "cf-feature", "patterns": [r"^\*7(\d+)$"], "flow": main})
    assert played(call(esl_server, "700")) == ["/media/pre.wav", "/media/main.wav"]
    assert played(call(esl_server, "*71")) == ["/media/pre.wav", "/media/main.wav"]


def test_a_preflow_callflow_that_is_gone_is_skipped(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_with_preflow(rds, "cf-deleted", flow("701", node("play", {"id": "/media/main.wav", "answer": False})))
    assert played(call(esl_server, "701")) == ["/media/main.wav"]


def test_a_preflow_that_hangs_up_ends_the_call(rds: redis.Redis, esl_server: OutboundServer) -> None:
    hangup = {"id": "cf-closed", "numbers": ["*0002"], "flow": node("hangup", {"hangup_cause": "CALL_REJECTED"})}
    load_with_preflow(rds, "cf-closed", hangup, flow("702", node("play", {"id": "/media/main.wav"})))
    assert played(call(esl_server, "702")) == []


def test_the_preflow_is_kazoos_callflow_node_over_the_flow() -> None:
    flow_ = node("answer")
    assert with_preflow(flow_, {}) is flow_
    assert with_preflow(flow_, {"preflow": {}}) is flow_
    assert with_preflow(flow_, {"preflow": {"always": ""}}) is flow_
    assert with_preflow(flow_, {"preflow": {"always": "cf-1"}}) == {
        "module": "callflow", "data": {"id": "cf-1"}, "children": {"_": flow_}}


@pytest.mark.parametrize("preflow", [{"always": 7}, {"always": "a b"}, {"sometimes": "cf-preflow"}, "cf-preflow"])
def test_the_account_schema_refuses_a_malformed_preflow(rds: redis.Redis, preflow: Any) -> None:
    doc = bundle([PREFLOW])
    doc["account"]["preflow"] = preflow
    with pytest.raises(ControllerError, match="preflow"):
        load_bundle(rds, doc, "preflow test bundle")
