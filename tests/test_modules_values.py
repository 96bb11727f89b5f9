"""What the simple modules send, as pure logic: sleep units, caller ID values, channel
variables, playback steps, SIP responses and hangup causes."""

from typing import Any

import pytest

from controller.modules import hangup, play, prepend_cid, response, set_cid, set_variables, sleep

NAME, NUMBER = "effective_caller_id_name", "effective_caller_id_number"
DOLLAR = "\uff04"  # what a caller's or tenant's `$` becomes (controller/esl/safety.py)
OWN = {NAME: "${system(reboot)}", NUMBER: "+15550001111"}


@pytest.mark.parametrize(("data", "expected"), [
    ({}, 0),
    ({"duration": 250, "unit": "ms"}, 250),
    ({"duration": 2}, 2000),
    ({"duration": 1.5, "unit": "s"}, 1500),
    ({"duration": 2, "unit": "m"}, 120_000),
    ({"duration": 1, "unit": "h"}, 3_600_000),
    ({"duration": 3, "unit": "fortnights"}, 3000),
    ({"duration": -5}, 0),
    ({"duration": 48, "unit": "h"}, 86_400_000),
])
def test_sleep_converts_its_unit_to_milliseconds_within_a_day(data: dict[str, Any], expected: int) -> None:
    assert sleep.milliseconds(data) == expected


def test_set_cid_sets_the_effective_caller_id_on_one_line_without_expansions() -> None:
    data = {"caller_id_name": "Front\r\ndesk ${system(x)}", "caller_id_number": "+15554441111"}
    assert set_cid.variables(data) == {NAME: f"Front  desk {DOLLAR}{{system(x)}}", NUMBER: "+15554441111"}


def test_set_cid_keeps_a_field_that_is_absent_or_empty() -> None:
    assert set_cid.variables({"caller_id_name": "", "caller_id_number": "100"}) == {NUMBER: "100"}
    assert set_cid.variables({}) == {}


def test_prepend_cid_prefixes_the_callers_own_id_when_applied_to_original() -> None:
    data = {"caller_id_name_prefix": "Sales: ", "caller_id_number_prefix": "9", "apply_to": "original"}
    current = {NAME: "Set Earlier", NUMBER: "100"}
    assert prepend_cid.values(data, OWN, current) == {NAME: f"Sales: {DOLLAR}{{system(reboot)}}",
                                                      NUMBER: "9+15550001111"}


def test_prepend_cid_builds_on_what_is_shown_by_default_as_kazoo() -> None:
    """Kazoo's cf_prepend_cid defaults apply_to to `current`: a second prefix adds to the first."""
    data = {"caller_id_name_prefix": "VIP ", "caller_id_number_prefix": "8"}
    current = {NAME: "Sales: Pat", NUMBER: "9100"}
    assert prepend_cid.values(data, OWN, current) == {NAME: "VIP Sales: Pat", NUMBER: "89100"}


def test_prepend_cid_never_leaves_caller_text_for_freeswitch_to_expand() -> None:
    tricky = {NAME: "$${system(x)}", NUMBER: "$${y}"}
    found = prepend_cid.values({"caller_id_name_prefix": "A${b}", "caller_id_number_prefix": "1"}, tricky, tricky)
    assert found and all("$" not in str(value) and "\n" not in str(value) for value in found.values())


def test_prepend_cid_applied_to_current_builds_on_what_is_presented() -> None:
    data = {"caller_id_name_prefix": "VIP ", "apply_to": "current"}
    assert prepend_cid.values(data, OWN, {NAME: "Sales: Ann", NUMBER: "100"}) == {NAME: "VIP Sales: Ann"}


def test_prepend_cid_reset_restores_the_callers_own_id() -> None:
    assert prepend_cid.values({"action": "reset", "caller_id_name_prefix": "x"}, OWN, OWN) == {NAME: None, NUMBER: None}


def test_set_variables_writes_booleans_and_numbers_as_freeswitch_reads_them() -> None:
    data = {"custom_channel_vars": {"team": "sales", "vip": True, "muted": False, "tier": 2}}
    assert set_variables.variables(data) == {
        "ecallmgr_team": "sales", "ecallmgr_vip": "true", "ecallmgr_muted": "false", "ecallmgr_tier": "2"}


def test_set_variables_values_lose_line_breaks_and_expansions_and_bad_names_are_dropped() -> None:
    data = {"custom_channel_vars": {"note": "a\r\nX-Evil: 1 ${system(x)}", "bad name": "v", "a=b": "v"}}
    assert set_variables.variables(data) == {"ecallmgr_note": f"a  X-Evil: 1 {DOLLAR}{{system(x)}}"}


def test_play_answers_sets_terminators_then_plays() -> None:
    assert play.steps({"id": "/media/hello.wav", "terminators": ["#", "1"]}) == [
        ("answer", ""), ("multiset", "^^\x1fplayback_terminators=#1"), ("playback", "/media/hello.wav")
    ]


def test_play_is_stopped_by_any_key_by_default_as_kazoo_and_by_none_when_told() -> None:
    assert play.steps({"id": "tone_stream://%(100,0,440)", "answer": False}) == [
        ("multiset", "^^\x1fplayback_terminators=1234567890*#"), ("playback", "tone_stream://%(100,0,440)")
    ]
    assert play.steps({"id": "/a.wav", "answer": False, "terminators": []})[0] == (
        "multiset", "^^\x1fplayback_terminators=none")


def test_play_loop_count_plays_the_media_that_many_times_with_loop_playback() -> None:
    assert play.steps({"id": "/a.wav", "loop_count": 3})[-1] == ("loop_playback", "+3 /a.wav")
    assert play.steps({"id": "/a.wav", "loop_count": 1})[-1] == ("playback", "/a.wav")
    assert play.steps({"id": "/a.wav", "loop_count": 3, "endless_playback": True})[-1] == ("endless_playback", "/a.wav")


def test_play_fetches_urls_through_http_cache_and_loops_when_endless() -> None:
    assert play.media_path("https://media.example.com/a.mp3") == "http_cache://https://media.example.com/a.mp3"
    assert play.steps({"id": "/moh.wav", "endless_playback": True})[-1] == ("endless_playback", "/moh.wav")
    assert play.steps({"id": " "}) == []


def test_response_plays_early_media_before_the_sip_code() -> None:
    assert response.steps({"code": 404, "message": "Not\r\nHere", "media": "/media/nope.wav"}) == [
        ("pre_answer", ""), ("playback", "/media/nope.wav"), ("respond", "404 Not  Here")
    ]
    assert response.steps({}) == [("respond", "486")]
    assert response.steps({"code": 200}) == [("respond", "486")]


def test_hangup_uses_a_cause_name_or_normal_clearing() -> None:
    assert hangup.cause({"hangup_cause": "USER_BUSY"}) == "USER_BUSY"
    assert hangup.cause({}) == "NORMAL_CLEARING"
    assert hangup.cause({"hangup_cause": "USER_BUSY\r\nX: y"}) == "NORMAL_CLEARING"
