"""missed_call_alert and notification end to end: real server, simulator, real Redis queue."""

import json
import time

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.notify.job import job_errors
from controller.store import keys
from tests.office import ACCOUNT, call, flow, load, node, queued_jobs

RECIPIENTS = [{"type": "user", "id": "u-ann"}, {"type": "email", "id": ["desk@office.test"]}]


def office_main(rds: redis.Redis) -> None:
    """The Kazoo docs example: missed_call_alert -> user -> (voicemail, later)."""
    load(
        rds,
        flow("+15554441111", node("missed_call_alert", {"recipients": RECIPIENTS},
                                  _=node("user", {"id": "u-ann", "timeout": 1}))),
        flow("+15554442222", node("missed_call_alert", {"recipients": RECIPIENTS, "skip_module": True},
                                  _=node("user", {"id": "u-ann", "timeout": 1}))),
    )


def test_unanswered_inbound_call_enqueues_one_alert(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office_main(rds)
    record = call(esl_server, "+15554441111", caller_name="Carol", caller_number="+15557770000",
                  bridges=(BridgeOutcome("no_answer", timeout=0.05),))
    [job] = queued_jobs(rds)
    assert job_errors(job) == []
    assert (job["type"], job["template_id"], job["account_id"]) == ("missed_call", "missed_call", ACCOUNT)
    assert job["recipients"] == RECIPIENTS
    data = job["call"]
    assert data["call_id"] == record.uuid
    assert (data["caller_id_name"], data["caller_id_number"]) == ("Carol", "+15557770000")
    assert data["dialed_number"] == "+15554441111"
    assert data["bridged"] is False and data["message_left"] is False
    # the whole originate's call_timeout (the controller sets it) ends it: NO_ANSWER on FreeSWITCH
    assert data["hangup_cause"] == "NO_ANSWER"


def test_caller_hanging_up_while_phones_ring_is_a_missed_call(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office_main(rds)
    call(esl_server, "+15554441111", hangup_after=0.1, bridges=(BridgeOutcome("no_answer", timeout=5),))
    [job] = queued_jobs(rds)
    assert job["call"]["hangup_cause"] == "ORIGINATOR_CANCEL"  # a CANCEL, as a real FreeSWITCH reports it


def test_answered_call_sends_nothing(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office_main(rds)
    call(esl_server, "+15554441111", bridges=(BridgeOutcome("answered", talk=0.05),))
    assert queued_jobs(rds) == []


def test_call_between_the_accounts_devices_sends_nothing(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office_main(rds)
    call(esl_server, "+15554441111", internal_user="1002", bridges=(BridgeOutcome("no_answer", timeout=0.05),))
    assert queued_jobs(rds) == []


def test_an_outside_caller_naming_a_device_in_its_from_is_still_an_outside_caller(
    rds: redis.Redis, esl_server: OutboundServer,
) -> None:
    """sip_authorized without a digest username (a device admitted by its address) is one of the
    account's devices only by the ACL's own token, never by the From user the caller wrote."""
    office_main(rds)
    spoofed = (("sip_authorized", "true"), ("sip_from_user", "1002"))
    call(esl_server, "+15554441111", caller_number="1002", variables=spoofed,
         bridges=(BridgeOutcome("no_answer", timeout=0.05),))
    assert len(queued_jobs(rds)) == 1
    admitted = (("sip_authorized", "true"), ("sip_from_user", "+15550001"), ("sip_acl_token", "1002@acct-test"))
    call(esl_server, "+15554441111", variables=admitted, bridges=(BridgeOutcome("no_answer", timeout=0.05),))
    assert queued_jobs(rds) == []  # the admitted device is the account's own: no alert


def test_skip_module_sends_nothing(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office_main(rds)
    call(esl_server, "+15554442222", bridges=(BridgeOutcome("no_answer", timeout=0.05),))
    assert queued_jobs(rds) == []


def test_each_missed_call_alerts_once(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office_main(rds)
    records = [call(esl_server, "+15554441111", bridges=(BridgeOutcome("busy"),)) for _ in range(3)]
    assert sorted(j["call"]["call_id"] for j in queued_jobs(rds)) == sorted(r.uuid for r in records)


def test_notification_at_callflow_exec_is_queued_before_the_call_ends(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    data = {"template_id": "vip_caller", "send_at": "callflow_exec", "notification_media": ["email", "sms"],
            "comments": "VIP line", "recipients": [{"type": "email", "id": "boss@office.test"}]}
    load(rds, flow("400", node("notification", data, _=node("sleep", {"duration": 300, "unit": "ms"}))))
    call(esl_server, "400")
    ended = time.time()
    [job] = queued_jobs(rds)
    assert (job["type"], job["template_id"], job["media"], job["comments"]) == (
        "cf_notification", "vip_caller", ["email", "sms"], "VIP line")
    assert ended - job["created_at"] >= 0.25  # made before the 0.3 s sleep, not at the end
    assert job["call"]["hangup_cause"] is None  # a snapshot taken before the hangup


def test_notification_at_channel_destroy_carries_the_outcome(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("401", node("notification", {"template_id": "after_call", "recipients": []},
                               _=node("user", {"id": "u-bob", "timeout": 1}))))
    call(esl_server, "401", bridges=(BridgeOutcome("answered", talk=0.05),))
    [job] = queued_jobs(rds)
    assert job["call"]["bridged"] is True  # no gating: the flags travel in the job
    assert job["call"]["hangup_cause"] == "NORMAL_CLEARING"


def test_jobs_are_stored_as_json_in_the_queue(rds: redis.Redis, esl_server: OutboundServer) -> None:
    office_main(rds)
    call(esl_server, "+15554441111", bridges=(BridgeOutcome("busy"),))
    [job_id] = rds.lrange(keys.QUEUE_READY, 0, -1)
    assert json.loads(rds.hget(keys.queue_job(job_id), "doc"))["type"] == "missed_call"
