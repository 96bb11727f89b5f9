"""acdc_agent — a call-queue agent logs in, logs out, pauses or resumes from a phone (Kazoo's
cf_acdc_agent), usually behind a feature code.

Data: `action` (`login`, `logout`, `paused`, `resume`), `timeout` (seconds a pause lasts; none:
until resumed), `presence_id` / `presence_state` (kept for Kazoo's documents, not used).

The agent is the owner of the calling device (a device with several hot-desked owners is refused,
as Kazoo refuses multiple owners), and must be an agent: a user whose `queues` list names a
queue. The status changes as Kazoo's allows (a logged-out agent cannot resume, only a ready one
can pause; logging in twice says so), is kept by the controller (store/agents.py) and is told
to FreeSWITCH's mod_callcenter for each of the agent's queues (callcenter.py), so that a logged-in
agent's phones ring with the queues' callers at once. The caller hears what happened (Kazoo's
agent prompts, spoken), then the flow goes on to `_`.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging, callcenter
from controller.modules.prompts import speak
from controller.store.agents import LOGGED_OUT, PAUSED, READY, AgentStatuses

log = logging.getLogger(__name__)

# Kazoo's agent-* prompts, in words.
LOGGED_IN = "You are now logged in."
ALREADY_LOGGED_IN = "You are already logged in."
LOGGED_OUT_TEXT = "You are now logged out."
PAUSE = "You are now paused."
RESUME = "Welcome back. You are ready for calls."
INVALID = "That is not a valid choice."
NOT_AN_AGENT = "You are not a call center agent."


def handle(data: dict[str, Any], call: Call) -> Next:
    call.channel.execute("answer")
    user = calling_agent(call)
    if user is None:
        return say(call, NOT_AN_AGENT)
    user_id = str(user["id"])
    statuses = AgentStatuses(call.services.rds)
    action = str(data.get("action") or "")
    new_status, text = change(statuses.get(call.account_id, user_id), "paused" if action == "pause" else action)
    if new_status is not None:
        timeout = data.get("timeout")
        pause = timeout if isinstance(timeout, int) and timeout > 0 else None
        statuses.set(call.account_id, user_id, new_status, pause)
        log.info("call %s: agent %s is now %s", call.uuid, user_id, new_status)
        callcenter.tell(call.services, call.channel.api, call.account_id, user)
    return say(call, text)


def change(current: str, action: str) -> tuple[str | None, str]:
    """The new status (None: unchanged) and what to say, as Kazoo's maybe_update_status."""
    if action == "logout":
        return LOGGED_OUT, LOGGED_OUT_TEXT
    if action == "login":
        if current == LOGGED_OUT:
            return READY, LOGGED_IN
        return (None, ALREADY_LOGGED_IN) if current == READY else (None, INVALID)
    if action == "paused":
        return (PAUSED, PAUSE) if current == READY else (None, INVALID)
    if action == "resume" and current in (PAUSED, READY):
        return READY, RESUME
    return None, INVALID


def calling_agent(call: Call) -> dict[str, Any] | None:
    """The user who owns the calling device, when it has one owner and is an agent."""
    username = bridging.calling_username(call)
    device = call.services.calling_device(call.account_id, username) if username else None
    owners = bridging.owner_ids(device) if device else []
    if len(owners) != 1:
        log.info("call %s: the calling device has %d owners: no agent", call.uuid, len(owners))
        return None
    _, users, _, _ = call.services.group_context(call.account_id)
    user = users.get(owners[0])
    if user is None or not isinstance(user.get("queues"), list) or not user["queues"]:
        log.info("call %s: user %s is no agent", call.uuid, owners[0])
        return None
    return user


def say(call: Call, text: str) -> Next:
    call.channel.execute_all([speak(text)])
    return DEFAULT_CHILD
