"""call_forward (Kazoo's cf_call_forward) through the real server with the simulator as
FreeSWITCH: Bob's phone (1002) dials the feature codes, keys a number in, and the next call to
Bob follows what was stored."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome, Keypress
from controller.store.documents import Documents
from tests.office import ACCOUNT, call, flow, load, node

DIGITS = "play_and_get_digits"
FAST = 0.01  # FreeSWITCH's waits for keys nobody presses, in simulated time
NO_ANSWER = BridgeOutcome("no_answer", timeout=0.01)


def codes(action: str, pattern: str) -> dict[str, Any]:
    return {"id": f"cf-code-{action}", "patterns": [pattern], "flow": node("call_forward", {"action": action})}


def feature_codes(rds: redis.Redis, **documents: list[dict[str, Any]]) -> None:
    """Kazoo's codes: *72 activate, *73 deactivate, *74 toggle, *56 update, *75 the menu; 600
    rings Bob."""
    load(rds, codes("activate", r"^\*72([0-9]*)$"), codes("deactivate", r"^\*73$"), codes("toggle", r"^\*74$"),
         codes("update", r"^\*56([0-9]*)$"), codes("menu", r"^\*75$"), flow("600", node("user", {"id": "u-bob"})),
         **documents)


def forward_of(rds: redis.Redis, kind: str = "users", doc_id: str = "u-bob") -> dict[str, Any]:
    return (Documents(rds, kind).get(ACCOUNT, doc_id)).get("call_forward", {})


def set_forward(rds: redis.Redis, **fields: Any) -> None:
    bob = Documents(rds, "users").get(ACCOUNT, "u-bob")
    Documents(rds, "users").save(ACCOUNT, {**bob, "call_forward": fields})


def from_bob(server: OutboundServer, number: str, keys: str = "", **scenario: Any) -> Any:
    presses = tuple(Keypress(group, on=DIGITS) for group in keys.split("/") if group)
    return call(server, number, internal_user="1002", keypresses=presses, **scenario)


def rung_by_600(server: OutboundServer) -> list[str]:
    return call(server, "600", bridges=(NO_ANSWER,)).args_of("bridge")


def test_star_72_stores_the_number_keyed_in_and_the_next_call_is_forwarded(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    record = from_bob(esl_server, "*72", "5551234#")
    assert "answer" in record.app_names()
    assert forward_of(rds) == {"enabled": True, "number": "5551234"}
    assert "flite|slt|Your calls are now forwarded to 5 5 5 1 2 3 4." in record.args_of("speak")
    [dialled] = rung_by_600(esl_server)
    assert dialled.endswith("loopback/5551234/controller") and "user/1002" not in dialled


def test_star_72_with_digits_after_it_takes_them_without_asking(rds: redis.Redis, esl_server: OutboundServer) -> None:
    feature_codes(rds)
    record = from_bob(esl_server, "*7215557770000")
    assert DIGITS not in record.app_names()
    assert forward_of(rds) == {"enabled": True, "number": "15557770000"}


def test_only_enabled_and_number_change_the_other_fields_stay(rds: redis.Redis, esl_server: OutboundServer) -> None:
    feature_codes(rds)
    set_forward(rds, enabled=False, number="5550000", require_keypress=False, substitute=False)
    from_bob(esl_server, "*725559999")
    assert forward_of(rds) == {"enabled": True, "number": "5559999", "require_keypress": False, "substitute": False}


def test_star_73_turns_forwarding_off_keeping_the_number_and_the_phone_rings_again(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    set_forward(rds, enabled=True, number="5551234")
    assert rung_by_600(esl_server)[0].endswith("loopback/5551234/controller")
    record = from_bob(esl_server, "*73")
    assert record.args_of("speak") == ["flite|slt|Call forwarding is now disabled."]
    assert forward_of(rds) == {"enabled": False, "number": "5551234"}
    assert rung_by_600(esl_server) == ["[leg_timeout=20]user/1002@office.test"]


def test_star_74_toggles_on_to_the_stored_number_then_off(rds: redis.Redis, esl_server: OutboundServer) -> None:
    feature_codes(rds)
    set_forward(rds, enabled=False, number="5551234")
    assert DIGITS not in from_bob(esl_server, "*74").app_names()
    assert forward_of(rds) == {"enabled": True, "number": "5551234"}
    from_bob(esl_server, "*74")
    assert forward_of(rds) == {"enabled": False, "number": "5551234"}


def test_star_74_without_a_number_asks_for_one(rds: redis.Redis, esl_server: OutboundServer) -> None:
    feature_codes(rds)
    from_bob(esl_server, "*74", "5551234#")
    assert forward_of(rds) == {"enabled": True, "number": "5551234"}


def test_star_56_changes_the_number_and_leaves_forwarding_as_it_was(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    set_forward(rds, enabled=False, number="5551234")
    from_bob(esl_server, "*56", "5559876#")
    assert forward_of(rds) == {"enabled": False, "number": "5559876"}


def test_the_menu_toggles_with_1_changes_the_number_with_2_and_ends_when_nothing_is_pressed(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    set_forward(rds, enabled=False, number="5551234")
    record = from_bob(esl_server, "*75", "1/2/5550000#", time_scale=FAST)
    assert forward_of(rds) == {"enabled": True, "number": "5550000"}
    prompts = [arg for arg in record.args_of(DIGITS) if "press 1" in arg]
    assert "Call forwarding is disabled." in prompts[0] and "Call forwarding is enabled." in prompts[1]


def test_a_number_too_short_or_with_a_star_is_asked_again_and_three_bad_tries_change_nothing(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    record = from_bob(esl_server, "*72", "12#/55*5123#/#", time_scale=FAST)
    assert len(record.args_of(DIGITS)) == 3
    assert forward_of(rds) == {}
    assert not any("forwarded to" in arg for arg in record.args_of("speak"))


def test_a_caller_from_outside_hears_it_is_not_available_and_nothing_changes(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    record = call(esl_server, "*725551234")
    assert record.args_of("speak") == ["flite|slt|Call forwarding is not available."]
    assert "answer" not in record.app_names()
    assert forward_of(rds) == {}


def test_a_device_without_an_owner_changes_its_own_forwarding(rds: redis.Redis, esl_server: OutboundServer) -> None:
    lobby = {"id": "d-lobby", "sip": {"username": "1010"}}
    feature_codes(rds, devices=[lobby])
    call(esl_server, "*725551234", internal_user="1010")
    assert forward_of(rds, "devices", "d-lobby") == {"enabled": True, "number": "5551234"}


def test_the_change_is_saved_before_it_is_said_so_hanging_up_on_the_confirmation_keeps_it(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    from_bob(esl_server, "*725551234", hangup_during=("speak", 0.0))
    assert forward_of(rds) == {"enabled": True, "number": "5551234"}


def test_in_the_menu_three_bad_numbers_change_nothing_and_the_menu_goes_on(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    set_forward(rds, enabled=False, number="5551234")
    from_bob(esl_server, "*75", "2/1#/2#/3#/1", time_scale=FAST)
    assert forward_of(rds) == {"enabled": True, "number": "5551234"}
