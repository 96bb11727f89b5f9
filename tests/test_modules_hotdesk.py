"""hotdesk (Kazoo's cf_hotdesk) through the real server with the simulator as FreeSWITCH: Dee,
a user without a phone of her own, logs in on Bob's desk phone (1002) with her hot desk id and
PIN; calls to Dee then ring that phone, calls to Bob no longer do, until she logs out."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome, Keypress
from controller.store.bundle import load_bundle
from controller.store.documents import Documents
from tests.office import ACCOUNT, bundle, call, flow, node

DIGITS = "play_and_get_digits"
FAST = 0.01
NO_ANSWER = BridgeOutcome("no_answer", timeout=0.01)
DEE = {"id": "u-dee", "first_name": "Dee", "last_name": "Hot",
       "hotdesk": {"enabled": True, "id": "42", "require_pin": True, "pin": "2468"}}


def hotdesk(action: str, pattern: str, **data: Any) -> dict[str, Any]:
    return {"id": f"cf-hotdesk-{action}-{len(data)}", "patterns": [pattern],
            "flow": node("hotdesk", {"action": action, **data})}


def office(rds: redis.Redis, dee: dict[str, Any] | None = None, *extra: dict[str, Any]) -> None:
    """*11 login, *12 logout, *13 toggle; 700 rings Dee, 701 rings Bob, 702 is Dee's hot desk bridge."""
    doc = bundle([hotdesk("login", r"^\*11$"), hotdesk("logout", r"^\*12$"), hotdesk("toggle", r"^\*13$"),
                  flow("700", node("user", {"id": "u-dee"})), flow("701", node("user", {"id": "u-bob"})),
                  flow("702", node("hotdesk", {"action": "bridge", "id": "u-dee"})), *extra])
    doc["users"].append(dee or DEE)
    load_bundle(rds, doc, "hotdesk test bundle")


def logged_in(rds: redis.Redis, device_id: str) -> list[str]:
    return sorted((Documents(rds, "devices").get(ACCOUNT, device_id).get("hotdesk") or {}).get("users") or {})


def dial(server: OutboundServer, phone: str, number: str, keys: str = "", **scenario: Any) -> Any:
    presses = tuple(Keypress(group, on=DIGITS) for group in keys.split("/") if group)
    return call(server, number, internal_user=phone, keypresses=presses, **scenario)


def rung(server: OutboundServer, number: str) -> list[str]:
    return call(server, number, bridges=(NO_ANSWER,)).args_of("bridge")


def test_a_user_logs_in_with_id_and_pin_and_the_phone_rings_as_hers_not_its_owners(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    office(rds)
    assert rung(esl_server, "700") == []
    record = dial(esl_server, "1002", "*11", "42#/2468#")
    assert record.app_names()[0] == "answer"
    assert "flite|slt|You are now logged in." in record.args_of("speak")
    assert logged_in(rds, "d-bob") == ["u-dee"]
    assert rung(esl_server, "700") == ["[leg_timeout=20]user/1002@office.test"]
    assert rung(esl_server, "701") == []  # Kazoo's `owned` view: a hot desk rings for its users only


def test_a_wrong_pin_three_times_logs_nobody_in(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds)
    record = dial(esl_server, "1002", "*11", "42#/1111#/2469#/24680#", time_scale=FAST)
    assert sum("PIN" in arg for arg in record.args_of(DIGITS)) == 3
    assert record.args_of("speak")[-2:] == ["flite|slt|Hot desking could not be completed.", "flite|slt|Goodbye."]
    assert logged_in(rds, "d-bob") == []


def test_an_unknown_hot_desk_id_is_asked_again_three_times(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds)
    record = dial(esl_server, "1002", "*11", "41#/4*2#/43#", time_scale=FAST)
    assert sum("hot desk I D" in arg for arg in record.args_of(DIGITS)) == 3
    assert logged_in(rds, "d-bob") == []


def test_logging_in_elsewhere_logs_out_of_the_first_phone_unless_kept(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    office(rds)
    dial(esl_server, "1002", "*11", "42#/2468#")
    dial(esl_server, "1001", "*11", "42#/2468#")
    assert logged_in(rds, "d-bob") == [] and logged_in(rds, "d-ann") == ["u-dee"]
    office(rds, {**DEE, "hotdesk": {**DEE["hotdesk"], "keep_logged_in_elsewhere": True}})
    dial(esl_server, "1002", "*11", "42#/2468#")
    dial(esl_server, "1001", "*11", "42#/2468#")
    assert logged_in(rds, "d-bob") == ["u-dee"] and logged_in(rds, "d-ann") == ["u-dee"]


def test_logout_from_the_phone_needs_no_id_and_bob_gets_his_phone_back(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    office(rds)
    dial(esl_server, "1002", "*11", "42#/2468#")
    record = dial(esl_server, "1002", "*12")
    assert DIGITS not in record.app_names()
    assert record.args_of("speak") == ["flite|slt|You are now logged out.", "flite|slt|Goodbye."]
    assert logged_in(rds, "d-bob") == []
    assert rung(esl_server, "701") == ["[leg_timeout=20]user/1002@office.test"]


def test_toggle_logs_in_then_out(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, {**DEE, "hotdesk": {"enabled": True, "id": "42"}})
    dial(esl_server, "1002", "*13", "42#")
    assert logged_in(rds, "d-bob") == ["u-dee"]
    dial(esl_server, "1002", "*13", "42#")
    assert logged_in(rds, "d-bob") == []


def test_bridge_rings_the_phones_the_user_is_logged_in_on(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds)
    assert rung(esl_server, "702") == []
    dial(esl_server, "1002", "*11", "42#/2468#")
    assert rung(esl_server, "702") == ["[leg_timeout=20]user/1002@office.test"]


def test_a_user_whose_hot_desking_is_not_enabled_cannot_log_in(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, {**DEE, "hotdesk": {"id": "42"}}, hotdesk("login", r"^\*14$", id="u-dee"))
    record = dial(esl_server, "1002", "*14")
    assert record.args_of("speak") == ["flite|slt|Hot desking could not be completed.", "flite|slt|Goodbye."]
    assert logged_in(rds, "d-bob") == []
    assert rung(esl_server, "702") == []


def test_a_node_naming_the_user_logs_them_in_without_asking_the_id(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    office(rds, None, hotdesk("login", r"^\*14$", id="u-dee"))
    record = dial(esl_server, "1002", "*14", "2468#")
    assert not any("hot desk I D" in arg for arg in record.args_of(DIGITS))
    assert logged_in(rds, "d-bob") == ["u-dee"]
