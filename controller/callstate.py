"""Calls in progress kept in Redis, so that a call whose controller process dies still gets its
termination handlers run — exactly once.

A call is written here once a module registers a termination handler (calls without handlers
cost nothing), and again when its flags change: within WRITE_WINDOW, with the other calls' states
due then in one transaction (`save_soon`); a call that ends sooner is never written. Whoever
runs the handlers first claims the call (`SET NX`): the call's own process when the channel is
gone, or, if that process died, the inbound-connection watcher of any controller sharing the
Redis, on CHANNEL_DESTROY.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import gevent
import gevent.event
import redis

from controller.store import keys

log = logging.getLogger(__name__)

TTL = 86400
# How long a call's state may wait to be written with others' (a process killed within it loses
# the alerts of the calls registered that late; a call that ends first needs no write at all).
WRITE_WINDOW = 0.05
# The channel headers a job or a handler may read (call_data); kept small on purpose.
KEPT_HEADERS = (
    "Unique-ID", "Core-UUID", "FreeSWITCH-Switchname", "Caller-Caller-ID-Name", "Caller-Caller-ID-Number",
    "Caller-Destination-Number", "Caller-Callee-ID-Name", "Caller-Callee-ID-Number",
    "variable_sip_from_user", "variable_sip_from_host", "variable_sip_to_user", "variable_sip_to_host",
)


class CallStates:
    """The Redis side of calls in progress."""

    def __init__(self, rds: redis.Redis, window: float = WRITE_WINDOW) -> None:
        self._rds = rds
        self.window = window
        self._due: dict[str, Callable[[], Mapping[str, Any]]] = {}  # uuid -> its snapshot, taken when written
        self._writing: dict[str, gevent.event.Event] = {}  # uuid -> set once its write in flight is done
        self._writer: gevent.Greenlet | None = None

    def save(self, snapshot: Mapping[str, Any]) -> None:
        pipe = self._rds.pipeline(transaction=True)
        self._stage(pipe, snapshot)
        pipe.execute()

    @staticmethod
    def _stage(pipe: Any, snapshot: Mapping[str, Any]) -> None:
        key = keys.call(snapshot["uuid"])
        pipe.hset(key, mapping={name: json.dumps(value) for name, value in snapshot.items()})
        pipe.expire(key, TTL)

    def save_soon(self, uuid: str, snapshot: Callable[[], Mapping[str, Any]]) -> None:
        """Write the call's state within `window` seconds, in one transaction with the other
        calls' due by then (events must not block, and a round trip per call and change
        cost more than the call's own work); the snapshot is taken when written: the latest."""
        self._due[uuid] = snapshot
        if self._writer is None or self._writer.dead:
            self._writer = gevent.spawn(self._write_due)

    def settle(self, uuid: str, timeout: float = 5.0) -> None:
        """Before a call's end: its state still due is dropped (the end's own step supersedes
        it); a write of it in flight is waited for, so that it cannot land after the end."""
        self._due.pop(uuid, None)
        flight = self._writing.get(uuid)
        if flight is not None:
            flight.wait(timeout)

    def _write_due(self) -> None:
        while self._due:
            gevent.sleep(self.window)
            batch, self._due = self._due, {}
            if not batch:
                continue
            done = gevent.event.Event()
            self._writing.update(dict.fromkeys(batch, done))
            try:
                pipe = self._rds.pipeline(transaction=True)
                for snapshot in batch.values():
                    self._stage(pipe, snapshot())
                pipe.execute()
            except Exception:
                log.exception("%d call state(s) not saved", len(batch))
            finally:
                for uuid in batch:
                    if self._writing.get(uuid) is done:
                        del self._writing[uuid]
                done.set()

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
