"""Call forwarding of users and devices (Kazoo's call_forward) through the real server with the
simulator as FreeSWITCH: what `user`, `device` and `ring_group` dial."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.modules import forwarding
from controller.store.bundle import load_bundle
from tests.office import bundle, call, flow, node

NO_ANSWER = BridgeOutcome("no_answer", timeout=0.01)
ACCOUNT = "acct-test"
CONFIRM = ("group_confirm_key=1,group_confirm_file=ivr/ivr-to_accept_press_one.wav,"
           "group_confirm_read_timeout=7000,group_confirm_cancel_timeout=true")
AS_BOB = f"controller_account_id={ACCOUNT},sip_authorized=true,sip_auth_username=1002"


def forward_leg(number: str, variables: str, timeout: int = 20) -> str:
    return f"[leg_timeout={timeout},{variables}]loopback/{number}/controller"


def load_forwarding(rds: redis.Redis, callflows: list[dict[str, Any]], *, user: dict[str, Any] | None = None,
                    device: dict[str, Any] | None = None) -> None:
    """The test account, Bob (user u-bob, device d-bob, 1002) given these call_forward fields."""
    doc = bundle(callflows)
    for found in doc["users"]:
        if found["id"] == "u-bob" and user is not None:
            found["call_forward"] = user
    for found in doc["devices"]:
        if found["id"] == "d-bob" and device is not None:
            found["call_forward"] = device
    load_bundle(rds, doc, "forwarding test bundle")


def dialled(server: OutboundServer, number: str, *bridges: BridgeOutcome) -> list[str]:
    return call(server, number, bridges=bridges or (NO_ANSWER,)).args_of("bridge")


def test_a_user_forwarded_rings_the_number_instead_of_the_phone_and_asks_for_a_key(
    rds: redis.Redis, esl_server: OutboundServer,
) -> None:
    """Kazoo's defaults: substitute, require_keypress, keep_caller_id, ignore_early_media."""
    load_forwarding(rds, [flow("600", node("user", {"id": "u-bob"}))],
                    user={"enabled": True, "number": "+15557770000"})
    assert dialled(esl_server, "600") == [forward_leg(
        "+15557770000", f"{AS_BOB},controller_retain_cid=true,ignore_early_media=true,{CONFIRM}")]


def test_without_substitute_the_phone_rings_too_and_the_fields_turn_things_off(
    rds: redis.Redis, esl_server: OutboundServer,
) -> None:
    load_forwarding(rds, [flow("601", node("user", {"id": "u-bob", "timeout": 15}))],
                    user={"enabled": True, "number": "5557770000", "substitute": False,
                          "require_keypress": False, "keep_caller_id": False, "ignore_early_media": False})
    # Without substitute, Kazoo ignores the forward's early media all the same.
    assert dialled(esl_server, "601") == [
        forward_leg("5557770000", f"{AS_BOB},ignore_early_media=true", 15) + ",[leg_timeout=15]user/1002@office.test"
    ]


def test_disabled_or_numberless_forwarding_rings_the_phone(rds: redis.Redis, esl_server: OutboundServer) -> None:
    bob = [flow("602", node("user", {"id": "u-bob"}))]
    load_forwarding(rds, bob, user={"enabled": False, "number": "+15557770000"})
    assert dialled(esl_server, "602") == ["[leg_timeout=20]user/1002@office.test"]
    load_forwarding(rds, bob, user={"enabled": True})
    assert dialled(esl_server, "602") == ["[leg_timeout=20]user/1002@office.test"]


def test_a_device_forwards_by_its_own_settings_else_by_its_owners(rds: redis.Redis, esl_server: OutboundServer) -> None:
    cf = [flow("603", node("device", {"id": "d-bob"}))]
    load_forwarding(rds, cf, user={"enabled": True, "number": "+15550000001"},
                    device={"enabled": True, "number": "+15550000002", "require_keypress": False})
    assert dialled(esl_server, "603") == [forward_leg(
        "+15550000002", f"{AS_BOB},controller_retain_cid=true,ignore_early_media=true")]
    load_forwarding(rds, cf, user={"enabled": True, "number": "+15550000001"},
                    device={"enabled": False, "require_keypress": False})
    # The device's own forwarding is off: the owner's applies, laid over the device's fields.
    assert dialled(esl_server, "603") == [forward_leg(
        "+15550000001", f"{AS_BOB},controller_retain_cid=true,ignore_early_media=true")]


