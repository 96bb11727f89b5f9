"""acdc_member — put the caller in a call queue until an agent takes the call (Kazoo's
cf_acdc_member), on FreeSWITCH's mod_callcenter.

Data: `id` (the account's queues document), `priority` (the caller's: served before callers of
a lower one, up to the queue's `max_priority`; mod_callcenter's `cc_base_score`).

The queue's settings: `strategy` (round_robin, most_idle, ring_all), `connection_timeout` (how
long the caller waits, 3600 s), `agent_ring_timeout` (15 s per agent), `max_queue_size` (0: no
limit), `enter_when_empty` (true), `caller_exit_key` (`#`), `moh` (a media reference; none: a
short beep every five seconds), `announcements` (position and estimated wait, every `interval`:
queue_announcements.py), `agent_wrapup_time` (seconds an agent rests after a queue call: their
mod_callcenter wrap-up-time, the longest of their queues'), `max_priority`. Its agents are the
account's users whose `queues` list names it, rung on their enabled devices while they are
logged in and not paused (`acdc_agent`).

Before the caller joins, mod_callcenter's agents of the queue are brought in line with the
account's (callcenter.py: one `queue list agents`, then only what differs). An agent who answers
is bridged to the caller (mod_callcenter's uuid_bridge: the caller's CHANNEL_BRIDGE, so no
missed-call alert) and the flow stops with the call. A caller who waited `connection_timeout`,
pressed the exit key, found the queue full or (with `enter_when_empty` false) no agent logged in
goes on to `_` (Kazoo's cf_exe:continue), typically voicemail; one who hangs up while waiting
ends the flow, never bridged: a missed call for `missed_call_alert`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from controller.call import Call
from controller.callflows.matcher import ACCOUNT_VARIABLE
from controller.esl.safety import multiset
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import callcenter, media_refs, queue_announcements
from controller.modules.prompts import file_prompt
from controller.store.agents import LOGGED_OUT

log = logging.getLogger(__name__)

HOLD_MUSIC = "tone_stream://%(200,4800,440);loops=-1"  # (as park: the lab has no local_stream://moh)
PRIORITY_STEP = 86_400  # a caller's score for each step of priority (a day of waiting)
CALL_LENGTH = 86_400.0  # how long a bridged call may last while the node waits for its end


def handle(data: dict[str, Any], call: Call) -> Next:
    queue_id = str(data.get("id") or "")
    queue = call.services.document(call.account_id, "queues", queue_id) if queue_id else None
    name = callcenter.queue_name(call.account_id, queue) if queue else None
    if queue is None or name is None:
        log.info("call %s: no queue %r", call.uuid, queue_id)
        return DEFAULT_CHILD
    agents = callcenter.queue_agents(call.services, call.account_id, queue_id)
    if queue.get("enter_when_empty") is False and all(a.status == callcenter.FS_STATUS[LOGGED_OUT] for a in agents):
        log.info("call %s: queue %s has no agent logged in", call.uuid, queue_id)
        return DEFAULT_CHILD
    callcenter.sync(call.channel.api, name, agents)
    limit = queue.get("max_queue_size")
    if isinstance(limit, int) and limit > 0 and callcenter.waiting(call.channel.api, name) >= limit:
        log.info("call %s: queue %s is full", call.uuid, queue_id)
        return DEFAULT_CHILD
    return wait(call, queue, name, base_score(data, queue))


def base_score(data: dict[str, Any], queue: dict[str, Any]) -> int:
    """Kazoo's caller priority as mod_callcenter's `cc_base_score`: mod_callcenter serves the
    highest score first, a member's score its base plus the seconds it waited, so one step of
    priority is worth a day of waiting. As in Kazoo (an AMQP priority queue of `max_priority`
    levels), a queue without `max_priority` has no priorities and a higher one counts as it."""
    top, priority = queue.get("max_priority"), data.get("priority")
    if not isinstance(top, int) or not isinstance(priority, int) or isinstance(priority, bool):
        return 0
    return max(0, min(priority, top)) * PRIORITY_STEP


def wait(call: Call, queue: dict[str, Any], name: str, score: int = 0) -> Next:
    """The caller waits in the queue (mod_callcenter's `callcenter` app, which answers)."""
    moh = file_prompt(media_refs.resolve(call, queue["moh"])).file if queue.get("moh") else ""
    variables = {
        "cc_moh_override": moh or HOLD_MUSIC,
        "cc_exit_keys": str(queue.get("caller_exit_key") or "#"),
        callcenter.RING_TIMEOUT_VARIABLE: str(callcenter.seconds(queue, "agent_ring_timeout", callcenter.DEFAULT_RING)),
        "hangup_after_bridge": "true",
        "cc_base_score": str(score),  # (set also when 0: the channel may have been in a queue before)
        ACCOUNT_VARIABLE: call.account_id,  # (a pickup takes only its account's calls: pickup.owned)
    }
    announcer = queue_announcements.start(call, queue, name)
    joined = time.monotonic()
    try:
        done = call.channel.execute_all([multiset(variables), ("callcenter", name)], None)
    finally:
        if announcer is not None:
            announcer.stop()
    outcome = done.get("variable_cc_cause", "")
    if outcome == "answered" or call.state.bridged:
        queue_announcements.record_wait(call, str(queue.get("id")), time.monotonic() - joined)
        call.channel.wait_gone(CALL_LENGTH)
        return None
    if call.channel.is_gone:
        return None
    log.info("call %s: left queue %s (%s)", call.uuid, name, done.get("variable_cc_cancel_reason", outcome))
    return DEFAULT_CHILD
