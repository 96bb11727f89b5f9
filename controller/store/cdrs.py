"""Call records (Kazoo's CDRs): one per call the controller placed in an account, written when the
call ends and kept `CONTROLLER_CDR_DAYS` days.

A record is a JSON string `cdr:{account}:{id}` that expires on its own, and its id is in the
account's sorted set `account:{account}:cdrs`, scored by the call's start (unix time) and trimmed
of what is older than the retention at every write. Records are not written one call at a time:
`CdrWriter.add` keeps them for up to `WRITE_WINDOW` (0.5 s) and writes every record due then with
one script (as CallStates.save_soon batches call states), so a call adds no Redis round trip of
its own. A process killed within that window loses those records (the calls were over).
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import gevent
import redis

from controller.store import keys

log = logging.getLogger(__name__)

WRITE_WINDOW = 0.5
MAX_BATCH = 2000  # records written in one pipeline at most (a backlog goes in several)
MAX_BACKLOG = 100_000  # records waiting for Redis at most (the oldest are dropped past it)
# Kazoo's timestamps are Gregorian seconds (seconds since year 0): unix time + this.
GREGORIAN_OFFSET = 62167219200


def gregorian(unix_time: float) -> int:
    return int(unix_time) + GREGORIAN_OFFSET


def outcome(call: Any) -> str:
    """What became of the call, as the metrics count it: answered (bridged), voicemail,
    conference (put in a room), fax (received, or its failure mailed), missed (inbound, none of
    these), failed (no callflow, or the flow failed), other (an internal call not answered)."""
    state = call.state
    if call.callflow_id is None or state.failed:
        return "failed"
    if state.reached is not None:
        return str(state.reached)
    return "missed" if call.is_inbound else "other"


def record(call: Any) -> dict[str, Any]:
    """The call's record, in Kazoo's CDR field names where Kazoo has one."""
    state = call.state
    started = float(call.started_at)
    ended = float(state.ended_at or started)
    answered = state.answered_at
    result = outcome(call)
    return {
        "id": call.uuid,
        "call_id": call.uuid,
        "account_id": call.account_id,
        "caller_id_name": call.caller_id_name,
        "caller_id_number": call.caller_id_number,
        "dialed_number": call.destination,
        "from": f"{call.variable('sip_from_user')}@{call.variable('sip_from_host')}",
        "to": f"{call.variable('sip_to_user')}@{call.variable('sip_to_host')}",
        "call_direction": "inbound",
        "direction": "internal" if call.is_internal else "inbound",
        "callflow_id": call.callflow_id,
        "timestamp": gregorian(started),
        "unix_timestamp": int(started),
        "duration_seconds": max(0, round(ended - started)),
        "billing_seconds": max(0, round(ended - answered)) if answered else 0,
        "ringing_seconds": max(0, round((answered or ended) - started)),
        "answered": state.answered,
        "bridged": state.bridged,
        "voicemail_left": state.voicemail_left,
        "hangup_cause": state.hangup_cause or "",
        "disposition": state.disposition or "",
        "other_leg_call_id": state.other_leg or "",
        "outcome": result,
        "missed": result == "missed",
        "media_server": call.header("FreeSWITCH-Switchname"),
    }


# KEYS: per record its account's index, then its own key; ARGV: keep seconds, now, then per
# record its id, its start (unix time) and its JSON.
_WRITE = """
local keep, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local trimmed = {}
for j = 1, #KEYS / 2 do
  local index, key = KEYS[2 * j - 1], KEYS[2 * j]
  local id, started, cdr = ARGV[3 * j], tonumber(ARGV[3 * j + 1]), ARGV[3 * j + 2]
  local ttl = math.floor(started + keep - now)
  if ttl > 0 then
    redis.call('SET', key, cdr, 'EX', ttl)
    redis.call('ZADD', index, started, id)
    if not trimmed[index] then
      trimmed[index] = true
      redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. (now - keep))
      redis.call('EXPIRE', index, keep + 1)
    end
  end
end
return 0
"""


class CdrWriter:
    """Writes the records of ended calls in batches (one pipeline per window, whatever the
    number of calls ended in it)."""

    def __init__(self, rds: redis.Redis, days: int, window: float = WRITE_WINDOW) -> None:
        self._rds = rds
        self.keep_seconds = days * 86400
        self.window = window
        self._due: list[dict[str, Any]] = []
        self._writer: gevent.Greenlet | None = None
        self._write = rds.register_script(_WRITE)

    def add(self, cdr: dict[str, Any]) -> None:
        """Have `cdr` written within the window (never blocks)."""
        self._due.append(cdr)
        if len(self._due) > MAX_BACKLOG:
            del self._due[: len(self._due) - MAX_BACKLOG]
        if self._writer is None or self._writer.dead:
            self._writer = gevent.spawn(self._write_due)

    def flush(self) -> None:
        """Write what is due now (at a drain's end, and in tests)."""
        while self._due:
            batch, self._due = self._due[:MAX_BATCH], self._due[MAX_BATCH:]
            self.write(batch)

    def _write_due(self) -> None:
        while self._due:
            gevent.sleep(self.window)
            batch, self._due = self._due[:MAX_BATCH], self._due[MAX_BATCH:]
            try:
                self.write(batch)
            except redis.RedisError as exc:
                log.warning("%d call record(s) not written yet (%s); trying again", len(batch), exc)
                self._due[:0] = batch
                gevent.sleep(1.0)

    def write(self, batch: Iterable[Mapping[str, Any]]) -> None:
        """Every record of the batch, and the trim of their accounts' indexes, in one script."""
        names: list[str] = []
        args: list[Any] = [self.keep_seconds, _now()]
        for cdr in batch:
            aid, cdr_id = str(cdr["account_id"]), str(cdr["id"])
            names += [keys.cdrs(aid), keys.cdr(aid, cdr_id)]
            args += [cdr_id, int(cdr["unix_timestamp"]), json.dumps(cdr, separators=(",", ":"))]
        if names:
            self._write(keys=names, args=args)


def _now() -> float:
    return time.time()


def with_iso_8601(cdr: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the API answers it: with its start as an ISO 8601 UTC time too
    (computed on reading: nothing more to do at the call's end)."""
    started = datetime.datetime.fromtimestamp(float(cdr.get("unix_timestamp") or 0), datetime.UTC)
    return {**cdr, "iso_8601": started.isoformat(timespec="seconds")}


class Cdrs:
    """The records of an account, read back (the API)."""

    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def ids(self, aid: str, since: float, until: float) -> list[str]:
        """The ids of the calls started from `since` to `until` (unix time), newest first."""
        return [str(i) for i in self._rds.zrevrangebyscore(keys.cdrs(aid), until, since)]

    def get_many(self, aid: str, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        found = self._rds.mget([keys.cdr(aid, cdr_id) for cdr_id in ids])
        return [with_iso_8601(json.loads(raw)) for raw in found if raw is not None]

    def get(self, aid: str, cdr_id: str) -> dict[str, Any] | None:
        raw = self._rds.get(keys.cdr(aid, cdr_id))
        return None if raw is None else with_iso_8601(json.loads(raw))
