"""offnet / resources: number normalisation and carrier failover through the real server."""

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.modules.numbers import to_e164
from tests.office import call, flow, load, node

BUSY = BridgeOutcome("busy")


@pytest.mark.parametrize(("dialled", "country", "expected"), [
    ("+15551234567", "1", "+15551234567"),
    ("5551234567", "1", "+15551234567"),
    ("15551234567", "1", "+15551234567"),
    ("011442071234567", "1", "+442071234567"),
    ("00442071234567", "44", "+442071234567"),
    ("02071234567", "44", "+442071234567"),
    ("1001", "1", None),
    ("+12", "1", None),
    ("555-1234", "1", None),
])
def test_numbers_become_e164(dialled: str, country: str, expected: str | None) -> None:
    assert to_e164(dialled, country) == expected


def outbound(rds: redis.Redis, data: dict[str, object] | None = None) -> None:
    load(rds, {"id": "cf-out", "numbers": ["no_match"], "flow": node("offnet", data or {},
                                                                    _=node("play", {"id": "/media/failed.wav"}))})


def test_an_internal_call_goes_out_through_the_carriers_in_order(rds: redis.Redis, esl_server: OutboundServer) -> None:
    outbound(rds)
    record = call(esl_server, "5551234567", internal_user="1001", bridges=(BUSY,))
    assert record.args_of("bridge") == [
        "[leg_timeout=20]sofia/gateway/carrier-a/+15551234567|[leg_timeout=20]sofia/gateway/carrier-b/9915551234567"
    ]
    caller_id = record.args_of("multiset")[0]
    assert "effective_caller_id_number=+15550001000" in caller_id
    assert "effective_caller_id_name=Test Office" in caller_id
    assert ("playback", "/media/failed.wav") in record.apps  # busy everywhere: `_`


def test_carrier_patterns_flags_and_caller_id_type(rds: redis.Redis, esl_server: OutboundServer) -> None:
    outbound(rds, {"outbound_flags": ["fax"], "caller_id_type": "emergency", "timeout": 45})
    record = call(esl_server, "+15551234567", internal_user="1001", bridges=(BUSY,))
    assert record.args_of("bridge") == ["[leg_timeout=45]sofia/gateway/carrier-b/9915551234567"]
    assert "effective_caller_id_number=+15550001911" in record.args_of("multiset")[0]
    load(rds, flow("+442071234567", node("offnet", {})))
    record = call(esl_server, "+442071234567", bridges=(BUSY,))
    assert record.args_of("bridge") == ["[leg_timeout=20]sofia/gateway/carrier-b/99442071234567"]


def test_headers_and_an_inbound_callers_own_caller_id(rds: redis.Redis, esl_server: OutboundServer) -> None:
    data = {"to_did": "+15559990000", "emit_account_id": True, "ignore_early_media": True,
            "custom_sip_headers": {"Campaign": "fall", "out": {"X-Route": "a"}}}
    load(rds, flow("700", node("resources", data)))
    record = call(esl_server, "700", bridges=(BridgeOutcome("answered"),))
    variables = record.args_of("multiset")[0]
    assert "effective_caller_id" not in variables
    assert "sip_h_X-Account-ID=acct-test" in variables and "ignore_early_media=true" in variables
    assert "sip_h_X-Campaign=fall" in variables and "sip_h_X-Route=a" in variables
    assert record.args_of("bridge")[0].startswith("[leg_timeout=20]sofia/gateway/carrier-a/+15559990000|")


def test_a_number_no_carrier_can_take_fails_with_a_cause(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("701", node("offnet", {"to_did": "1234", "bypass_e164": False})),
         flow("702", node("offnet", {"to_did": "+442071234567", "outbound_flags": ["emergency"]})))
    first = call(esl_server, "701")
    assert "bridge" not in first.app_names() and first.args_of("hangup") == ["INVALID_NUMBER_FORMAT"]
    second = call(esl_server, "702")
    assert second.args_of("hangup") == ["NO_ROUTE_DESTINATION"]
