"""do_not_disturb (Kazoo's cf_do_not_disturb) through the real server with the simulator as
FreeSWITCH: the feature codes switch it, and `user`, `device` and `ring_group` leave a device
that does not want to be disturbed out of the bridge, forward included."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.store.documents import Documents
from tests.office import ACCOUNT, call, flow, load, node, queued_jobs

NO_ANSWER = BridgeOutcome("no_answer", timeout=0.01)
ALERT = {"recipients": [{"type": "user", "id": "u-ann"}]}
VOICEMAIL = node("play", {"id": "/media/vm.wav"})


def dnd(action: str, pattern: str, **data: Any) -> dict[str, Any]:
    return {"id": f"cf-dnd-{action}-{len(data)}", "patterns": [pattern],
            "flow": node("do_not_disturb", {"action": action, **data})}


def feature_codes(rds: redis.Redis, *extra: dict[str, Any]) -> None:
    """*78 on, *79 off, *77 toggle; 600 alerts Ann of a missed call, then rings Bob, then
    "voicemail"; 601 rings Bob's phone; 602 is the sales group (Ann's phones, Bob's phone)."""
    main = node("missed_call_alert", ALERT, _=node("user", {"id": "u-bob"}, _=VOICEMAIL))
    load(rds, dnd("activate", r"^\*78$"), dnd("deactivate", r"^\*79$"), dnd("toggle", r"^\*77$"),
         flow("600", main), flow("601", node("device", {"id": "d-bob"}, _=VOICEMAIL)),
         flow("602", node("ring_group", {"endpoints": [{"id": "g-sales", "endpoint_type": "group"}]})), *extra)


def dnd_of(rds: redis.Redis, kind: str = "users", doc_id: str = "u-bob") -> Any:
    return Documents(rds, kind).get(ACCOUNT, doc_id).get("do_not_disturb")


def from_bob(server: OutboundServer, number: str) -> Any:
    return call(server, number, internal_user="1002")


def test_star_78_turns_it_on_and_the_next_call_skips_bobs_phone_for_voicemail_with_one_missed_call_alert(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    record = from_bob(esl_server, "*78")
    assert record.app_names()[0] == "answer"
    assert record.args_of("speak") == ["flite|slt|Do not disturb activated."]
    assert dnd_of(rds) == {"enabled": True}
    queued_jobs(rds)  # (the feature code's own call, from inside, alerts nobody)
    missed = call(esl_server, "600", bridges=(NO_ANSWER,))
    assert "bridge" not in missed.app_names()
    assert missed.args_of("playback") == ["/media/vm.wav"]
    [job] = queued_jobs(rds)
    assert job["type"] == "missed_call"


def test_star_79_turns_it_off_and_bobs_phone_rings_again(rds: redis.Redis, esl_server: OutboundServer) -> None:
    feature_codes(rds)
    from_bob(esl_server, "*78")
    record = from_bob(esl_server, "*79")
    assert record.args_of("speak") == ["flite|slt|Do not disturb deactivated."]
    assert dnd_of(rds) == {"enabled": False}
    assert call(esl_server, "600", bridges=(NO_ANSWER,)).args_of("bridge") == ["[leg_timeout=20]user/1002@office.test"]


def test_toggle_switches_it_and_saying_it_again_changes_nothing(rds: redis.Redis, esl_server: OutboundServer) -> None:
    feature_codes(rds)
    from_bob(esl_server, "*77")
    assert dnd_of(rds) == {"enabled": True}
    assert from_bob(esl_server, "*78").args_of("speak") == ["flite|slt|Do not disturb activated."]
    assert dnd_of(rds) == {"enabled": True}
    from_bob(esl_server, "*77")
    assert dnd_of(rds) == {"enabled": False}


def test_a_device_named_by_id_is_left_out_but_its_owners_other_phones_ring(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds, dnd("activate", r"^\*781$", id="d-ann"), flow("603", node("user", {"id": "u-ann"})))
    call(esl_server, "*781", internal_user="1002")
    assert dnd_of(rds, "devices", "d-ann") == {"enabled": True}
    assert dnd_of(rds, "users", "u-ann") is None
    assert call(esl_server, "603", bridges=(NO_ANSWER,)).args_of("bridge") == [
        "[leg_timeout=20]sofia/lab/1009@192.0.2.10:5060"]


def test_the_device_module_and_a_ring_group_leave_a_do_not_disturb_phone_out(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    from_bob(esl_server, "*78")
    single = call(esl_server, "601", bridges=(NO_ANSWER,))
    assert "bridge" not in single.app_names() and single.args_of("playback") == ["/media/vm.wav"]
    group = call(esl_server, "602", bridges=(NO_ANSWER,)).args_of("bridge")
    assert group == ["[leg_timeout=20]user/1001@office.test,[leg_timeout=20]sofia/lab/1009@192.0.2.10:5060"]


def test_do_not_disturb_wins_over_call_forwarding(rds: redis.Redis, esl_server: OutboundServer) -> None:
    """Kazoo's kz_endpoint builds no endpoint at all, its forward included."""
    feature_codes(rds, flow("604", node("user", {"id": "u-cat"}, _=VOICEMAIL)))
    call(esl_server, "*78", internal_user="1003")
    assert dnd_of(rds, "users", "u-cat") == {"enabled": True}
    record = call(esl_server, "604", bridges=(NO_ANSWER,))
    assert "bridge" not in record.app_names() and record.args_of("playback") == ["/media/vm.wav"]


def test_a_caller_from_outside_without_an_id_hears_it_is_not_available(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    feature_codes(rds)
    record = call(esl_server, "*78")
    assert record.args_of("speak") == ["flite|slt|Do not disturb is not available."]
    assert dnd_of(rds) is None
