"""Kazoo's voicemail keys through the real server, the simulator as the caller pressing them:
the keys while the greeting plays and after a recording, the settings menu (greetings, name,
PIN), and forward, call back and the main menu's rules."""

import dataclasses
from pathlib import Path

import redis

from controller.config import Settings
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.executor import Executor
from controller.lab.scenario import Keypress
from controller.modules import REGISTRY
from controller.services import Services
from controller.store.documents import Documents
from controller.store.voicemail import VoicemailMessages
from tests.office import ACCOUNT, call, flow, load, node, queued_jobs
from tests.test_modules_voicemail import FAST, keys
from tests.test_modules_voicemail import leave as leave_two

PROMPT = "play_and_get_digits"
REVIEW = (PROMPT, 0.01)  # the caller hangs up once the message is recorded


def menus(record: object) -> list[str]:
    """The prompt of each key collection, in order."""
    return [arg.split()[5] for arg in record.args_of(PROMPT)]  # type: ignore[attr-defined]


def leave(rds: redis.Redis, settings: Settings, box: str, caller: str = "+15557770000") -> str:
    """A message whose recording exists in the box's folder; its path."""
    path = Path(settings.voicemail_dir) / ACCOUNT / box / "m0.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28))
    VoicemailMessages(rds).add(ACCOUNT, box, {"media_id": "m0", "timestamp": 100.0, "length": 4,
                                              "media_path": str(path), "caller_id_number": caller,
                                              "caller_id_name": "Carol", "call_id": "c-left"})
    return str(path)


def boxes(rds: redis.Redis) -> Documents:
    return Documents(rds, "vmboxes")


# --- while the greeting plays, and after the recording ----------------------------------------


def test_star_during_the_greeting_logs_in_to_the_box(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("700", node("voicemail", {"id": "vm-bob"})))
    script = (Keypress("*"), *keys("5678#", "#"))
    record = call(esl_server, "700", keypresses=script, time_scale=FAST)
    assert "record" not in record.app_names()
    assert menus(record) == ["voicemail/vm-enter_pass.wav", "voicemail/vm-main_menu.wav"]


def test_zero_during_the_greeting_rings_the_operator(rds: redis.Redis, esl_server: OutboundServer) -> None:
    operator = flow("0", node("play", {"id": "/media/operator.wav"}))
    load(rds, flow("701", node("voicemail", {"id": "vm-bob"})), operator)
    record = call(esl_server, "701", keypresses=(Keypress("0"),), time_scale=FAST)
    assert "record" not in record.app_names()
    assert record.args_of("playback")[-1] == "/media/operator.wav"


def test_the_boxs_operator_number_names_the_operator(rds: redis.Redis, esl_server: OutboundServer) -> None:
    vmboxes = [{"id": "vm-op", "mailbox": "1005", "operator_number": "2000", "min_message_length": 0}]
    load(rds, flow("702", node("voicemail", {"id": "vm-op"})), flow("2000", node("play", {"id": "/media/desk.wav"})),
         vmboxes=vmboxes)
    record = call(esl_server, "702", keypresses=(Keypress("0"),), time_scale=FAST)
    assert record.args_of("playback")[-1] == "/media/desk.wav"


def test_zero_with_no_operator_and_another_key_skip_to_the_recording(rds: redis.Redis,
                                                                     esl_server: OutboundServer) -> None:
    load(rds, flow("703", node("voicemail", {"id": "vm-bob"})))
    for key in ("0", "5"):
        record = call(esl_server, "703", keypresses=(Keypress(key), *keys("1")), record_seconds=0.05,
                      time_scale=FAST)
        assert record.app_names().count("record") == 1
    assert len(VoicemailMessages(rds).all(ACCOUNT, "vm-bob")) == 2


def test_after_the_recording_two_plays_it_and_one_keeps_it(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("704", node("voicemail", {"id": "vm-bob"})))
    record = call(esl_server, "704", keypresses=keys("2", "1"), record_seconds=0.05, time_scale=FAST)
    [message] = VoicemailMessages(rds).all(ACCOUNT, "vm-bob")
    played = record.args_of("playback")
    assert played.count(message["media_path"]) == 1  # heard once, on 2
    assert menus(record) == ["voicemail/vm-review_recording.wav"] * 2
    assert played[-2:] == ["voicemail/vm-saved.wav", "voicemail/vm-thank_you.wav"]
    assert [job["type"] for job in queued_jobs(rds)] == ["voicemail_to_email"]


