"""`controller lab call`: simulated calls against a running controller, as FreeSWITCH would place
them, with a summary of what they led to.

Scenarios (what the caller and the rung phones do):
- `answered`: the first bridge is answered after `ring` s and talks `talk` s;
- `no-answer`: every bridge rings until its leg timeout, and the caller hangs up at the first
  prompt after that (the voicemail greeting): a missed call;
- `busy`: every bridge is refused with 486;
- `voicemail`: the bridges ring out, then the caller talks `record` s into voicemail and presses
  the `dtmf` digits at the prompts (with none, hangs up when asked to review the message);
- `hangup`: the caller hangs up after `hangup_after` s (while the phones ring);
- `internal`: the caller is the account's device `--from` (a SIP username), answered.

The summary counts the calls by outcome and, for each call, whether a missed-call alert or a
voicemail email was enqueued and delivered (the queue's idempotency records of those jobs), and
says where the mail landed. What went wrong (calls that could not connect, failed or got no
answer, notifications not delivered in time) is said after it, each with what to do next
(`problems`); the command then exits 1.
"""

from __future__ import annotations

import collections
import dataclasses
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import gevent
import redis

from controller.config import Settings
from controller.lab import render
from controller.lab.load import drive
from controller.lab.scenario import BridgeOutcome, Keypress, Scenario
from controller.lab.simulator import CallRecord
from controller.notify.job import idempotency_key
from controller.store import keys

SCENARIOS = ("answered", "no-answer", "busy", "voicemail", "hangup", "internal")
NOTICES = ("missed_call", "voicemail_to_email")
PROMPT_SECONDS = 1.0  # how long each prompt (playback, speak, say) plays
FAILURES = frozenset({"NO_ROUTE_DESTINATION", "INVALID_NUMBER_FORMAT", "UNALLOCATED_NUMBER",
                      "NORMAL_TEMPORARY_FAILURE", "CALL_REJECTED"})


@dataclasses.dataclass(frozen=True)
class Options:
    to: str
    caller: str = "+15550001111"
    name: str = "Lab Caller"
    scenario: str = "no-answer"
    count: int = 1
    rate: float = 1.0
    account: str | None = None
    ring: float = 2.0
    talk: float = 3.0
    record: float = 5.0
    dtmf: str = ""
    hangup_after: float = 3.0
    time_scale: float = 1.0
    wait: float = 15.0


def scenario(options: Options) -> Scenario:
    kind = options.scenario
    bridges: tuple[BridgeOutcome, ...] = (BridgeOutcome("no_answer"),) * 4
    extra: dict[str, Any] = {"hangup_during": ("playback", 0.3)}  # gives up at the first prompt
    if kind in ("answered", "internal"):
        bridges = (BridgeOutcome("answered", ring=options.ring, talk=options.talk),)
        extra = {}
    elif kind == "busy":
        bridges = (BridgeOutcome("busy", ring=options.ring),) * 4
        extra = {}
    elif kind == "voicemail":
        presses = (Keypress(options.dtmf, delay=1.0),) if options.dtmf else ()
        extra = {"record_seconds": options.record, "keypresses": presses}
        if not options.dtmf:  # hangs up once asked to review the message, as callers do
            extra["hangup_during"] = ("play_and_get_digits", 0.3)
    elif kind == "hangup":
        extra = {"hangup_after": options.hangup_after}
    if kind == "internal":
        extra["internal_user"] = options.caller
    return Scenario(destination=options.to, caller_number=options.caller, caller_name=options.name,
                    account_id=options.account, bridges=bridges, time_scale=options.time_scale,
                    playback_seconds=PROMPT_SECONDS, **extra)


def outcome(record: CallRecord) -> str:
    if "CHANNEL_BRIDGE" in record.events:
        return "answered"
    if "record" in record.app_names():
        return "voicemail"
    if record.closed_by == "timeout":
        return "timed out"
    cause = record.hangup_cause or ""
    if cause == "USER_BUSY":
        return "busy"
    if cause in FAILURES:
        return "failed: " + cause
    return "not answered"


