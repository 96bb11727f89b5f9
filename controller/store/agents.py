"""Call-queue agents' statuses (Kazoo's acdc agent status: logged_out, ready, paused), one hash
per account, user id -> `{"status", "since", "until"}`.

This is the source of truth FreeSWITCH's mod_callcenter is brought in line with (modules/
callcenter.py): mod_callcenter keeps its agents in its own database, which a FreeSWITCH restart
or a new database loses, so the controller remembers who is logged in and tells FreeSWITCH again
when a queue is used. A pause with an `until` ends by itself (Kazoo's paused `timeout`): read
after that time, the agent is ready again.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from controller.store import codec, keys

LOGGED_OUT, READY, PAUSED = "logged_out", "ready", "paused"
STATUSES = (LOGGED_OUT, READY, PAUSED)


def current(entry: dict[str, Any] | None, now: float) -> str:
    """The status an entry stands for at `now` (none: logged out; a pause past its end: ready)."""
    if not entry or entry.get("status") not in STATUSES:
        return LOGGED_OUT
    until = entry.get("until")
    if entry["status"] == PAUSED and isinstance(until, int | float) and until <= now:
        return READY
    return str(entry["status"])


class AgentStatuses:
    """The statuses of an account's agents."""

    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def all(self, aid: str) -> dict[str, str]:
        """User id -> current status, for the agents that ever logged in."""
        now = time.time()
        found = self._rds.hgetall(keys.agent_statuses(aid))
        return {_text(k): current(codec.load(v), now) for k, v in found.items()}

    def get(self, aid: str, user_id: str) -> str:
        return current(codec.load(self._rds.hget(keys.agent_statuses(aid), user_id)), time.time())

    def set(self, aid: str, user_id: str, status: str, pause_seconds: int | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown agent status {status!r}")
        now = time.time()
        entry: dict[str, Any] = {"status": status, "since": int(now)}
        if status == PAUSED and pause_seconds:
            entry["until"] = int(now) + pause_seconds
        self._rds.hset(keys.agent_statuses(aid), user_id, codec.dump(entry))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