def test_direct_calls_only_forwards_calls_to_the_user_but_not_those_of_a_ring_group(
    rds: redis.Redis, esl_server: OutboundServer,
) -> None:
    group = node("ring_group", {"endpoints": [{"id": "u-bob", "endpoint_type": "user"}]})
    load_forwarding(rds, [flow("604", node("user", {"id": "u-bob"})), flow("605", group)],
                    user={"enabled": True, "number": "+15557770000", "direct_calls_only": True})
    assert dialled(esl_server, "604")[0].endswith("loopback/+15557770000/controller")
    assert dialled(esl_server, "605") == ["[leg_timeout=20]user/1002@office.test"]


def test_a_ring_group_follows_forwarding_and_ignore_forward_is_about_sip_redirects(
    rds: redis.Redis, esl_server: OutboundServer,
) -> None:
    """As Kazoo: ring groups follow call_forward; `ignore_forward` (default true) makes a SIP
    redirect from a member fatal (FreeSWITCH's outbound_redirect_fatal)."""
    endpoints = [{"id": "u-bob", "endpoint_type": "user"}, {"id": "d-ann", "endpoint_type": "device"}]
    load_forwarding(rds, [flow("606", node("ring_group", {"endpoints": endpoints})),
                          flow("607", node("ring_group", {"endpoints": endpoints, "ignore_forward": False}))],
                    user={"enabled": True, "number": "+15557770000", "require_keypress": False})
    record = call(esl_server, "606", bridges=(NO_ANSWER,))
    assert record.args_of("bridge") == [
        forward_leg("+15557770000", f"{AS_BOB},controller_retain_cid=true,ignore_early_media=true")
        + ",[leg_timeout=20]user/1001@office.test"
    ]
    assert "outbound_redirect_fatal=true" in record.args_of("multiset")[0]
    assert "outbound_redirect_fatal=false" in call(esl_server, "607", bridges=(NO_ANSWER,)).args_of("multiset")[0]


def test_failover_rings_the_number_when_the_phone_is_not_registered(
    rds: redis.Redis, esl_server: OutboundServer,
) -> None:
    load_forwarding(rds, [flow("608", node("device", {"id": "d-bob"}, _=node("play", {"id": "/media/vm.wav"})))],
                    device={"failover": True, "number": "+15557770000"})
    record = call(esl_server, "608", bridges=(BridgeOutcome("not_registered"), NO_ANSWER))
    assert record.args_of("bridge") == [
        "[leg_timeout=20]user/1002@office.test",
        forward_leg("+15557770000", f"{AS_BOB},controller_retain_cid=true,ignore_early_media=true,{CONFIRM}"),
    ]
    assert ("playback", "/media/vm.wav") in record.apps  # the forward did not answer either: `_`
    # A phone that rang and was not answered is not replaced: one bridge, then `_`.
    assert len(dialled(esl_server, "608", NO_ANSWER)) == 1


def test_the_calling_device_and_its_forward_are_not_rung(rds: redis.Redis, esl_server: OutboundServer) -> None:
    forward = {"enabled": True, "number": "+15557770000"}
    load_forwarding(rds, [flow("609", node("user", {"id": "u-bob"}))], device=forward)
    record = call(esl_server, "609", internal_user="1002")
    assert "bridge" not in record.app_names()


def test_a_forward_leg_carries_no_text_that_freeswitch_would_read_as_syntax() -> None:
    """Only the schemas' shapes reach the leg's variables: a number with letters or a username
    with a `]` or `,` (a document written around the API) is left out, never quoted."""
    forward = forwarding.settings({"sip": {"username": "1002],x=y"}},
                                  {"call_forward": {"enabled": True, "number": "+1555${x}"}})
    assert forwarding.leg(forward, {}, ACCOUNT, (20, 0)) is None
    forward = {**forward, "number": "+15557770000"}
    leg = forwarding.leg(forward, {"sip": {"username": "1002],x=y"}}, ACCOUNT, (20, 0))
    assert leg is not None and "sip_auth_username" not in leg.dial() and "x=y" not in leg.dial()
    assert forwarding.leg(forward, {}, "acct,evil=1", (20, 0)) is None
