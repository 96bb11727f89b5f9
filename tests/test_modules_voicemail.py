"""voicemail compose and check through the real server, the simulator as the caller."""

import dataclasses
import wave
from pathlib import Path

import redis

from controller.config import Settings
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.executor import Executor
from controller.lab.scenario import BridgeOutcome, Keypress
from controller.modules import REGISTRY
from controller.notify.job import job_errors
from controller.services import Services
from controller.store.documents import Documents
from controller.store.voicemail import VoicemailMessages
from tests.office import ACCOUNT, call, flow, load, node, queued_jobs

FAST = 0.05
VM_DIR = "/var/lib/freeswitch/storage/voicemail"


def keys(*entries: str) -> tuple[Keypress, ...]:
    """One entry per digit collection (the prompts in between take no keys)."""
    return tuple(Keypress(entry, on="play_and_get_digits") for entry in entries)


def leave(rds: redis.Redis, box: str, *timestamps: float) -> None:
    store = VoicemailMessages(rds)
    for n, stamp in enumerate(timestamps):
        store.add(ACCOUNT, box, {"media_id": f"m{n}", "timestamp": stamp, "length": 4,
                                 "media_path": f"{VM_DIR}/{ACCOUNT}/{box}/m{n}.wav", "caller_id_number": "+1555"})


def test_a_message_is_recorded_stored_and_mailed_to_the_owner(rds: redis.Redis, esl_server: OutboundServer,
                                                               settings: Settings) -> None:
    load(rds, flow("600", node("voicemail", {"id": "vm-bob", "max_message_length": 120})))
    record = call(esl_server, "600", caller_name="Carol", caller_number="+15557770000", record_seconds=0.05,
                  keypresses=keys("1"), time_scale=FAST)  # 1 after the recording: keep it
    names = record.app_names()
    assert names[:4] == ["answer", "multiset", "playback", "multiset"]
    assert "playback_terminators=1234567890*#" in record.apps[1][1]  # any key stops the greeting
    assert record.apps[2] == ("playback", "/media/bob-away.wav")  # the box's greeting, no instructions
    assert record.args_of("playback")[1] == "tone_stream://%(500,0,800)"
    folder = f"{settings.voicemail_dir}/{ACCOUNT}/vm-bob"
    assert record.args_of("mkdir") == [folder]  # FreeSWITCH's record does not create it
    [recording] = record.args_of("record")
    path, limit = recording.split()[:2]
    assert path.startswith(folder + "/") and path.endswith(".wav") and limit == "120"
    with wave.open(path) as recorded:  # written by the simulator, as FreeSWITCH would
        assert recorded.getnframes() > 0
    [message] = VoicemailMessages(rds).all(ACCOUNT, "vm-bob")
    assert message["media_path"] == path and message["folder"] == "new"
    assert (message["caller_id_name"], message["caller_id_number"], message["call_id"]) == (
        "Carol", "+15557770000", record.uuid)
    [job] = queued_jobs(rds)
    assert job_errors(job) == []
    assert job["type"] == "voicemail_to_email" and job["call"]["message_left"] is True
    assert job["recipients"] == [{"type": "user", "id": "u-bob"}, {"type": "email", "id": ["desk@office.test"]}]
    voicemail = job["data"]["voicemail"]
    assert voicemail["box_id"] == "vm-bob" and voicemail["mailbox"] == "1002"
    assert voicemail["message_id"] == message["media_id"] and voicemail["media_path"] == path
    assert (voicemail["new_count"], voicemail["saved_count"], voicemail["box_name"]) == (1, 0, "Bob's voicemail")


def test_the_default_greeting_says_the_mailbox(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("601", node("voicemail", {"id": "vm-ann"})))
    record = call(esl_server, "601", record_seconds=0.02)
    assert record.apps[2:6] == [
        ("playback", "voicemail/vm-person.wav"), ("say", "en NUMBER ITERATED 1001"),
        ("playback", "voicemail/vm-not_available.wav"), ("playback", "voicemail/vm-record_message.wav"),
    ]


def test_a_short_message_is_discarded_yet_the_call_is_not_missed(rds: redis.Redis, esl_server: OutboundServer) -> None:
    alert = {"recipients": [{"type": "user", "id": "u-ann"}]}
    load(rds, flow("602", node("missed_call_alert", alert, _=node(
        "user", {"id": "u-ann", "timeout": 1}, _=node("voicemail", {"id": "vm-ann"})))))
    record = call(esl_server, "602", record_seconds=0.05, bridges=(BridgeOutcome("no_answer", timeout=0.02),))
    assert "record" in record.app_names()
    assert VoicemailMessages(rds).all(ACCOUNT, "vm-ann") == []  # shorter than vm-ann's 3 s minimum
    assert queued_jobs(rds) == []  # no voicemail email, and no missed-call alert: voicemail was reached
    [(path, _)] = record.recordings
    assert not Path(path).exists()  # the recording FreeSWITCH wrote is not left behind


