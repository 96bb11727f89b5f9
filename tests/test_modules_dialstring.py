"""Dial strings and bridge outcomes (controller/modules/bridging.py), as pure logic; the bridge
outcomes are read from the real FreeSWITCH captures."""

from pathlib import Path
from typing import Any

import pytest

from controller.call import Call, GoneChannel
from controller.callflows.schema import errors
from controller.esl import wire
from controller.lab.capture import received_stream
from controller.modules import bridging
from controller.modules.bridging import Leg

TRACES = Path(__file__).parent / "fixtures" / "esl-traces"
ANN = {"id": "d-ann", "owner_id": "u-ann", "sip": {"username": "1001"}}
ANN_ROUTE = {"id": "d-ann2", "owner_id": "u-ann",
             "sip": {"invite_format": "route", "route": "sip:1009@192.0.2.10:5060"}}
ANN_OFF = {"id": "d-off", "owner_id": "u-ann", "enabled": False, "sip": {"username": "1099"}}
BOB = {"id": "d-bob", "owner_id": "u-bob", "sip": {"username": "1002", "realm": "branch.test"}}


def legs(devices: list[dict[str, Any]], caller: str = "", **data: Any) -> list[Leg]:
    return bridging.legs_for(devices, data, "office.test", "lab", caller)


def bridge_completion(scenario: str) -> wire.Event:
    """The bridge's CHANNEL_EXECUTE_COMPLETE in a capture."""
    frames = wire.FrameReader(Chunk(received_stream(TRACES / f"{scenario}.txt")))
    events = (wire.parse_event(f) for f in frames if f.content_type == "text/event-plain")
    return next(e for e in events if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "bridge")


class Chunk:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def recv(self, size: int) -> bytes:
        piece, self.data = self.data[:size], self.data[size:]
        return piece


def test_registered_device_is_dialled_through_the_user_directory_of_the_account_realm() -> None:
    assert bridging.device_target(ANN, "office.test", "lab") == "user/1001@office.test"


def test_device_realm_wins_over_the_account_realm() -> None:
    assert bridging.device_target(BOB, "office.test", "lab") == "user/1002@branch.test"


def test_without_any_realm_freeswitch_fills_in_its_domain() -> None:
    assert bridging.device_target(ANN, "", "lab") == "user/1001@${domain_name}"


def test_route_device_goes_out_through_the_route_profile_without_the_sip_scheme() -> None:
    assert bridging.device_target(ANN_ROUTE, "office.test", "trunks") == "sofia/trunks/1009@192.0.2.10:5060"
    sips = {"sip": {"invite_format": "route", "route": "sips:1009@[2001:db8::1]:5061"}}
    assert bridging.device_target(sips, "office.test", "lab") == "sofia/lab/1009@[2001:db8::1]:5061"


@pytest.mark.parametrize("sip", [
    {},
    {"username": ""},
    {"username": "10,01"},
    {"username": "1001|x"},
    {"username": "1001\r\nX-Evil: 1"},
    {"username": "1001", "realm": "a b"},
    {"invite_format": "route"},
    {"invite_format": "route", "route": "sip:1@a,sofia/x/evil"},
    {"invite_format": "route", "route": "sip:{origination_uuid=x}1@a"},
])
def test_a_device_that_would_break_the_dial_string_is_not_dialled(sip: dict[str, str]) -> None:
    assert bridging.device_target({"sip": sip}, "office.test", "lab") is None


def test_each_leg_carries_its_timeout_and_only_a_real_delay() -> None:
    assert Leg("user/1001@office.test", 20).dial() == "[leg_timeout=20]user/1001@office.test"
    assert Leg("user/1001@office.test", 15, 5).dial() == "[leg_timeout=15,leg_delay_start=5]user/1001@office.test"


def test_simultaneous_strategy_joins_legs_with_commas_and_single_with_pipes() -> None:
    both = [Leg("user/1001@o", 20), Leg("user/1002@o", 20)]
    assert bridging.dial_string(both) == "[leg_timeout=20]user/1001@o,[leg_timeout=20]user/1002@o"
    assert bridging.dial_string(both, "single") == "[leg_timeout=20]user/1001@o|[leg_timeout=20]user/1002@o"
    assert bridging.dial_string(both, "unknown") == bridging.dial_string(both, "simultaneous")


def test_fail_on_single_reject_is_scoped_to_this_bridge() -> None:
    dial = bridging.dial_string([Leg("user/1001@o", 20)], fail_on_single_reject=True)
    assert dial == "{fail_on_single_reject=true}[leg_timeout=20]user/1001@o"


