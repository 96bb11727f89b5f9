"""Call queues through a real FreeSWITCH (mod_callcenter): Ben logs in as an agent with the
feature code from his phone, and an outside caller in the queue reaches his phone (no missed-call
email), even after FreeSWITCH forgot the queue and the agent (the Lua XML handler of
conf/freeswitch serves the queue again from its name, the controller adds the agent again); with
nobody logged in, a caller waiting is told their position and the wait (the announcement displaces
the queue's music on the caller's channel) and, giving up, is one missed-call email."""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.modules import callcenter
from controller.store.bundle import load_bundle
from controller.store.queue_waits import QueueWaits
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    ALERT_ALICE,
    BEN,
    DID,
    OFFICE,
    assert_one_missed_call_to_alice,
    executed,
    finish,
    mail,
    mailbox,
    missed_calls,
    node,
    office,
    settings,
    wait_for,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]
QUEUE = {"id": "fs-support", "name": "Support", "strategy": "ring_all", "connection_timeout": 20,
         "agent_ring_timeout": 5,
         "announcements": {"position_announcements_enabled": True, "wait_time_announcements_enabled": True}}
NAME = callcenter.queue_name(ACCOUNT_ID, QUEUE)


def office_with_queue(rds: redis.Redis) -> None:
    """Ben is the queue's agent; the main number alerts Alice and queues the caller; *11 logs the
    calling phone's owner in."""
    users = [{**u, "queues": [QUEUE["id"]]} if u["id"] == BEN["id"] else u for u in OFFICE["users"]]
    callflows = [
        {"id": "fs-acdc-main", "numbers": [DID],
         "flow": node("missed_call_alert", ALERT_ALICE, _=node("acdc_member", {"id": QUEUE["id"]}))},
        {"id": "fs-acdc-login", "numbers": ["*11"], "flow": node("acdc_agent", {"action": "login"})},
    ]
    load_bundle(rds, {**OFFICE, "users": users, "queues": [QUEUE], "callflows": callflows}, "queue")


def test_an_agent_logged_in_by_feature_code_answers_a_queue_call_and_nobody_is_alerted(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    office_with_queue(rds)
    ben = sipp.phone("1002", "uas_answer.xml", "-d", "300")
    login = sipp.internal_call("1002", "*11", "-d", "500")
    finish(fs, login)
    agents = callcenter.rows(fs.api(f"callcenter_config queue list agents {NAME}"))
    assert [(a["name"], a["status"]) for a in agents] == [(f"acdc.{ACCOUNT_ID}.{BEN['id']}", "Available")]
    # As after a FreeSWITCH restart on a new database: no queue in memory, no agent, no tier.
    fs.api(f"callcenter_config queue unload {NAME}")
    fs.api(f"callcenter_config agent del acdc.{ACCOUNT_ID}.{BEN['id']}")
    mark = fs.mark()
    caller = sipp.call(DID, "-d", "1500")
    finish(fs, caller, ben)
    assert [line for line in ben.received() if line.startswith("INVITE ")]
    assert len(executed(fs, mark, "callcenter")) == 1
    assert any("is answered by an agent in queue" in line for line in fs.log_since(mark))
    assert fs.errors_since(mark) == []
    assert missed_calls(mail(settings, mailbox[1])) == []


def test_a_caller_waiting_in_a_queue_without_agents_hears_the_announcement_and_giving_up_is_one_missed_call(
    fs: FreeSwitch, sipp: Sipp, rds: redis.Redis, office: OutboundServer, settings: config.Settings,
    mailbox: tuple[int, Path],
) -> None:
    office_with_queue(rds)
    QueueWaits(rds).record(ACCOUNT_ID, QUEUE["id"], 200)
    mark = fs.mark()
    caller = sipp.call(DID, "-d", "2500")
    finish(fs, caller)
    log = fs.log_since(mark)
    [member] = [line.split()[0] for line in log if "joining queue" in line]
    # mod_callcenter plays its music without end: the announcement, spoken by flite, takes its
    # place on the caller's channel (uuid_broadcast would answer +OK and never be heard)
    assert [line for line in log if line.startswith(member) and "Attaching BUG to sofia/external/" in line]
    assert fs.errors_since(mark) == []
    agents = callcenter.rows(fs.api(f"callcenter_config queue list agents {NAME}"))
    assert all(a["status"] == "Logged Out" for a in agents)
    assert_one_missed_call_to_alice(missed_calls(mail(settings, mailbox[1])))
