"""`acdc_member` and `acdc_agent` through the real server, the simulator playing FreeSWITCH's
mod_callcenter (lab/callcenter.py): agents log in, pause, resume and log out by feature code, as
Kazoo allows; a queue call reaches a logged-in agent (no missed-call alert) or, abandoned, is one
alert; the queue's timeout, size and empty rules send the caller on; mod_callcenter is brought back
in line with the controller's agents on the next call (a FreeSWITCH restart, a stale status)."""

from typing import Any

import gevent
import redis

from controller.esl.server import OutboundServer
from controller.lab.callcenter import Agent, Callcenter
from controller.lab.scenario import BridgeOutcome
from controller.modules import callcenter, queue_announcements
from controller.store import keys
from controller.store.agents import LOGGED_OUT, PAUSED, READY, AgentStatuses
from controller.store.bundle import load_bundle
from controller.store.documents import Accounts
from controller.store.queue_waits import QueueWaits
from tests.office import ACCOUNT, bundle, call, flow, node, queued_jobs

QUEUE = {"id": "q-support", "name": "Support", "strategy": "most_idle", "connection_timeout": 20,
         "agent_ring_timeout": 7}
NAME = f"acdc.{ACCOUNT}.q-support.longest-idle-agent.20"
BOB = f"acdc.{ACCOUNT}.u-bob"
BOB_CONTACT = "[leg_timeout=${acdc_agent_ring_timeout}]user/1002@office.test"
MAIN = "+15550002000"
ALERT = {"recipients": [{"type": "email", "id": "desk@office.test"}]}


def load_queue(rds: redis.Redis, queue: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
               agents: tuple[str, ...] = ("u-bob",)) -> None:
    """The test office with the queue (Bob its agent), its number behind a missed-call alert, and
    Kazoo's agent feature codes *11 login, *12 logout, *13 pause, *14 resume."""
    member = node("acdc_member", {"id": QUEUE["id"]}, **({"_": after} if after else {}))
    callflows = [flow(MAIN, node("missed_call_alert", ALERT, _=member), "cf-queue")]
    for code, action in (("*11", "login"), ("*12", "logout"), ("*13", "paused"), ("*14", "resume")):
        callflows.append(flow(code, node("acdc_agent", {"action": action}), f"cf-agent-{action}"))
    doc = bundle(callflows, queues=[queue or QUEUE])
    doc["users"] = [{**u, "queues": [QUEUE["id"]]} if u["id"] in agents else u for u in doc["users"]]
    load_bundle(rds, doc, "queue bundle")


def status(rds: redis.Redis, user_id: str = "u-bob") -> str:
    return AgentStatuses(rds).get(ACCOUNT, user_id)


def said(record: Any) -> list[str]:
    return [arg.split("|", 2)[2] for arg in record.args_of("speak")]