def test_after_the_recording_three_records_again(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("705", node("voicemail", {"id": "vm-bob"})))
    record = call(esl_server, "705", keypresses=keys("3", "1"), record_seconds=0.05, time_scale=FAST)
    first, second = (arg.split()[0] for arg in record.args_of("record"))
    [message] = VoicemailMessages(rds).all(ACCOUNT, "vm-bob")
    assert message["media_path"] == second and not Path(first).exists()
    assert [job["type"] for job in queued_jobs(rds)] == ["voicemail_to_email"]


def test_after_the_recording_zero_keeps_it_and_rings_the_operator(rds: redis.Redis,
                                                                  esl_server: OutboundServer) -> None:
    load(rds, flow("706", node("voicemail", {"id": "vm-bob"})), flow("0", node("play", {"id": "/media/operator.wav"})))
    record = call(esl_server, "706", keypresses=keys("0"), record_seconds=0.05, time_scale=FAST)
    assert len(VoicemailMessages(rds).all(ACCOUNT, "vm-bob")) == 1
    assert record.args_of("playback")[-2:] == ["voicemail/vm-saved.wav", "/media/operator.wav"]


# --- the settings menu ----------------------------------------------------------------------------


def test_a_temporary_greeting_replaces_the_greeting_until_it_is_deleted(
        rds: redis.Redis, esl_server: OutboundServer, settings: Settings) -> None:
    load(rds, flow("710", node("voicemail", {"id": "vm-bob", "action": "check"})),
         flow("711", node("voicemail", {"id": "vm-bob"})))
    record = call(esl_server, "710", keypresses=keys("5678#", "5", "4", "1", "0", "#"), record_seconds=1.1,
                  time_scale=0.1)
    [recorded] = record.args_of("record")
    temporary = recorded.split()[0]
    assert temporary.startswith(f"{settings.voicemail_dir}/{ACCOUNT}/vm-bob/temporary_unavailable-")
    assert "voicemail/vm-record_temp_greeting.wav" in record.args_of("playback")
    assert boxes(rds).get(ACCOUNT, "vm-bob")["media"] == {"unavailable": "/media/bob-away.wav",
                                                          "temporary_unavailable": temporary}
    assert call(esl_server, "711", record_seconds=0.01, hangup_during=REVIEW).apps[2] == ("playback", temporary)
    deleted = call(esl_server, "710", keypresses=keys("5678#", "5", "5", "#"), time_scale=FAST)
    assert menus(deleted)[-1] == "voicemail/vm-main_menu.wav"  # 5 goes back to the main menu
    assert boxes(rds).get(ACCOUNT, "vm-bob")["media"] == {"unavailable": "/media/bob-away.wav"}
    assert not Path(temporary).exists()
    again = call(esl_server, "711", record_seconds=0.01, hangup_during=REVIEW)
    assert again.apps[2] == ("playback", "/media/bob-away.wav")


def test_the_name_is_recorded_on_the_owners_user(rds: redis.Redis, esl_server: OutboundServer,
                                                 settings: Settings) -> None:
    load(rds, flow("712", node("voicemail", {"id": "vm-ann", "action": "check"})))
    record = call(esl_server, "712", keypresses=keys("1234#", "5", "2", "1", "0", "#"), record_seconds=1.1,
                  time_scale=0.1)
    name = record.args_of("record")[0].split()[0]
    assert name.startswith(f"{settings.voicemail_dir}/{ACCOUNT}/vm-ann/name-")
    assert Documents(rds, "users").get(ACCOUNT, "u-ann")["media"] == {"name": name}


def test_a_greeting_not_kept_leaves_the_greeting_as_it_was(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("713", node("voicemail", {"id": "vm-bob", "action": "check"})))
    record = call(esl_server, "713", keypresses=keys("5678#", "5", "1", "9", "9", "9", "9", "0", "#"),
                  record_seconds=1.1, time_scale=0.1)
    assert "voicemail/vm-deleted.wav" in record.args_of("playback")
    assert boxes(rds).get(ACCOUNT, "vm-bob")["media"] == {"unavailable": "/media/bob-away.wav"}
    assert not Path(record.args_of("record")[0].split()[0]).exists()


def test_the_pin_is_changed_when_typed_twice_the_same(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("714", node("voicemail", {"id": "vm-ann", "action": "check"})))
    script = keys("1234#", "5", "3", "4321#", "4322#", "4321#", "4321#", "0", "#")
    record = call(esl_server, "714", keypresses=script, time_scale=FAST)
    assert boxes(rds).get(ACCOUNT, "vm-ann")["pin"] == "4321"
    played = record.args_of("playback")
    assert played.count("voicemail/vm-pin_invalid.wav") == 1 and "voicemail/vm-pin_set.wav" in played
    assert menus(record)[3:7] == ["voicemail/vm-enter_new_pin.wav", "voicemail/vm-enter_new_pin_confirm.wav"] * 2


