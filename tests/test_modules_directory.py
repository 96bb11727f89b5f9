"""The `directory` module (dial by name) through the real server, the simulator pressing the
caller's keys: spelling, confirming, choosing among matches, starting over, and where the call
goes then (Kazoo's cf_directory)."""

from typing import Any

import pytest
import redis

from controller.esl.safety import inert
from controller.esl.server import OutboundServer
from controller.lab.scenario import Keypress
from controller.modules.directory_listing import Entry, dialpad, listing, matches
from controller.store.documents import Documents
from tests.office import ACCOUNT, bundle, call, flow, load, node
from tests.test_caller_text_inert import HOSTILE

FAST = 0.05
ASK = "Please enter the first few letters of the name of the person you are calling."
DIRECTORY = {"id": "dir-main", "name": "Company", "min_dtmf": 3}
IN_DIRECTORY = {"u-ann": "cf-ann", "u-bob": "cf-bob", "u-cat": "cf-gone", "u-lee": "cf-lee"}


def users(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The office's users, those of IN_DIRECTORY listed in `dir-main`, and Lee Ng (no phone)."""
    found = [*bundle([])["users"], {"id": "u-lee", "first_name": "Lee", "last_name": "Ng"}, *extra]
    return [{**user, "directories": {"dir-main": IN_DIRECTORY[user["id"]]}} if user["id"] in IN_DIRECTORY else user
            for user in found]


def office(rds: redis.Redis, number: str, directory: dict[str, Any] | None = None,
           people: list[dict[str, Any]] | None = None, **children: dict[str, Any]) -> None:
    load(rds, flow(number, node("directory", {"id": "dir-main"}, **children)),
         flow("2001", node("play", {"id": "/media/ann.wav"}), cid="cf-ann"),
         flow("2002", node("play", {"id": "/media/bob.wav"}), cid="cf-bob"),
         flow("2003", node("play", {"id": "/media/lee.wav"}), cid="cf-lee"),
         directories=[{**DIRECTORY, **(directory or {})}], users=people or users())


def presses(*entries: str) -> tuple[Keypress, ...]:
    return tuple(Keypress(entry, on="play_and_get_digits") for entry in entries)


def prompts_of(record: Any) -> list[str]:
    """What each collection said (its tts:// prompt's text)."""
    return [arg.split("|", 2)[2].split("'")[0] for arg in record.args_of("play_and_get_digits")]


def test_letters_of_a_last_name_confirmed_with_1_run_the_users_callflow(
        rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, "400")
    record = call(esl_server, "400", keypresses=presses("769", "1"), time_scale=FAST)
    assert record.app_names()[:2] == ["answer", "play_and_get_digits"]
    words = record.args_of("play_and_get_digits")[0].split()
    assert words[:5] == ["1", "32", "1", "5000", "#"]  # one key at least, 32 at most
    assert prompts_of(record) == [ASK, "One match found. To connect to Bob Roy, press 1. To start over, press 3."]
    assert record.args_of("playback") == ["/media/bob.wav"]


def test_a_first_name_is_spelled_when_the_directory_searches_first_names(
        rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, "401", {"search_fields": "first_name", "confirm_match": False})
    record = call(esl_server, "401", keypresses=presses("769", "262"), time_scale=FAST)
    assert prompts_of(record)[0] == ASK.replace("the name", "the first name")
    assert record.args_of("speak") == ["flite|slt|No match found."]  # Roy is a last name
    assert record.args_of("playback") == ["/media/bob.wav"]  # one match, taken without confirming


def test_several_matches_are_offered_in_order_and_2_moves_to_the_next(
        rds: redis.Redis, esl_server: OutboundServer) -> None:
    """533 spells Ann Lee's last name and Lee Ng's first name: sorted by last name, Lee then Ng."""
    office(rds, "402")
    record = call(esl_server, "402", keypresses=presses("533", "2", "1"), time_scale=FAST)
    menu = "press 1. For the next result, press 2. To start over, press 3."
    assert prompts_of(record)[1:] == [f"To call Ann Lee, {menu}", f"To call Lee Ng, {menu}"]
    assert record.args_of("playback") == ["/media/lee.wav"]


def test_sorting_by_first_name_offers_ann_first_and_3_starts_over(
        rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, "403", {"sort_by": "first_name"})
    record = call(esl_server, "403", keypresses=presses("533", "3", "266", "1"), time_scale=FAST)
    said = prompts_of(record)
    assert said[1].startswith("To call Ann Lee,") and said[2] == ASK
    assert said[3].startswith("One match found. To connect to Ann Lee,")
    assert record.args_of("playback") == ["/media/ann.wav"]


def test_an_unconfirmed_match_starts_over(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, "404", _=node("play", {"id": "/media/operator.wav"}))
    record = call(esl_server, "404", keypresses=presses("769", "9", "0"), time_scale=FAST)
    assert prompts_of(record)[2] == ASK
    assert record.args_of("playback") == ["/media/operator.wav"]  # 0 alone: the `_` child


def test_too_few_keys_are_refused_then_the_tries_run_out(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, "405", _=node("play", {"id": "/media/operator.wav"}))
    record = call(esl_server, "405", keypresses=presses("76", "7", "5"), time_scale=FAST)
    minimum = "flite|slt|You need to specify a minimum of 3 letters of the name."
    assert record.args_of("speak") == [minimum, minimum, "flite|slt|No match found."]
    assert "playback" not in record.app_names()  # the call ends, as Kazoo's does
    assert record.args_of("hangup") == ["NORMAL_CLEARING"]


def test_an_invalid_key_is_said_and_the_offer_repeated(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, "406", {"min_dtmf": 1, "max_dtmf": 3})
    record = call(esl_server, "406", keypresses=presses("5", "7", "1"), time_scale=FAST)
    assert record.args_of("play_and_get_digits")[0].split()[1] == "3"
    assert record.args_of("speak") == ["flite|slt|Invalid key pressed."]
    assert prompts_of(record)[1] == prompts_of(record)[2]
    assert record.args_of("playback") == ["/media/ann.wav"]


def test_past_the_last_match_no_more_results_and_a_new_search(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, "407")
    record = call(esl_server, "407", keypresses=presses("533", "2", "2", "769", "1"), time_scale=FAST)
    assert record.args_of("speak") == ["flite|slt|No more results."]
    assert record.args_of("playback") == ["/media/bob.wav"]


def test_a_user_whose_callflow_is_gone_has_their_phones_rung(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office(rds, "408", {"confirm_match": False})
    record = call(esl_server, "408", keypresses=presses("228"), time_scale=FAST)  # Cat Away
    assert any("1003@office.test" in arg for arg in record.args_of("bridge"))


def test_a_directory_that_lists_nobody_or_does_not_exist_continues(
        rds: redis.Redis, esl_server: OutboundServer) -> None:
    operator = node("play", {"id": "/media/operator.wav"})
    office(rds, "409", people=bundle([])["users"], _=operator)
    record = call(esl_server, "409", time_scale=FAST)
    assert record.args_of("speak") == ["flite|slt|No match found."]
    assert record.args_of("playback") == ["/media/operator.wav"]
    Documents(rds, "directories").delete(ACCOUNT, "dir-main")
    record = call(esl_server, "409", time_scale=FAST)
    assert "speak" not in record.app_names() and "play_and_get_digits" not in record.app_names()
    assert record.args_of("playback") == ["/media/operator.wav"]



@pytest.mark.parametrize("name", [text for text in HOSTILE if "\n" not in text])  # the schema refuses those
def test_a_hostile_name_is_spoken_inert_and_runs_nothing(
        name: str, rds: redis.Redis, esl_server: OutboundServer) -> None:
    hostile = {"id": "u-evil", "first_name": "Zed", "last_name": name[:128], "directories": {"dir-main": "cf-bob"}}
    office(rds, "411", people=users(hostile))
    record = call(esl_server, "411", keypresses=presses("933", "1"), time_scale=FAST)
    assert record.api_calls == []
    offered = record.args_of("play_and_get_digits")[1]
    assert inert(f"To connect to Zed {name[:128]}, press 1.") in offered
    assert offered.count("'") == 2  # the tts:// prompt's own quotes only
    assert record.args_of("playback") == ["/media/bob.wav"]


def test_the_keypad_spells_letters_only_and_ignores_accents() -> None:
    assert dialpad("O'Brien-Smith") == "62743676484"
    assert dialpad("Émile Zoë") == "36453963"
    assert dialpad("${system(x)}") == "7978369"
    users_by_id = {"a": {"first_name": "Ann", "last_name": "Lee", "directories": {"d": "c1"}},
                   "b": {"first_name": "Lee", "last_name": "Ng", "directories": {"d": "c2"}},
                   "c": {"first_name": "Bob", "last_name": "Roy", "directories": {"other": "c3"}}}
    entries = listing(users_by_id, "d", "last_name")
    assert [e.user_id for e in entries] == ["a", "b"]
    assert matches(entries, "533", "last_name") == [Entry("a", "Ann", "Lee", "c1")]
    assert [e.user_id for e in matches(entries, "533", "both")] == ["a", "b"]
    assert matches(entries, "", "both") == []