def test_an_agent_logs_in_by_feature_code_and_mod_callcenter_rings_their_phones_for_the_queue(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_queue(rds)
    center = Callcenter()
    record = call(esl_server, "*11", internal_user="1002", callcenter=center, hangup_after=2)
    assert said(record) == ["You are now logged in."]
    assert status(rds) == READY
    assert [(a.name, a.contact, a.status) for a in center.queue_agents(NAME)] == [(BOB, BOB_CONTACT, "Available")]


def test_agent_statuses_change_as_kazoo_allows(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_queue(rds)
    center = Callcenter()
    steps = [("*14", "That is not a valid choice.", LOGGED_OUT), ("*11", "You are now logged in.", READY),
             ("*11", "You are already logged in.", READY), ("*13", "You are now paused.", PAUSED),
             ("*13", "That is not a valid choice.", PAUSED), ("*14", "Welcome back. You are ready for calls.", READY),
             ("*12", "You are now logged out.", LOGGED_OUT)]
    for code, words, after in steps:
        record = call(esl_server, code, internal_user="1002", callcenter=center, hangup_after=2)
        assert (said(record), status(rds)) == ([words], after), code
    assert [a.status for a in center.queue_agents(NAME)] == ["Logged Out"]


def test_a_user_in_no_queue_is_told_they_are_not_an_agent(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_queue(rds)
    record = call(esl_server, "*11", internal_user="1001", hangup_after=2)
    assert said(record) == ["You are not a call center agent."]
    assert status(rds, "u-ann") == LOGGED_OUT


def test_a_queue_call_answered_by_a_logged_in_agent_is_no_missed_call(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_queue(rds)
    AgentStatuses(rds).set(ACCOUNT, "u-bob", READY)
    center = Callcenter()
    record = call(esl_server, MAIN, callcenter=center, bridges=(BridgeOutcome("answered", talk=0.05),))
    assert record.args_of("callcenter") == [NAME]
    assert record.variables["cc_cause"] == "answered"
    # multiset's completion, callcenter's answer and completion, then (as on the real FreeSWITCH)
    # the caller's CHANNEL_BRIDGE
    assert record.events[:4] == ["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE",
                                 "CHANNEL_BRIDGE"]
    assert record.variables["cc_moh_override"] == "tone_stream://%(200,4800,440);loops=-1"
    assert record.variables["acdc_agent_ring_timeout"] == "7" and record.variables["cc_exit_keys"] == "#"
    assert queued_jobs(rds) == []


def test_a_caller_who_hangs_up_in_the_queue_is_one_missed_call(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_queue(rds)
    record = call(esl_server, MAIN, hangup_after=0.2)
    assert record.args_of("callcenter") == [NAME]
    assert record.variables["cc_cancel_reason"] == "BREAK_OUT"
    assert [job["type"] for job in queued_jobs(rds)] == ["missed_call"]


def test_a_caller_nobody_takes_goes_on_past_the_queue_after_the_connection_timeout(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_queue(rds, after=node("play", {"id": "/media/after.wav"}))
    AgentStatuses(rds).set(ACCOUNT, "u-bob", READY)
    record = call(esl_server, MAIN, time_scale=0.01, hangup_after=3)
    assert record.variables["cc_cancel_reason"] == "TIMEOUT"
    assert record.app_names().index("playback") > record.app_names().index("callcenter")
    assert [job["type"] for job in queued_jobs(rds)] == ["missed_call"]  # still never bridged


def test_a_full_queue_or_one_without_agents_sends_the_caller_on_at_once(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    after = node("play", {"id": "/media/after.wav"})
    load_queue(rds, {**QUEUE, "enter_when_empty": False}, after=after)
    record = call(esl_server, MAIN, hangup_after=2)
    assert "callcenter" not in record.app_names() and record.args_of("playback") == ["/media/after.wav"]
    load_queue(rds, {**QUEUE, "max_queue_size": 1}, after=after)
    center = Callcenter()
    first = gevent.spawn(call, esl_server, MAIN, callcenter=center, hangup_after=1.0)
    for _ in range(200):
        if center.members:
            break
        gevent.sleep(0.01)
    second = call(esl_server, MAIN, callcenter=center, hangup_after=2)
    assert "callcenter" not in second.app_names() and second.args_of("playback") == ["/media/after.wav"]
    assert first.get(timeout=10).args_of("callcenter") == [NAME]


def test_mod_callcenter_is_brought_back_to_the_controllers_agents_on_the_next_call(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_queue(rds, agents=("u-bob", "u-ann"))
    AgentStatuses(rds).set(ACCOUNT, "u-bob", READY)
    center = Callcenter()  # as after a FreeSWITCH restart with a new database: nothing known
    center.agents["acdc.other.gone"] = Agent("acdc.other.gone", "user/9@x", "Available")
    center.tiers.append((NAME, "acdc.other.gone"))
    call(esl_server, MAIN, callcenter=center, hangup_after=0.1)
    assert {(a.name, a.status) for a in center.queue_agents(NAME)} == {
        (BOB, "Available"), (f"acdc.{ACCOUNT}.u-ann", "Logged Out")}
    before = len(center.commands)
    call(esl_server, MAIN, callcenter=center, hangup_after=0.1)
    assert center.commands[before:] == [f"queue list agents {NAME}"]  # in line: nothing to change


def test_caller_text_never_reaches_mod_callcenter(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_queue(rds)
    center = Callcenter()
    hostile = "${system(touch /tmp/owned)}' \n"
    record = call(esl_server, MAIN, callcenter=center, caller_name=hostile, caller_number=hostile, hangup_after=0.1)
    assert not [c for c in center.commands if "system" in c or "owned" in c]
    assert not [line for line in record.command_lines() if "owned" in line]


def test_queue_names_carry_ids_and_settings_only() -> None:
    assert callcenter.queue_name("acct", {"id": "q1"}) == "acdc.acct.q1.round-robin.3600"
    assert callcenter.queue_name("acct", {"id": "q1", "strategy": "ring_all", "connection_timeout": 9}) == (
        "acdc.acct.q1.ring-all.9")
    assert callcenter.queue_name("acct", {"id": "q 1"}) is None
    assert callcenter.queue_name("a.b", {"id": "q1"}) is None
    assert callcenter.agent_name("acct", "../u") is None


def test_deleting_the_account_forgets_its_agents_statuses(rds: redis.Redis) -> None:
    load_queue(rds)
    AgentStatuses(rds).set(ACCOUNT, "u-bob", READY)
    Accounts(rds).delete(ACCOUNT)
    assert AgentStatuses(rds).all(ACCOUNT) == {}  # an account made again with this id starts logged out


# --- announcements, wrap-up, priorities ---------------------------------------------------------

VIP = "+15550002001"
ANNOUNCED = {**QUEUE, "max_priority": 5,
             "announcements": {"position_announcements_enabled": True, "wait_time_announcements_enabled": True}}


def load_announced_queue(rds: redis.Redis, queue: dict[str, Any] | None = None, **documents: Any) -> None:
    """The queue with announcements; its main number, and a VIP number whose callers have
    priority 3."""
    doc = bundle([flow(MAIN, node("acdc_member", {"id": QUEUE["id"]}), "cf-queue"),
                  flow(VIP, node("acdc_member", {"id": QUEUE["id"], "priority": 3}), "cf-vip")],
                 queues=[queue or ANNOUNCED], **documents)
    doc["users"] = [{**u, "queues": [QUEUE["id"]]} if u["id"] == "u-bob" else u for u in doc["users"]]
    load_bundle(rds, doc, "announced queue bundle")


def announced(record: Any) -> list[str]:
    return [file for action, file in record.displaced if action == "start"]


def test_waiting_callers_hear_their_place_in_the_order_of_service_and_the_estimated_wait(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_announced_queue(rds)
    for seconds in (200, 100):  # answered callers waited 150 s on average: "about five minutes"
        QueueWaits(rds).record(ACCOUNT, QUEUE["id"], seconds)
    center = Callcenter()
    first = gevent.spawn(call, esl_server, MAIN, callcenter=center, hangup_after=1.6)
    gevent.sleep(0.2)
    vip = call(esl_server, VIP, callcenter=center, hangup_after=1.4)  # priority 3: served first
    assert vip.variables["cc_base_score"] == str(3 * 86_400)
    assert announced(vip) == ["tts://flite|slt|You are at position 1 in the queue. "
                              "The estimated wait time is about five minutes."]
    assert announced(first.get(timeout=10)) == ["tts://flite|slt|You are at position 2 in the queue. "
                                                "The estimated wait time is about five minutes."]
    assert [line for line in vip.command_lines() if "queue list members" in line] == [
        f"api callcenter_config queue list members {NAME}"]


def test_the_announcement_stops_when_an_agent_answers_and_the_wait_counts_for_the_next_estimate(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    # the account's own media plays; a path or URL a tenant wrote is never sent (the words are said)
    media = {"you_are_at_position": "m-place", "in_the_queue": "http://127.0.0.1:8000/in.wav"}
    load_announced_queue(rds, {**QUEUE, "announcements": {"position_announcements_enabled": True, "media": media}},
                         media=[{"id": "m-place", "name": "Place", "tts": {"text": "Your place is"}}])
    AgentStatuses(rds).set(ACCOUNT, "u-bob", READY)
    record = call(esl_server, MAIN, callcenter=Callcenter(), bridges=(BridgeOutcome("answered", ring=1.3, talk=0.3),))
    assert record.variables["cc_cause"] == "answered"
    said = "file_string://tts://flite|slt|Your place is!tts://flite|slt|1!tts://flite|slt|in the queue."
    assert record.displaced == [("start", said), ("stop", said)]
    assert [line for line in record.command_lines() if "uuid_displace" in line] == [
        f"api uuid_displace {record.uuid} start '{said}' 30", f"api uuid_displace {record.uuid} stop '{said}'"]
    assert QueueWaits(rds).average(ACCOUNT, QUEUE["id"]) == 1  # whole seconds


def test_a_queue_without_announcements_says_nothing(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load_queue(rds)
    record = call(esl_server, MAIN, hangup_after=1.2)
    assert record.displaced == [] and not [line for line in record.command_lines() if "members" in line]


def test_announcements_say_what_kazoo_says() -> None:
    settings = queue_announcements.settings_of({"announcements": {
        "position_announcements_enabled": True, "wait_time_announcements_enabled": True, "interval": 5,
        "media": {"you_are_at_position": "/media/pos.wav", "in_the_queue": "/media/in.wav", "other": "x"}}})
    assert settings.interval == 15 and set(settings.media) == {"you_are_at_position", "in_the_queue"}
    said = queue_announcements.parts(settings, 3, 700, grew=True)
    assert queue_announcements.path(said) == (
        "file_string:///media/pos.wav!tts://flite|slt|3!/media/in.wav!tts://flite|slt|We are experiencing an "
        "increase in call volume.!tts://flite|slt|The estimated wait time is!tts://flite|slt|about fifteen minutes.")
    steps = [(0, "less than one minute."), (59, "less than one minute."), (60, "about five minutes."),
             (3600, "about one hour."), (3601, "at least one hour.")]
    assert [(s, queue_announcements.wait_words(s)) for s, _ in steps] == steps
    assert queue_announcements.position([{"session_uuid": "a", "state": "Answered"},
                                         {"session_uuid": "b", "state": "Waiting"},
                                         {"session_uuid": "c", "state": "Trying"}], "c") == 2
    assert not queue_announcements.settings_of({"announcements": {"interval": 20}}).is_enabled


def test_recent_waits_are_few_and_recent(rds: redis.Redis) -> None:
    load_queue(rds)
    waits = QueueWaits(rds)
    for seconds in range(100):
        waits.record(ACCOUNT, "q", seconds, now=1000)
    assert waits.average(ACCOUNT, "q", now=1000) == sum(range(80, 100)) // 20
    assert waits.average(ACCOUNT, "q", now=1000 + 3601) == 0  # none of the last hour
    Accounts(rds).delete(ACCOUNT)
    assert not rds.exists(keys.queue_waits(ACCOUNT))


def test_an_agent_rests_for_the_wrapup_time_of_their_queues_after_a_queue_call(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load_queue(rds, {**QUEUE, "agent_wrapup_time": 30})
    AgentStatuses(rds).set(ACCOUNT, "u-bob", READY)
    center = Callcenter()
    answered = (BridgeOutcome("answered", talk=0.01),)
    first = call(esl_server, MAIN, callcenter=center, bridges=answered, time_scale=0.01)
    assert first.variables["cc_cause"] == "answered"
    assert f"agent set wrap_up_time {BOB} 30" in center.commands
    second = call(esl_server, MAIN, callcenter=center, bridges=answered, time_scale=0.01, hangup_after=3)
    assert second.variables["cc_cancel_reason"] == "TIMEOUT"  # 0.2 s of waiting: Bob rests 0.3 s
    assert center.commands.count(f"agent set wrap_up_time {BOB} 30") == 1