def test_legs_use_the_node_timeout_and_delay_defaulting_to_twenty_seconds_at_once() -> None:
    assert legs([ANN]) == [Leg("user/1001@office.test", 20, 0)]
    assert legs([ANN, ANN_ROUTE], timeout=7, delay=3) == [
        Leg("user/1001@office.test", 7, 3), Leg("sofia/lab/1009@192.0.2.10:5060", 7, 3)
    ]


def test_the_whole_bridge_lasts_as_long_as_its_slowest_leg() -> None:
    assert max(leg.rings_until for leg in [Leg("a", 20, 0), Leg("b", 15, 10)]) == 25


def test_the_calling_device_is_skipped_unless_it_may_call_itself() -> None:
    assert legs([ANN, BOB], caller="1001") == [Leg("user/1002@branch.test", 20, 0)]
    assert len(legs([ANN, BOB], caller="1001", can_call_self=True)) == 2
    assert len(legs([ANN, BOB], caller="")) == 2


def test_only_an_internal_caller_has_a_calling_device() -> None:
    data = {"variable_sip_from_user": "1001", "variable_sip_auth_username": "1001"}
    assert bridging.calling_username(Call(GoneChannel(), data, "acct", is_internal=True)) == "1001"
    assert bridging.calling_username(Call(GoneChannel(), data, "acct", is_internal=False)) == ""
    admitted = {"variable_sip_from_user": "1002", "variable_sip_acl_token": "1004@office.example.com"}
    assert bridging.calling_username(Call(GoneChannel(), admitted, "acct", is_internal=True)) == "1004"
    from_only = {"variable_sip_from_user": "1002"}  # the From user is the caller's word: never trusted
    assert bridging.calling_username(Call(GoneChannel(), from_only, "acct", is_internal=True)) == ""


def test_a_user_rings_only_their_enabled_devices() -> None:
    assert bridging.owned_by([ANN, ANN_ROUTE, ANN_OFF, BOB], "u-ann") == [ANN, ANN_ROUTE]
    assert bridging.owned_by([BOB], "u-ann") == []


def test_leg_timeout_expiry_tries_its_cause_then_kazoos_no_answer() -> None:
    for scenario in ("missed", "missed_continue"):
        assert bridging.failure_keys(bridge_completion(scenario)) == ("ALLOTTED_TIMEOUT", "NO_ANSWER")


def test_unreachable_callee_tries_its_cause_then_its_sip_code() -> None:
    assert bridging.failure_keys(bridge_completion("bridge_nolistener")) == ("NORMAL_TEMPORARY_FAILURE", "503")


def test_a_successful_bridge_has_no_failure() -> None:
    assert bridging.failure_cause(bridge_completion("bridge")) == ""


def test_busy_callee_tries_user_busy_then_486_and_stale_dispositions_are_ignored() -> None:
    event = {"variable_originate_disposition": "failure", "variable_DIALSTATUS": "USER_BUSY",
             "variable_sip_invite_failure_status": "486"}
    assert bridging.failure_keys(event) == ("USER_BUSY", "486")
    assert bridging.failure_keys({"variable_originate_disposition": "failure"}) == ()


@pytest.mark.parametrize("route", [
    "sip:a@203.0.113.9:_:[execute_on_originate=system:id]sofia/external/b@203.0.113.9",  # enterprise originate
    "sip:[execute_on_originate=system:id]a@203.0.113.9",  # a leg's variables at its start
    "sip:a@203.0.113.9<execute_on_originate=system:id>",
    "sip:^^:a@203.0.113.9",
])
def test_a_route_carrying_leg_variables_or_another_originate_is_refused_and_not_dialled(route: str) -> None:
    """A real FreeSWITCH reads `:_:` as enterprise originate and a leading `[...]` of each part as
    that leg's variables, so `execute_on_originate` would run on the new leg."""
    device = {"id": "d-ata", "sip": {"invite_format": "route", "route": route}}
    assert bridging.device_target(device, "office.test", "lab") is None
    assert keywords(errors("device.json", device)) & {"pattern", "not"}
    plain = {"id": "d-ata", "sip": {"invite_format": "route", "route": "sip:1004@192.0.2.10:5060"}}
    assert errors("device.json", plain) == []


def keywords(found: list[Any]) -> set[str]:
    return {error.validator for error in found}
