"""The `menu` module through the real server, the simulator pressing the caller's keys."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import Keypress
from controller.store.documents import Documents
from tests.office import ACCOUNT, call, flow, load, load_unchecked, node

FAST = 0.05  # FreeSWITCH times (menu timeouts) at 1/20: a 2 s interdigit timeout waits 100 ms


def menu(data: dict[str, Any] | None = None, **children: dict[str, Any]) -> dict[str, Any]:
    settings = {"media": {"greeting": "/media/menu.wav"}, **(data or {})}
    return node("menu", settings, **children)


def play(name: str) -> dict[str, Any]:
    return node("play", {"id": f"/media/{name}.wav"})


def presses(*entries: str) -> tuple[Keypress, ...]:
    """One entry per greeting (the menu's own prompts in between take no keys)."""
    return tuple(Keypress(entry, on="play_and_get_digits") for entry in entries)


def collections(record: Any) -> list[str]:
    return record.args_of("play_and_get_digits")


def test_a_digit_follows_its_child(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("200", menu({}, **{"1": play("one"), "2": play("two")})))
    record = call(esl_server, "200", keypresses=presses("2"), time_scale=FAST)
    assert record.app_names()[:2] == ["answer", "play_and_get_digits"]
    words = collections(record)[0].split()
    assert words[:5] == ["1", "4", "1", "10000", "#"]  # min, max, one try, timeout, terminator
    assert words[5] == "/media/menu.wav" and words[7] == "menu_digits"
    assert ("playback", "/media/two.wav") in record.apps
    assert ("playback", "/media/one.wav") not in record.apps


def test_an_unknown_digit_replays_the_invalid_prompt_then_takes_the_default_child(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, flow("201", menu({"retries": 2, "hunt": False}, **{"1": play("one"), "_": play("operator")})))
    record = call(esl_server, "201", keypresses=presses("9", "9"), time_scale=FAST)
    assert len(collections(record)) == 2
    playbacks = record.args_of("playback")
    assert playbacks == [
        "ivr/ivr-that_was_an_invalid_entry.wav",
        "ivr/ivr-that_was_an_invalid_entry.wav",
        "ivr/ivr-no_more_tries.wav",
        "/media/operator.wav",
    ]


def test_a_second_try_can_succeed(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("202", menu({"hunt": False}, **{"3": play("three"), "_": play("operator")})))
    record = call(esl_server, "202", keypresses=presses("7", "3"), time_scale=FAST)
    assert len(collections(record)) == 2
    assert record.args_of("playback") == ["ivr/ivr-that_was_an_invalid_entry.wav", "/media/three.wav"]


def test_silence_takes_the_timeout_child_when_there_is_one(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("203", menu({}, **{"1": play("one"), "timeout": play("nobody")})))
    record = call(esl_server, "203", time_scale=FAST)
    assert len(collections(record)) == 1
    assert record.args_of("playback") == ["/media/nobody.wav"]


def test_silence_without_a_timeout_child_retries_with_the_timeout_prompt(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    custom = {"retries": 3, "media": {"greeting": "/media/menu.wav", "timeout_media": "/media/again.wav",
                                      "exit_media": False}}
    load(rds, flow("204", menu(custom, **{"1": play("one")})))
    record = call(esl_server, "204", time_scale=FAST)
    assert len(collections(record)) == 3
    assert record.args_of("playback") == ["/media/again.wav"] * 3
    assert record.args_of("hangup") == ["NORMAL_CLEARING"]  # no `_` child: the flow ends


def test_hunting_an_extension_branches_into_its_callflow(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(
        rds,
        flow("205", menu({}, **{"1": play("one")})),
        flow("1002", play("bob")),
    )
    record = call(esl_server, "205", keypresses=presses("1002"), time_scale=FAST)
    assert ("playback", "/media/bob.wav") in record.apps


def test_hunt_deny_and_hunt_allow_are_honoured(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(
        rds,
        flow("206", menu({"retries": 1, "hunt_deny": "^10"}, _=play("operator"))),
        flow("207", menu({"retries": 1, "hunt_allow": "^2"}, _=play("operator"))),
        flow("208", menu({"retries": 1, "hunt": False}, _=play("operator"))),
        flow("1002", play("bob")),
    )
    for number in ("206", "207", "208"):
        record = call(esl_server, number, keypresses=presses("1002"), time_scale=FAST)
        assert ("playback", "/media/bob.wav") not in record.apps, number
        assert record.args_of("playback")[0] == "ivr/ivr-that_was_an_invalid_entry.wav", number


def test_a_menu_with_no_children_ends_the_call_cleanly(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("209", menu({"retries": 2, "hunt": False})))
    record = call(esl_server, "209", keypresses=presses("1", "2"), time_scale=FAST)
    assert len(collections(record)) == 2
    assert record.args_of("hangup") == ["NORMAL_CLEARING"]
    assert record.closed_by == "server"


def test_a_spoken_greeting_is_the_collections_own_prompt_so_a_key_pressed_while_it_is_said_counts(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    greeting = {"media": {"greeting_tts": {"text": "Press 1 for sales", "voice": "male"}}}
    load(rds, flow("210", node("menu", greeting, **{"1": play("sales")})))
    record = call(esl_server, "210", dtmf="1", time_scale=FAST)  # pressed as soon as the greeting starts
    assert "speak" not in record.app_names()
    assert "'tts://flite|kal|Press 1 for sales'" in collections(record)[0]
    assert ("playback", "/media/sales.wav") in record.apps


def test_the_caller_hanging_up_in_the_menu_ends_the_flow(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("211", menu({}, **{"1": play("one")})))
    record = call(esl_server, "211", hangup_during=("play_and_get_digits", 0.01), time_scale=FAST)
    assert record.hangup_cause == "NORMAL_CLEARING"
    assert "playback" not in record.app_names()


def test_custom_prompts_and_interdigit_timeout(rds: redis.Redis, esl_server: OutboundServer) -> None:
    media = {"greeting": "/media/menu.wav", "transfer_media": "/media/connecting.wav", "invalid_media": False}
    load(rds, flow("212", menu({"media": media, "interdigit_timeout": 1500, "max_extension_length": 2,
                                "hunt": False}, **{"12": play("twelve")})))
    record = call(esl_server, "212", keypresses=presses("3", "12"), time_scale=FAST)
    words = collections(record)[0].split()
    assert words[1] == "2" and words[-1] == "1500"
    assert record.args_of("playback") == ["/media/connecting.wav", "/media/twelve.wav"]  # no invalid prompt


# --- a stored menu document named by `id` (Kazoo's form) -----------------------------------------

MAIN_MENU = {"id": "m-main", "name": "Main menu", "retries": 2, "timeout": 5000, "hunt": False,
             "media": {"greeting": "/media/main-menu.wav", "invalid_media": "/media/wrong.wav",
                       "exit_media": "/media/goodbye.wav"}}


def test_a_stored_menu_plays_its_greeting_and_follows_a_digit(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("220", node("menu", {"id": "m-main"}, **{"1": play("one"), "2": play("two")})), menus=[MAIN_MENU])
    record = call(esl_server, "220", keypresses=presses("7", "2"), time_scale=FAST)
    words = collections(record)[0].split()
    assert words[3] == "5000" and words[5] == "/media/main-menu.wav"  # the document's timeout and greeting
    assert record.args_of("playback") == ["/media/wrong.wav", "/media/two.wav"]


def test_a_stored_menus_retries_end_with_its_exit_media_then_the_default_child(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, flow("221", node("menu", {"id": "m-main"}, **{"1": play("one"), "_": play("operator")})),
         menus=[MAIN_MENU])
    record = call(esl_server, "221", keypresses=presses("8", "9"), time_scale=FAST)
    assert len(collections(record)) == 2
    assert record.args_of("playback") == ["/media/wrong.wav", "/media/wrong.wav", "/media/goodbye.wav",
                                          "/media/operator.wav"]


def test_the_max_retries_child_comes_before_the_default_child(rds: redis.Redis, esl_server: OutboundServer) -> None:
    children = {"1": play("one"), "max_retries": play("tries"), "_": play("operator")}
    load(rds, flow("222", node("menu", {"id": "m-main"}, **children)), menus=[MAIN_MENU])
    record = call(esl_server, "222", keypresses=presses("8", "9"), time_scale=FAST)
    assert record.args_of("playback")[-1] == "/media/tries.wav"
    assert "/media/operator.wav" not in record.args_of("playback")


def test_the_nodes_own_data_fills_what_the_stored_menu_leaves_out(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    """Kazoo's cf_menu reads `interdigit_timeout` from the menu, else from the node."""
    load(rds, flow("223", node("menu", {"id": "m-main", "interdigit_timeout": 1500, "retries": 9},
                               **{"1": play("one")})), menus=[MAIN_MENU])
    record = call(esl_server, "223", keypresses=presses("1"), time_scale=FAST)
    assert collections(record)[0].split()[-1] == "1500"
    load(rds, flow("224", node("menu", {"id": "m-main", "retries": 9})), menus=[MAIN_MENU])
    assert len(collections(call(esl_server, "224", time_scale=FAST))) == 2  # the document's retries win


def test_suppress_media_leaves_out_the_invalid_entry_prompt(rds: redis.Redis, esl_server: OutboundServer) -> None:
    quiet = {**MAIN_MENU, "suppress_media": True}
    load(rds, flow("225", node("menu", {"id": "m-main"}, **{"1": play("one")})), menus=[quiet])
    record = call(esl_server, "225", keypresses=presses("7", "1"), time_scale=FAST)
    assert record.args_of("playback") == ["/media/one.wav"]


def test_a_menu_that_is_not_stored_runs_with_the_nodes_own_data(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_unchecked(rds, flow("226", node("menu", {"id": "m-gone", "media": {"greeting": "/media/inline.wav"}},
                                         **{"1": play("one")})))
    record = call(esl_server, "226", keypresses=presses("1"), time_scale=FAST)
    assert collections(record)[0].split()[5] == "/media/inline.wav"
    assert record.args_of("playback") == ["/media/one.wav"]


def test_a_change_to_the_stored_menu_reaches_the_next_call(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("227", node("menu", {"id": "m-main"}, **{"1": play("one")})), menus=[MAIN_MENU])
    assert collections(call(esl_server, "227", keypresses=presses("1"), time_scale=FAST))[0].split()[5] == (
        "/media/main-menu.wav")
    Documents(rds, "menus").save(ACCOUNT, {**MAIN_MENU, "media": {"greeting": "/media/new-menu.wav"}})
    assert collections(call(esl_server, "227", keypresses=presses("1"), time_scale=FAST))[0].split()[5] == (
        "/media/new-menu.wav")