def test_a_pin_too_short_mistyped_or_empty_is_refused_three_times_then_kept(
        rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("715", node("voicemail", {"id": "vm-ann", "action": "check"})))
    script = keys("1234#", "5", "3", "12#", "12#", "4321#", "1234#", "#", "#", "0", "#")
    record = call(esl_server, "715", keypresses=script, time_scale=FAST)
    assert boxes(rds).get(ACCOUNT, "vm-ann")["pin"] == "1234"
    assert record.args_of("playback").count("voicemail/vm-pin_invalid.wav") == 3
    assert record.args_of(PROMPT)[3].split()[1] == "6"  # at most six digits are read (Kazoo's max_pin_length)
    assert menus(record)[-2:] == ["voicemail/vm-settings_menu.wav", "voicemail/vm-main_menu.wav"]


def test_a_box_that_is_not_configurable_has_no_settings_menu(rds: redis.Redis, esl_server: OutboundServer) -> None:
    vmboxes = [{"id": "vm-fixed", "mailbox": "1006", "pin": "2468", "not_configurable": True}]
    load(rds, flow("716", node("voicemail", {"id": "vm-fixed", "action": "check"})), vmboxes=vmboxes)
    record = call(esl_server, "716", keypresses=keys("2468#", "5", "#"), time_scale=FAST)
    assert "voicemail/vm-settings_menu.wav" not in menus(record)
    assert menus(record).count("voicemail/vm-main_menu.wav") == 2


def test_the_main_menu_ends_after_four_rounds_without_a_valid_key(rds: redis.Redis,
                                                                   esl_server: OutboundServer) -> None:
    load(rds, flow("717", node("voicemail", {"id": "vm-ann", "action": "check"})))
    record = call(esl_server, "717", keypresses=keys("1234#", "9", "8", "3", "4"), time_scale=FAST)
    assert menus(record).count("voicemail/vm-main_menu.wav") == 4
    assert record.args_of("playback")[-1] == "voicemail/vm-goodbye.wav"


def test_a_message_keeps_its_number_after_the_one_before_was_deleted(rds: redis.Redis,
                                                                     esl_server: OutboundServer) -> None:
    load(rds, flow("718", node("voicemail", {"id": "vm-ann", "action": "check"})))
    leave_two(rds, "vm-ann", 100.0, 200.0)
    record = call(esl_server, "718", keypresses=keys("1234#", "1", "7", "1", "#"), time_scale=FAST)
    said = record.args_of("say")
    assert said[2] == "en NUMBER PRONOUNCED 1" and said[4] == "en NUMBER PRONOUNCED 2"  # between: the date
    folders = {m["media_id"]: m["folder"] for m in VoicemailMessages(rds).all(ACCOUNT, "vm-ann")}
    assert folders == {"m0": "deleted", "m1": "saved"}


# --- forward and call back ----------------------------------------------------------------------


def test_three_forwards_the_message_to_another_box(rds: redis.Redis, esl_server: OutboundServer,
                                                   settings: Settings) -> None:
    load(rds, flow("720", node("voicemail", {"id": "vm-ann", "action": "check"})))
    original = leave(rds, settings, "vm-ann")
    script = keys("1234#", "1", "3", "1001#", "1002#", "#")  # its own box first: refused
    record = call(esl_server, "720", keypresses=script, time_scale=FAST)
    assert menus(record)[3:5] == ["voicemail/vm-enter_forward_id.wav"] * 2
    played = record.args_of("playback")
    assert "voicemail/menu-invalid_entry.wav" in played and "voicemail/vm-forward_confirmed.wav" in played
    [kept] = VoicemailMessages(rds).all(ACCOUNT, "vm-ann")
    assert kept["folder"] == "saved"  # forwarded, then saved as Kazoo does
    [copy] = VoicemailMessages(rds).all(ACCOUNT, "vm-bob")
    assert copy["folder"] == "new" and copy["media_id"] != "m0"
    assert (copy["caller_id_number"], copy["timestamp"]) == ("+15557770000", 100.0)
    assert copy["media_path"].startswith(f"{settings.voicemail_dir}/{ACCOUNT}/vm-bob/")
    assert Path(copy["media_path"]).read_bytes() == Path(original).read_bytes()
    [job] = queued_jobs(rds)
    assert job["type"] == "voicemail_to_email" and job["recipients"][0] == {"type": "user", "id": "u-bob"}
    assert job["data"]["voicemail"]["message_id"] == copy["media_id"]


