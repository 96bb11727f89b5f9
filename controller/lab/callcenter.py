"""mod_callcenter as the simulator plays it, as a real FreeSWITCH 1.11 was seen to behave
(tests/test_freeswitch_acdc.py):

- `callcenter_config`: `agent add <name> callback` (`-ERR Agent already exist!` the second time),
  `agent set contact|status <name> <value>` (a status in quotes, `'On Break'`; `-ERR Agent not
  found!`), `tier add <queue> <agent> [level] [position]` (the agent must exist; `-ERR Tier already
  exist!`), `tier del`, `queue list agents|members <queue>` (a `|`-separated header line, the rows,
  `+OK`; members highest score first, a score being the seconds waited plus the caller's
  `cc_base_score`). `agent set wrap_up_time`: after a queue call the agent is offered nothing for
  that many seconds. Queues exist by name, as the Lua XML handler serves them: `acdc.<account>.
  <queue>.<strategy>.<max wait>`; another name is `-ERR Queue not found!`.
- the `callcenter <queue>` application answers the caller and keeps them waiting; each agent of the
  queue whose status is Available is offered the call in turn, one bridge outcome of the scenario
  per offer, ringing `acdc_agent_ring_timeout` (the caller's variable the contact names): answered,
  the app returns with `cc_cause=answered` and the caller's CHANNEL_BRIDGE follows it (in that
  order on the real FreeSWITCH), the call ending when the agent hangs up (hangup_after_bridge);
  after max-wait-time the app returns with `cc_cause=cancel`,
  `cc_cancel_reason=TIMEOUT`; a caller who hangs up leaves with `BREAK_OUT`.

Calls that share one Callcenter (a Scenario's `callcenter`) see the same agents, as on one
FreeSWITCH.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall

_QUEUE = re.compile(r"^acdc\.[\w-]+\.[\w-]+\.(round-robin|longest-idle-agent|ring-all)\.(\d{1,6})$")
AGENT_COLUMNS = ("name", "instance_id", "uuid", "type", "contact", "status", "state", "max_no_answer", "wrap_up_time")
AGENT_FIELDS = ("name", "contact", "status", "state", "wrap_up_time")
MEMBER_COLUMNS = ("queue", "instance_id", "uuid", "session_uuid", "cid_number", "cid_name", "system_epoch",
                  "joined_epoch", "rejoined_epoch", "bridge_epoch", "abandoned_epoch", "base_score", "skill_score",
                  "serving_agent", "serving_system", "state", "score")
STEP = 0.05  # seconds between looks for an agent while nobody takes the call
BRIDGED_AFTER = 0.005  # seconds from the app's completion to the caller's CHANNEL_BRIDGE


@dataclasses.dataclass
class Agent:
    name: str
    contact: str = ""
    status: str = "Logged Out"
    state: str = "Waiting"
    wrap_up_time: str = "0"
    resting_until: float = 0.0  # (monotonic) the end of the wrap-up after its last queue call


class Callcenter:
    """The agents, tiers and waiting members of one simulated FreeSWITCH."""

    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}
        self.tiers: list[tuple[str, str]] = []  # (queue, agent), in the order added
        self.members: dict[str, tuple[str, SimulatedCall]] = {}  # caller uuid -> (queue, call)
        self.joined: dict[str, tuple[int, int]] = {}  # caller uuid -> (joined epoch, base score)
        self.commands: list[str] = []

    def api(self, args: list[str]) -> str:
        self.commands.append(" ".join(args))
        words = [w.replace("'", "") for w in re.findall(r"(?:'[^']*'|[^ ])+", " ".join(args))]
        section, action, *rest = [*words, "", ""][:2] + words[2:]
        handler = {("agent", "add"): self._agent_add, ("agent", "set"): self._agent_set,
                   ("tier", "add"): self._tier_add, ("tier", "del"): self._tier_del,
                   ("queue", "list"): self._queue_list}.get((section, action))
        return handler(rest) if handler is not None else "-ERR Invalid!\n"

    def _agent_add(self, rest: list[str]) -> str:
        if len(rest) < 2:
            return "-ERR Invalid!\n"
        if rest[0] in self.agents:
            return "-ERR Agent already exist!\n"
        self.agents[rest[0]] = Agent(rest[0])
        return "+OK\n"

    def _agent_set(self, rest: list[str]) -> str:
        if len(rest) < 3 or rest[0] not in ("contact", "status", "wrap_up_time"):
            return "-ERR Invalid!\n"
        agent = self.agents.get(rest[1])
        if agent is None:
            return "-ERR Agent not found!\n"
        setattr(agent, rest[0], rest[2])
        return "+OK\n"

    def _tier_add(self, rest: list[str]) -> str:
        if len(rest) < 2 or not _QUEUE.match(rest[0]):
            return "-ERR Queue not found!\n"
        if rest[1] not in self.agents:
            return "-ERR Agent not found!\n"
        if (rest[0], rest[1]) in self.tiers:
            return "-ERR Tier already exist!\n"
        self.tiers.append((rest[0], rest[1]))
        return "+OK\n"

    def _tier_del(self, rest: list[str]) -> str:
        if (tuple(rest[:2])) in self.tiers:
            self.tiers.remove((rest[0], rest[1]))
        return "+OK\n"

    def _queue_list(self, rest: list[str]) -> str:
        if rest[:1] == ["agents"] and len(rest) > 1:
            rows = [[getattr(a, c) if c in AGENT_FIELDS else "" for c in AGENT_COLUMNS]
                    for a in self.queue_agents(rest[1])]
            return _table(AGENT_COLUMNS, rows)
        if rest[:1] == ["members"] and len(rest) > 1:
            return _table(MEMBER_COLUMNS, self._member_rows(rest[1]))
        return "-ERR Invalid!\n"

    def _member_rows(self, queue: str) -> list[list[str]]:
        """The queue's waiting members, highest score first (mod_callcenter's ORDER BY score DESC)."""
        now = int(time.time())
        rows = []
        for uuid, (member_queue, _) in self.members.items():
            joined, base = self.joined.get(uuid, (now, 0))
            if member_queue == queue:
                values = {"queue": queue, "instance_id": "single_box", "uuid": uuid, "session_uuid": uuid,
                          "system_epoch": str(joined), "joined_epoch": str(joined), "base_score": str(base),
                          "serving_agent": "", "state": "Waiting", "score": str(now - joined + base)}
                rows.append([values.get(column, "0") for column in MEMBER_COLUMNS])
        return sorted(rows, key=lambda row: -int(row[-1]))

    def queue_agents(self, queue: str) -> list[Agent]:
        return [self.agents[name] for q, name in self.tiers if q == queue and name in self.agents]

    def available(self, queue: str) -> list[Agent]:
        now = time.monotonic()
        return [a for a in self.queue_agents(queue) if a.status == "Available" and a.contact and a.resting_until <= now]


def _table(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    return "\n".join(["|".join(columns), *("|".join(row) for row in rows), "+OK"]) + "\n"


def callcenter(call: SimulatedCall, arg: str) -> str:
    """The `callcenter <queue>` application."""
    found = _QUEUE.match(arg.strip())
    if found is None:
        return "_none_"  # "Queue ... not found": the app returns at once
    queue, center = arg.strip(), call.scenario.callcenter
    call.answer()
    center.members[call.uuid] = (queue, call)
    score = call.channel.variable("cc_base_score") or "0"
    center.joined[call.uuid] = (int(time.time()), int(score) if score.lstrip("-").isdigit() else 0)
    try:
        reason = _wait(call, center, queue, call.scenario.scaled(int(found.group(2))))
    finally:
        center.members.pop(call.uuid, None)
        center.joined.pop(call.uuid, None)
    if reason == "answered":
        call.channel.set_variable("cc_cause", "answered")
    else:
        call.channel.set_variables({"variable_cc_cause": "cancel", "variable_cc_cancel_reason": reason})
    return "_none_"


def _wait(call: SimulatedCall, center: Callcenter, queue: str, max_wait: float) -> str:
    deadline = time.monotonic() + max_wait
    while not call.hungup.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return "TIMEOUT"
        for agent in center.available(queue):
            if _offer(call, agent, left):
                return "answered"
            if call.hungup.is_set() or time.monotonic() >= deadline:
                break
        else:
            call.wait(min(STEP, left))
    return "BREAK_OUT"


def _offer(call: SimulatedCall, agent: Agent, left: float) -> bool:
    """One offer to the agent's phones: True when the agent answered (the caller is bridged)."""
    outcome = call.next_bridge()
    if outcome is None:
        call.wait(min(STEP, left))
        return False
    ring_variable = call.channel.variable("acdc_agent_ring_timeout") or "60"
    ring = outcome.timeout if outcome.timeout is not None else call.scenario.scaled(int(ring_variable))
    if outcome.kind != "answered":
        call.wait(min(ring if outcome.kind == "no_answer" else outcome.ring_seconds, left))
        return False
    if not call.wait(min(outcome.ring_seconds, left)):
        return False
    agent.state = "In a queue call"
    # On a real FreeSWITCH the app completed (cc_cause=answered) before the caller's CHANNEL_BRIDGE
    # arrived: mod_callcenter's uuid_bridge runs in the agent's thread.
    call.later(BRIDGED_AFTER, lambda: call.emit("CHANNEL_BRIDGE", Other_Leg_Unique_ID=f"agent-{agent.name}"))

    def agent_hangs_up() -> None:
        agent.state = "Waiting"
        wrap_up = int(agent.wrap_up_time) if agent.wrap_up_time.isdigit() else 0
        agent.resting_until = time.monotonic() + call.scenario.scaled(wrap_up)
        call.hangup("NORMAL_CLEARING")

    call.later(outcome.talk, agent_hangs_up)
    return True
