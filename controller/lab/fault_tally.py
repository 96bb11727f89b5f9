"""What a fault row led to, counted from outside the controller: the alerts due (every simulated
call is a missed inbound call with one email recipient), those enqueued (the queue's idempotency
record of the call's job), the distinct calls whose email reached the SMTP sink (matched by the
Message-ID, which the mail sender derives from the job's idempotency key), the extra copies, and
for each call lost, where its trail stops and what the logs say of it.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import time
from pathlib import Path

import gevent
import redis

from controller.lab.fault_world import World
from controller.lab.simulator import CallRecord
from controller.notify.job import idempotency_key
from controller.spool import call_spool
from controller.store import keys

KIND = "missed_call"
QUIET_SECONDS = 5.0  # nothing due anywhere and no new email for this long: the row is over
DUPLICATE_WINDOW = 1.5  # after the last email expected, how long a duplicate is waited for
_LOG_NOISE = re.compile(r"^\S+ \S+ (?=[A-Z]+ )|call=\S+ account=\S+ ")  # the time; the logging context fields


def message_key(core_uuid: str, call_uuid: str) -> str:
    """The local part of the Message-ID of a call's missed-call email."""
    return idempotency_key(core_uuid, call_uuid, KIND, KIND)[:32]


@dataclasses.dataclass
class Tally:
    due: int
    enqueued: int | None  # None: the row's Redis could not be read
    mailed: int
    duplicated: int
    last_email: float | None  # unix time the sink took the last expected email
    lost_calls: list[str]  # uuids
    why: list[str] = dataclasses.field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.due - self.mailed


def emails(world: World, records: list[CallRecord]) -> tuple[collections.Counter[str], float | None]:
    """Per call uuid, how many emails the sink took for it; and the time of the last one."""
    wanted = {message_key(world.inbound.core_uuid, r.uuid): r.uuid for r in records}
    counts: collections.Counter[str] = collections.Counter()
    last = None
    for ident, at, kind in world.sink.lines():
        uuid = wanted.get(ident.strip("<>").split("@")[0])
        if kind != "greylisted" and uuid is not None:
            counts[uuid] += 1
            last = at if last is None else max(last, at)
    return counts, last


def enqueued(world: World, records: list[CallRecord]) -> set[str] | None:
    """The calls whose job the queue accepted (None: Redis does not answer)."""
    core = world.inbound.core_uuid
    try:
        pipe = world.rds.pipeline(transaction=False)
        for record in records:
            pipe.exists(keys.queue_enqueued(idempotency_key(core, record.uuid, KIND, KIND)))
        flags = pipe.execute()
    except redis.RedisError:
        return None
    return {r.uuid for r, flag in zip(records, flags, strict=True) if flag}


def pending(world: World, records: list[CallRecord]) -> int | None:
    """What may still become an email: jobs neither delivered nor dead, calls in the spool, calls
    stored but not claimed (a watcher or a restart may still complete them). None: unknown."""
    try:
        pipe = world.rds.pipeline(transaction=False)
        pipe.zcard(keys.QUEUE_DUE)
        for record in records:
            pipe.exists(keys.call(record.uuid))
            pipe.exists(keys.call_claimed(record.uuid))
        due, *flags = pipe.execute()
    except redis.RedisError:
        return None
    unclaimed = sum(1 for stored, claimed in zip(flags[0::2], flags[1::2], strict=True) if stored and not claimed)
    return int(due) + unclaimed + len(call_spool(str(world.folder / "var")))


def settle(world: World, due: int, not_before: float, deadline: float) -> None:
    """Wait until every call due has its email (then a moment more for a duplicate), or nothing
    is left that could still send one, or the deadline (monotonic) passes."""
    records = world.calls.records
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        counts, _ = emails(world, records)
        if len(counts) >= due:
            gevent.sleep(DUPLICATE_WINDOW)
            return
        if len(counts) != seen:
            seen, quiet_since = len(counts), time.monotonic()
        idle = time.monotonic() - quiet_since > QUIET_SECONDS and time.monotonic() > not_before
        if idle and pending(world, records) == 0:
            return
        gevent.sleep(0.25)


