"""What `acdc_member` and `acdc_agent` share about FreeSWITCH's mod_callcenter: the names of
queues and agents, an agent's contact, and bringing mod_callcenter in line with the account's
queues and agents (Kazoo's acdc keeps both in its own processes; here mod_callcenter runs them).

Names come from ids and the controller's own words only, never from caller text, and cannot
collide across accounts (ids hold no `.`):

- a queue is `acdc.<account id>.<queue id>.<strategy>.<max wait>`: mod_callcenter reads a queue's
  settings from its XML configuration, and FreeSWITCH's Lua XML handler
  (conf/freeswitch/scripts/acdc_queues.lua) answers for a name of that form with the settings the
  name carries (the strategy, the `connection_timeout` as max-wait-time). So FreeSWITCH loads the
  queue by itself when it is first used, after a restart too; a queue whose strategy or timeout
  changed is a new name, which its agents are tiered to on its next call.
- an agent is `acdc.<account id>.<user id>`, of type callback: mod_callcenter rings its contact,
  the user's enabled devices dialled as `user` dials them, each leg's `leg_timeout` read from the
  waiting caller's `acdc_agent_ring_timeout` (mod_callcenter expands the contact with the
  caller's channel variables), so each queue's `agent_ring_timeout` applies.

mod_callcenter keeps agents and tiers in its own database; the controller's agent statuses
(store/agents.py) are the truth it is brought back to whenever a queue is used or an agent's
status changes (`sync`): one `queue list agents`, then only what differs is changed. An agent's
wrap-up-time is the longest `agent_wrapup_time` of the agent's queues (mod_callcenter has one per
agent, Kazoo one per queue).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from controller.modules import bridging
from controller.store.agents import LOGGED_OUT, PAUSED, READY, AgentStatuses

if TYPE_CHECKING:
    from controller.services import Services

Api = Callable[[str], str]
STRATEGIES = {"round_robin": "round-robin", "most_idle": "longest-idle-agent", "ring_all": "ring-all"}
FS_STATUS = {READY: "Available", PAUSED: "On Break", LOGGED_OUT: "Logged Out"}
RING_TIMEOUT_VARIABLE = "acdc_agent_ring_timeout"
DEFAULT_WAIT = 3600  # Kazoo's connection_timeout
DEFAULT_RING = 15  # Kazoo's agent_ring_timeout
MAX_WRAP_UP = 86_400
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclasses.dataclass(frozen=True)
class Agent:
    """One agent as mod_callcenter should hold it."""

    name: str
    contact: str
    status: str  # mod_callcenter's: Available, On Break, Logged Out
    wrap_up: int = 0  # seconds after a queue call before the next is offered (wrap-up-time)


def queue_name(account_id: str, queue: Mapping[str, Any]) -> str | None:
    """The queue's mod_callcenter name, None when an id is not one."""
    queue_id = str(queue.get("id") or "")
    if not _ID.fullmatch(account_id) or not _ID.fullmatch(queue_id):
        return None
    strategy = STRATEGIES.get(str(queue.get("strategy") or "round_robin"), "round-robin")
    return f"acdc.{account_id}.{queue_id}.{strategy}.{seconds(queue, 'connection_timeout', DEFAULT_WAIT)}"


def agent_name(account_id: str, user_id: str) -> str | None:
    if not _ID.fullmatch(account_id) or not _ID.fullmatch(user_id):
        return None
    return f"acdc.{account_id}.{user_id}"


def seconds(doc: Mapping[str, Any], key: str, default: int) -> int:
    value = doc.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def contact(devices: Iterable[Mapping[str, Any]], realm: str, route_profile: str) -> str:
    """The devices' dial string, each leg ringing for the waiting caller's ring timeout ("" when
    none can be dialled)."""
    targets = (bridging.device_target(d, realm, route_profile) for d in devices)
    ring = f"[leg_timeout=${{{RING_TIMEOUT_VARIABLE}}}]"
    return ",".join(ring + target for target in targets if target)


def is_agent_of(user: Mapping[str, Any], queue_id: str) -> bool:
    """Kazoo's roster: a user is an agent of the queues its `queues` list names."""
    queues = user.get("queues")
    return isinstance(queues, list) and queue_id in queues and bridging.is_enabled(user)