def notices(rds: redis.Redis, records: Iterable[CallRecord]) -> dict[str, tuple[int, int]]:
    """Per notice type: (enqueued, delivered) among these calls."""
    instance = dict(render.connect_headers()).get("Core-UUID", "freeswitch")
    found: dict[str, tuple[int, int]] = {}
    records = list(records)
    for kind in NOTICES:
        ids = [idempotency_key(instance, r.uuid, kind, kind) for r in records]
        pipe = rds.pipeline(transaction=False)
        for key in ids:
            pipe.exists(keys.queue_enqueued(key))
            pipe.exists(keys.queue_sent(key))
        flags = pipe.execute()
        found[kind] = (sum(flags[0::2]), sum(flags[1::2]))
    return found


def run(settings: Settings, rds: redis.Redis, options: Options, out: TextIO = sys.stdout) -> dict[str, Any]:
    address = (settings.esl_listen.host, settings.esl_listen.port)
    bar = ProgressBar(options.count, sys.stderr)
    result = drive(address, scenario(options), options.count, options.rate, timeout=600, progress=bar.update)
    bar.done()
    by_outcome = collections.Counter(outcome(r) for r in result.records)
    if result.failures:
        by_outcome["not connected"] += result.failures
    sent = _wait_for_mail(rds, result.records, options.wait)
    summary = {"outcomes": dict(by_outcome), "notices": sent}
    _print(summary, settings, out)
    return summary


def problems(summary: dict[str, Any], options: Options, settings: Settings) -> list[str]:
    """What went wrong, one line each, saying what to do next (empty: nothing did)."""
    lines = []
    for name, count in sorted(summary["outcomes"].items()):
        if name == "not connected":
            lines.append(f"{count} of {options.count} call(s) could not connect to {settings.esl_listen} "
                         "(CONTROLLER_ESL_LISTEN): start `controller run` (or `controller serve`) there first")
        elif name == "failed: UNALLOCATED_NUMBER":
            account = f"--account {options.account}" if options.account else "--account ACCOUNT_ID"
            lines.append(f"{count} call(s) to {options.to} found no callflow: load one (`controller flows load FILE`); "
                         f"`controller flows match '{options.to}' {account}` shows what the number reaches")
        elif name.startswith("failed: "):
            lines.append(f"{count} call(s) failed with {name.removeprefix('failed: ')}: the controller's log "
                         "(grep call=<uuid>) says why")
        elif name == "timed out":
            lines.append(f"{count} call(s) got no answer from the controller in time: see the controller's log")
    for kind, (queued, sent) in summary["notices"].items():
        if sent < queued:
            lines.append(f"{queued - sent} {kind} notification(s) not delivered after {options.wait:g} s: is the "
                         "mail sender running? `controller jobs stats` shows the queue, `controller jobs dead` "
                         "what failed (--wait to wait longer)")
    return lines


def _wait_for_mail(rds: redis.Redis, records: list[CallRecord], wait: float) -> dict[str, tuple[int, int]]:
    deadline = time.monotonic() + wait
    while True:
        found = notices(rds, records)
        if all(sent >= queued for queued, sent in found.values()) or time.monotonic() > deadline:
            return found
        gevent.sleep(0.25)


def _print(summary: dict[str, Any], settings: Settings, out: TextIO) -> None:
    print("\ncalls by outcome", file=out)
    for name, count in sorted(summary["outcomes"].items(), key=lambda item: -item[1]):
        print(f"  {name:<24} {count:>6}", file=out)
    print("\nnotifications          enqueued  delivered", file=out)
    for kind, (queued, sent) in summary["notices"].items():
        print(f"  {kind:<20} {queued:>8} {sent:>10}", file=out)
    where = settings.smtp_url or f"{Path(settings.outbox_dir).resolve()}/*.eml"
    print(f"\nmail: {where}   queue: controller jobs stats", file=out)


class ProgressBar:
    def __init__(self, total: int, out: TextIO, width: int = 40) -> None:
        self.total, self.out, self.width = max(1, total), out, width

    def update(self, finished: int) -> None:
        filled = self.width * finished // self.total
        self.out.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {finished}/{self.total} calls")
        self.out.flush()

    def done(self) -> None:
        self.out.write("\n")
        self.out.flush()