def tally(world: World, due: int) -> Tally:
    records = world.calls.records
    counts, last = emails(world, records)
    queued = enqueued(world, records)
    lost = [r.uuid for r in records if r.uuid not in counts]
    result = Tally(due=due, enqueued=None if queued is None else len(queued), mailed=len(counts),
                   duplicated=sum(n - 1 for n in counts.values()), last_email=last, lost_calls=lost)
    result.why = explain(world, records, lost, queued)
    return result


def explain(world: World, records: list[CallRecord], lost: list[str], queued: set[str] | None) -> list[str]:
    """Where each lost call's trail stops, grouped, with one call's log lines as an example."""
    by_uuid = {r.uuid: r for r in records}
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for uuid in lost:
        groups[_trail(world, by_uuid[uuid], queued)].append(uuid)
    lines = []
    if world.calls.failures:
        lines.append(f"{len(world.calls.failures)} call(s) could not connect to the ESL server: "
                     f"{world.calls.failures[0]}")
    for reason, uuids in sorted(groups.items(), key=lambda item: -len(item[1])):
        lines.append(f"{len(uuids)} call(s): {reason}; e.g. {uuids[0]}")
        lines += [f"    {line}" for line in log_lines(world.logs(), uuids[0])]
    return lines


def _trail(world: World, record: CallRecord, queued: set[str] | None) -> str:
    """How far one call got: served, stored, claimed, enqueued, dead-lettered."""
    apps = record.app_names()
    served = f"the controller ran {','.join(apps) or 'no application'}, hangup {record.hangup_cause or '-'}"
    if record.closed_by == "timeout":
        return "the simulated call timed out"
    if any(line.split()[:1] == ["resume"] for line, _ in record.commands):
        return ("given back to FreeSWITCH's dialplan (`resume`) before any module ran, so missed_call_alert "
                "never registered")
    if queued is None:
        return f"{served}; the row's Redis cannot be read"
    if record.uuid in queued:
        return f"{served}; enqueued, {_job_state(world, record.uuid)}"
    try:
        stored = world.rds.exists(keys.call(record.uuid))
        claimed = world.rds.exists(keys.call_claimed(record.uuid))
    except redis.RedisError:
        return f"{served}; not enqueued"
    spooled = (call_spool(str(world.folder / "var")).folder / f"{record.uuid}.json").exists()
    return (f"{served}; not enqueued (call state stored: {'yes' if stored else 'no'}, claimed: "
            f"{'yes' if claimed else 'no'}, in the spool: {'yes' if spooled else 'no'})")


def _job_state(world: World, uuid: str) -> str:
    """Whether a lost call's job is dead, waiting for a retry, ready or held."""
    key = idempotency_key(world.inbound.core_uuid, uuid, KIND, KIND)
    try:
        for job_id in world.rds.zrange(keys.QUEUE_DEAD, 0, -1):
            job = keys.queue_job(str(job_id))
            if key in str(world.rds.hget(job, "doc") or ""):
                return f"dead-lettered: {world.rds.hget(job, 'last_error')!s}"
        if world.rds.exists(keys.queue_sent(key)):
            return "recorded as sent, but the sink has no such message"
    except redis.RedisError:
        return "its state unknown (Redis does not answer)"
    return "not delivered (still ready, held or waiting for a retry)"


def log_lines(logs: list[Path], uuid: str, limit: int = 4) -> list[str]:
    """The log lines that name a call, warnings first, each kind of line once (its time and the
    log's call/account fields left out: the call is named above)."""
    found: dict[str, str] = {}
    for log in logs:
        if not log.exists():
            continue
        for line in log.read_text(errors="replace").splitlines():
            if uuid in line:
                text = _LOG_NOISE.sub("", line).replace(uuid, "<call>").strip()
                found.setdefault(re.sub(r"\d", "", text), f"{log.name}: {text[:300]}")
    lines = sorted(found.values(), key=lambda line: 0 if ("ERROR" in line or "WARNING" in line) else 1)
    return lines[:limit]