def agents_of(
    account_id: str,
    queue_id: str,
    users: Mapping[str, Mapping[str, Any]],
    devices: Iterable[Mapping[str, Any]],
    statuses: Mapping[str, str],
    *,
    dialling: tuple[str, str],
    wrap_up: Callable[[Mapping[str, Any]], int] = lambda user: 0,
) -> list[Agent]:
    """The queue's agents with their contacts, statuses and wrap-up times (a user with nothing
    to ring is logged out as far as FreeSWITCH is concerned)."""
    realm, route_profile = dialling
    devices = list(devices)
    agents = []
    for user_id in sorted(users):
        name = agent_name(account_id, user_id)
        if name is None or not is_agent_of(users[user_id], queue_id):
            continue
        dial = contact(bridging.owned_by(devices, user_id), realm, route_profile)
        status = FS_STATUS[statuses.get(user_id, LOGGED_OUT)] if dial else FS_STATUS[LOGGED_OUT]
        agents.append(Agent(name, dial or "error/USER_NOT_REGISTERED", status, wrap_up(users[user_id])))
    return agents


def queue_agents(services: Services, account_id: str, queue_id: str) -> list[Agent]:
    """The queue's agents as the account has them now."""
    account, users, devices, _ = services.group_context(account_id)
    statuses = AgentStatuses(services.rds).all(account_id)
    dialling = (str(account.get("realm") or ""), services.settings.route_profile)
    wrap_up = functools.partial(wrap_up_of, functools.cache(lambda qid: services.document(account_id, "queues", qid)))
    return agents_of(account_id, queue_id, users, devices.values(), statuses, dialling=dialling, wrap_up=wrap_up)


def wrap_up_of(queue: Callable[[str], Mapping[str, Any] | None], user: Mapping[str, Any]) -> int:
    """The agent's wrap-up time: Kazoo's `agent_wrapup_time` is a queue's, mod_callcenter's
    wrap-up-time an agent's (one agent for all their queues), so an agent of several queues
    gets the longest of theirs."""
    times = [seconds(queue(str(q)) or {}, "agent_wrapup_time", 0) for q in user.get("queues") or []]
    return min(max(times, default=0), MAX_WRAP_UP)


def tell(services: Services, api: Api, account_id: str, user: Mapping[str, Any]) -> None:
    """mod_callcenter's agents of each of the user's queues brought in line (the user's status
    with them): what an agent's status change needs at once, so that callers waiting already are
    offered to a ready agent and a paused one is offered none."""
    for queue_id in user.get("queues") or []:
        queue = services.document(account_id, "queues", str(queue_id))
        name = queue_name(account_id, queue) if queue else None
        if name is not None:
            sync(api, name, queue_agents(services, account_id, str(queue_id)))


def rows(answer: str) -> list[dict[str, str]]:
    """A `callcenter_config ... list` answer: a `|`-separated header line, then rows, then `+OK`."""
    lines = [line for line in answer.splitlines() if line and not line.startswith(("+OK", "-ERR"))]
    if not lines:
        return []
    header = lines[0].split("|")
    return [dict(zip(header, line.split("|"), strict=False)) for line in lines[1:]]


def sync(api: Api, queue: str, agents: Iterable[Agent]) -> None:
    """Make mod_callcenter's agents of `queue` the ones given, with their contacts and statuses."""
    present = {row.get("name", ""): row for row in rows(api(f"callcenter_config queue list agents {queue}"))}
    for agent in agents:
        row = present.pop(agent.name, None)
        if row is None:
            api(f"callcenter_config agent add {agent.name} callback")  # (-ERR when it exists: fine)
        if row is None or row.get("contact") != agent.contact:
            api(f"callcenter_config agent set contact {agent.name} {agent.contact}")
        if row is None or row.get("status") != agent.status:
            api(f"callcenter_config agent set status {agent.name} '{agent.status}'")
        if (row or {}).get("wrap_up_time", "0") != str(agent.wrap_up):  # (mod_callcenter's default: 0)
            api(f"callcenter_config agent set wrap_up_time {agent.name} {agent.wrap_up}")
        if row is None:
            api(f"callcenter_config tier add {queue} {agent.name} 1 1")
    for name in present:
        api(f"callcenter_config tier del {queue} {name}")


def waiting(api: Api, queue: str) -> int:
    """How many callers wait in the queue now: its members waiting or being offered to an agent
    (`queue count members` counts the answered and abandoned ones too)."""
    members = rows(api(f"callcenter_config queue list members {queue}"))
    return sum(row.get("state") in ("Waiting", "Trying") for row in members)