def test_a_forward_to_no_box_gives_up_after_three_tries(rds: redis.Redis, esl_server: OutboundServer,
                                                        settings: Settings) -> None:
    load(rds, flow("721", node("voicemail", {"id": "vm-ann", "action": "check"})))
    leave(rds, settings, "vm-ann")
    script = keys("1234#", "1", "3", "9999#", "9998#", "9997#", "7", "#")
    record = call(esl_server, "721", keypresses=script, time_scale=FAST)
    assert "voicemail/vm-forward_abort.wav" in record.args_of("playback")
    assert VoicemailMessages(rds).all(ACCOUNT, "vm-bob") == []
    assert queued_jobs(rds) == []


def test_nine_calls_the_caller_back_through_the_accounts_callflow(rds: redis.Redis, esl_server: OutboundServer,
                                                                  settings: Settings) -> None:
    load(rds, flow("722", node("voicemail", {"id": "vm-ann", "action": "check"})),
         flow("1002", node("user", {"id": "u-bob"})))
    leave(rds, settings, "vm-ann", caller="1002")
    record = call(esl_server, "722", internal_user="1001", keypresses=keys("1", "9"), time_scale=FAST)
    [bridged] = record.args_of("bridge")
    assert "user/1002@office.test" in bridged
    assert "voicemail/vm-goodbye.wav" not in record.args_of("playback")


def test_an_outside_caller_cannot_call_back_an_outside_number(rds: redis.Redis, esl_server: OutboundServer,
                                                              settings: Settings) -> None:
    """Kept safe: a PIN is not a way out to the telephone network (no `no_match` route)."""
    load(rds, flow("723", node("voicemail", {"id": "vm-ann", "action": "check"})),
         {"id": "cf-out", "numbers": ["no_match"], "flow": node("offnet", {})})
    leave(rds, settings, "vm-ann")
    record = call(esl_server, "723", keypresses=keys("1234#", "1", "9", "0", "#"), time_scale=FAST)
    assert "bridge" not in record.app_names()
    assert "voicemail/fault-can_not_be_completed_as_dialed.wav" in record.args_of("playback")
    inside = call(esl_server, "723", internal_user="1001", keypresses=keys("2", "9"), time_scale=FAST)
    assert inside.args_of("bridge")  # the owner's own phone may: the no_match callflow dials it


def test_a_message_without_a_number_cannot_be_called_back(rds: redis.Redis, esl_server: OutboundServer,
                                                          settings: Settings) -> None:
    load(rds, flow("724", node("voicemail", {"id": "vm-ann", "action": "check"})))
    leave(rds, settings, "vm-ann", caller="anonymous")
    record = call(esl_server, "724", internal_user="1001", keypresses=keys("1", "9", "1", "#"), time_scale=FAST)
    assert "voicemail/vm-not_available.wav" in record.args_of("playback")
    assert VoicemailMessages(rds).all(ACCOUNT, "vm-ann")[0]["folder"] == "saved"  # the menu came back


# --- without sound files ------------------------------------------------------------------------


def test_spoken_prompts_read_keys_where_freeswitch_has_no_sound_files(
        rds: redis.Redis, services: Services, settings: Settings) -> None:
    """CONTROLLER_VOICEMAIL_PROMPTS=tts: every prompt is said by flite, the keys read after it."""
    spoken = dataclasses.replace(settings, voicemail_prompts="tts")
    server = OutboundServer(spoken, CallLifecycle(Services.build(spoken, services.rds), Executor(REGISTRY)))
    server.start()
    try:
        load(rds, flow("730", node("voicemail", {"id": "vm-ann", "action": "check"})))
        leave(rds, settings, "vm-ann")
        record = call(server, "730", keypresses=keys("1234#", "1", "1", "#"), time_scale=FAST)
    finally:
        server.stop(drain_seconds=2)
    asked = [arg.split("'")[1] for arg in record.args_of(PROMPT)]  # each spoken prompt, quoted whole
    assert asked[0] == "tts://flite|slt|Please enter your password, followed by the pound key."
    assert asked[1].startswith("tts://flite|slt|You have 1 new, and 0 saved. To listen to new messages")
    assert asked[2].startswith("tts://flite|slt|Received January 01 at 00 01. To keep this message, press 1.")
    assert record.args_of("speak")[:3] == ["flite|slt|Message number", "flite|slt|1", "flite|slt|saved."]
    assert "say" not in record.app_names()  # FreeSWITCH's say needs sound files too
    assert [p for p in record.args_of("playback") if p.startswith("voicemail/")] == []
    assert VoicemailMessages(rds).all(ACCOUNT, "vm-ann")[0]["folder"] == "saved"