def test_a_full_box_plays_a_notice_and_tells_the_owner(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("603", node("voicemail", {"id": "vm-bob"})))
    leave(rds, "vm-bob", 100.0, 200.0)  # vm-bob keeps at most 2
    record = call(esl_server, "603")
    assert record.app_names() == ["answer", "multiset", "playback", "hangup"]
    assert record.args_of("playback") == ["voicemail/vm-mailbox_full.wav"]
    [job] = queued_jobs(rds)
    assert job["type"] == "voicemail_full"
    assert job["data"]["voicemail"]["max_messages"] == 2 and job["data"]["voicemail"]["new_count"] == 2
    login = call(esl_server, "603", keypresses=(Keypress("*"), *keys("5678#", "#")), time_scale=FAST)
    assert "record" not in login.app_names()  # * during the notice logs in, as in Kazoo
    assert login.args_of("play_and_get_digits")[0].split()[5] == "voicemail/vm-enter_pass.wav"


def test_the_box_can_come_from_the_pattern_capture(rds: redis.Redis, esl_server: OutboundServer,
                                                   settings: Settings) -> None:
    load(rds, {"id": "cf-vm", "patterns": [r"^\*97(\d+)$"], "flow": node("voicemail", {})})
    record = call(esl_server, "*971002", record_seconds=0.02, keypresses=keys("1"), time_scale=FAST)
    assert record.args_of("record")[0].startswith(f"{settings.voicemail_dir}/{ACCOUNT}/vm-bob/")
    missing = call(esl_server, "*979999")
    assert "record" not in missing.app_names()


def test_a_wrong_pin_three_times_hangs_up(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("604", node("voicemail", {"id": "vm-ann", "action": "check"})))
    record = call(esl_server, "604", keypresses=keys("1111#", "2222#", "3333#"), time_scale=FAST)
    assert len(record.args_of("play_and_get_digits")) == 3
    assert record.args_of("playback").count("voicemail/vm-fail_auth.wav") == 3
    assert record.args_of("playback")[-1] == "voicemail/vm-abort.wav"
    assert record.args_of("hangup") == ["NORMAL_CLEARING"]


def test_login_listen_save_and_delete(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("605", node("voicemail", {"action": "check"})))
    leave(rds, "vm-ann", 100.0, 200.0)
    script = keys("1001#", "1234#", "1", "1", "7", "#")  # mailbox, PIN, new messages, keep, delete, goodbye
    record = call(esl_server, "605", keypresses=script, time_scale=FAST)
    played = record.args_of("playback")
    assert played.index(f"{VM_DIR}/{ACCOUNT}/vm-ann/m0.wav") < played.index(f"{VM_DIR}/{ACCOUNT}/vm-ann/m1.wav")
    assert "voicemail/vm-saved.wav" in played and "voicemail/vm-deleted.wav" in played
    assert played[-1] == "voicemail/vm-goodbye.wav"
    assert record.args_of("say")[:2] == ["en NUMBER PRONOUNCED 2", "en NUMBER PRONOUNCED 0"]
    folders = {m["media_id"]: m["folder"] for m in VoicemailMessages(rds).all(ACCOUNT, "vm-ann")}
    assert folders == {"m0": "saved", "m1": "deleted"}


def test_replay_next_previous_and_return_to_the_main_menu(rds: redis.Redis, esl_server: OutboundServer) -> None:
    """Kazoo's keys after a message: 2 replay, 6 next (the last one plays again), 4 previous,
    0 save it and back to the main menu."""
    load(rds, flow("606", node("voicemail", {"id": "vm-ann", "action": "check"})))
    leave(rds, "vm-ann", 100.0, 200.0)
    script = keys("1234#", "1", "2", "6", "4", "6", "6", "0", "#")
    record = call(esl_server, "606", keypresses=script, time_scale=FAST)
    played = record.args_of("playback")
    assert played.count(f"{VM_DIR}/{ACCOUNT}/vm-ann/m0.wav") == 3  # first, replayed, after 4
    assert played.count(f"{VM_DIR}/{ACCOUNT}/vm-ann/m1.wav") == 3  # after 6, after 6, 6 on the last
    assert "voicemail/vm-no_more_messages.wav" not in played  # 0 went back before the end
    menus = [a.split()[5] for a in record.args_of("play_and_get_digits")]
    assert menus.count("voicemail/vm-main_menu.wav") == 2
    folders = {m["media_id"]: m["folder"] for m in VoicemailMessages(rds).all(ACCOUNT, "vm-ann")}
    assert folders == {"m0": "new", "m1": "saved"}  # m0 heard and left alone: still new


def test_the_owner_calling_their_box_logs_in_without_a_pin(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("607", node("voicemail", {"id": "vm-ann"})))
    record = call(esl_server, "607", internal_user="1001", keypresses=keys("#"), time_scale=FAST)
    assert "record" not in record.app_names()  # compose turned into check
    assert len(record.args_of("play_and_get_digits")) == 1  # straight to the main menu
    assert record.args_of("playback")[-1] == "voicemail/vm-goodbye.wav"


