"""Calls in progress kept in Redis, so that a call whose controller process dies still gets its
termination handlers run — exactly once.

A call is written here as soon as a module registers a termination handler (calls without
handlers cost nothing), and again when its flags change. Whoever runs the handlers first claims
the call (`SET NX`): the call's own process when the channel is gone, or, if that process died,
the inbound-connection watcher of any controller sharing the Redis, on CHANNEL_DESTROY.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import redis

from controller.store import keys

TTL = 86400
# The channel headers a job or a handler may read (call_data); kept small on purpose.
KEPT_HEADERS = (
    "Unique-ID", "Core-UUID", "FreeSWITCH-Switchname", "Caller-Caller-ID-Name", "Caller-Caller-ID-Number",
    "Caller-Destination-Number", "Caller-Callee-ID-Name", "Caller-Callee-ID-Number",
    "variable_sip_from_user", "variable_sip_from_host", "variable_sip_to_user", "variable_sip_to_host",
)


class CallStates:
    """The Redis side of calls in progress."""

    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def save(self, snapshot: Mapping[str, Any]) -> None:
        key = keys.call(snapshot["uuid"])
        pipe = self._rds.pipeline(transaction=True)
        pipe.hset(key, mapping={name: json.dumps(value) for name, value in snapshot.items()})
        pipe.expire(key, TTL)
        pipe.execute()

    def mark_bridged(self, uuid: str) -> bool:
        """A CHANNEL_BRIDGE seen by a watcher; True when the call is known here."""
        key = keys.call(uuid)
        if not self._rds.exists(key):
            return False
        self._rds.hset(key, "bridged", "true")
        return True

    def load(self, uuid: str) -> dict[str, Any] | None:
        raw = self._rds.hgetall(keys.call(uuid))
        if not raw:
            return None
        return {str(name): json.loads(value) for name, value in raw.items()}

    def stored(self) -> Iterator[dict[str, Any]]:
        """Every call kept here, claimed or not (a claimed one may still be running its
        handlers: the claim, not this list, decides who runs them)."""
        claimed = keys.call_claimed("")[len(keys.call("")):]
        for key in self._rds.scan_iter(match=keys.call("*"), count=500):
            if not str(key).endswith(claimed) and (snapshot := self.load(str(key)[len(keys.call("")):])):
                yield snapshot

    def claim(self, uuid: str) -> bool:
        """True for the one caller that may run this call's handlers."""
        return bool(self._rds.set(keys.call_claimed(uuid), "1", nx=True, ex=TTL))

    def finish(self, uuid: str, jobs: list[dict[str, Any]], queue: Any, *, claimed: bool) -> list[bool] | None:
        """Claim the call (unless `claimed`), queue its jobs and forget it, in one step
        (JobQueue.finish_call); None when the call was claimed elsewhere."""
        return queue.finish_call(keys.call_claimed(uuid), keys.call(uuid), jobs, claim=not claimed, claim_ttl=TTL)

    def forget(self, uuid: str) -> None:
        self._rds.delete(keys.call(uuid))