def test_callerid_match_login_finds_the_callers_box(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("608", node("voicemail", {"action": "check", "callerid_match_login": True})))
    record = call(esl_server, "608", internal_user="1002", keypresses=keys("#"), time_scale=FAST)
    assert len(record.args_of("play_and_get_digits")) == 1
    assert record.args_of("say")[:2] == ["en NUMBER PRONOUNCED 0", "en NUMBER PRONOUNCED 0"]


def test_recording_a_new_greeting(rds: redis.Redis, esl_server: OutboundServer, settings: Settings) -> None:
    """5 settings, 1 record the unavailable greeting, 1 keep it, 0 back, # goodbye."""
    load(rds, flow("609", node("voicemail", {"id": "vm-ann", "action": "check"})),
         flow("610", node("voicemail", {"id": "vm-ann"})))
    script = keys("1234#", "5", "1", "1", "0", "#")
    record = call(esl_server, "609", keypresses=script, record_seconds=1.1, time_scale=0.1)
    folder = f"{settings.voicemail_dir}/{ACCOUNT}/vm-ann"
    [recorded] = record.args_of("record")
    path = recorded.split()[0]
    assert path.startswith(f"{folder}/unavailable-") and recorded.endswith(" 60 200 3")
    assert Documents(rds, "vmboxes").get(ACCOUNT, "vm-ann")["media"] == {"unavailable": path}
    assert Path(path).exists()
    again = call(esl_server, "609", keypresses=keys("1234#", "#"), time_scale=FAST)
    assert "record" not in again.app_names()
    composed = call(esl_server, "610", record_seconds=0.01)
    assert composed.apps[2] == ("playback", path)  # callers now hear the new greeting


def test_single_mailbox_login_opens_the_callers_only_box(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("611", node("voicemail", {"action": "check", "single_mailbox_login": True})),
         flow("612", node("voicemail", {"action": "check", "interdigit_timeout": 700})))
    record = call(esl_server, "611", internal_user="1002", keypresses=keys("#"), time_scale=FAST)
    assert len(record.args_of("play_and_get_digits")) == 1  # neither mailbox nor PIN asked
    asked = call(esl_server, "612", internal_user="1002", keypresses=keys("1002#", "5678#", "#"), time_scale=0.1)
    prompts = [a.split()[5] for a in asked.args_of("play_and_get_digits")]
    assert prompts == ["voicemail/vm-enter_id.wav", "voicemail/vm-enter_pass.wav", "voicemail/vm-main_menu.wav"]
    assert asked.args_of("play_and_get_digits")[0].split()[-1] == "700"


def test_a_message_freeswitch_cannot_record_leaves_the_missed_call_alert_due(
        rds: redis.Redis, services: Services, tmp_path: Path) -> None:
    """FreeSWITCH's record cannot open a file in a folder it could not create: nothing was left,
    the caller is hung up (DESTINATION_OUT_OF_ORDER) and the call is a missed call."""
    (tmp_path / "not-a-folder").write_text("")
    broken = dataclasses.replace(services.settings, voicemail_dir=str(tmp_path / "not-a-folder" / "vm"))
    server = OutboundServer(broken, CallLifecycle(Services.build(broken, services.rds), Executor(REGISTRY)))
    server.start()
    try:
        alert = {"recipients": [{"type": "user", "id": "u-bob"}]}
        load(rds, flow("611", node("missed_call_alert", alert, _=node("voicemail", {"id": "vm-bob"}))))
        record = call(server, "611", record_seconds=0.5)
    finally:
        server.stop(drain_seconds=2)
    assert "record" in record.app_names() and record.recordings == []
    assert record.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert VoicemailMessages(rds).all(ACCOUNT, "vm-bob") == []
    assert [job["type"] for job in queued_jobs(rds)] == ["missed_call"]


def test_a_message_whose_caller_hangs_up_is_kept_when_the_linger_notice_overtakes_the_record(
        rds: redis.Redis, esl_server: OutboundServer) -> None:
    """Seen on a real FreeSWITCH: the lingering disconnect notice can come before record's
    completion; the message (and its length) must still be kept, and the call is not missed."""
    alert = {"recipients": [{"type": "user", "id": "u-bob"}]}
    load(rds, flow("612", node("missed_call_alert", alert, _=node("voicemail", {"id": "vm-bob"}))))
    record = call(esl_server, "612", record_seconds=30, hangup_during=("record", 0.3), notice_before_completion=True)
    notices = [what for _, kind, what in record.timeline if kind == "notice"]
    assert notices[:1] == ["linger"] and record.hangup_cause == "NORMAL_CLEARING"
    [message] = VoicemailMessages(rds).all(ACCOUNT, "vm-bob")
    assert 0 <= message["length"] <= 1
    assert [job["type"] for job in queued_jobs(rds)] == ["voicemail_to_email"]
