"""`controller lab faults`: the promise — every missed inbound call becomes exactly one email —
measured through faults, against real processes (controller/lab/fault_world.py): a redis-server
of the row's own (append-only, fsync always), `controller serve` with its watcher on a simulated
FreeSWITCH's inbound event socket, `controller mailer`, the lab SMTP sink, and simulated missed
calls (each with a missed_call_alert to one email address) placed into the real outbound ESL
server. Each row starts from nothing in a folder of its own, applies one fault, and prints: alerts
due, enqueued, mailed (distinct calls that got their email), duplicated (extra emails for a call),
lost (due minus mailed), and the time from the fault's end to the last email; PASS when nothing
is lost and there is at most one duplicate per SIGKILL of a mail sender (the gap between SMTP's
250 and the sent record), none otherwise. A row that loses calls says where their trail stops and
what the logs say of one of them (controller/lab/fault_tally.py).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import gevent

from controller.lab import fault_tally
from controller.lab.fault_world import GREYLIST_NUMBER, Layout, World, scenario
from controller.lab.processes import wait_until

RATE = 30.0  # calls started per second in the rows with traffic
LONG_RING = 60.0  # seconds a call rings when a row kills its controller while calls ring
RESTART_AFTER = 2.5  # seconds between a SIGKILL of a controller and its restart


@dataclasses.dataclass(frozen=True)
class Options:
    rows: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    scale: float = 1.0  # calls and waits times this (a quick run: 0.1)
    smtp_down: float = 20.0  # seconds the SMTP sink is down in row 3 (before scaling)
    keep: Path | None = None  # leave each row's logs and data in this folder

    def calls(self, full: int) -> int:
        return max(5, round(full * self.scale))

    def seconds(self, full: float, least: float = 1.0) -> float:
        return max(least, full * self.scale)


@dataclasses.dataclass
class Outcome:
    """What a row did: the moment its fault ended (unix time: the killed or stopped process started
    again; with no fault, the last call's end), how many times it SIGKILLed a mail sender, how long
    to wait at most for the emails, and anything worth saying."""

    fault_end: float
    mailer_kills: int = 0
    wait: float = 60.0
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Row:
    number: int
    label: Callable[[Options], str]
    play: Callable[[World, Options], Outcome]
    layout: Layout = dataclasses.field(default_factory=Layout)
    mailer_first: bool = True  # the mail sender runs from the start (row 2 starts it on a backlog)


def _steady(world: World, count: int) -> None:
    world.calls.place(scenario(), count, RATE)


def play_none(world: World, options: Options) -> Outcome:
    _steady(world, options.calls(200))
    world.calls.join()
    return Outcome(fault_end=time.time())


def play_mailer_kills(world: World, options: Options) -> Outcome:
    """A backlog enqueued with no mail sender running, then a sender SIGKILLed at a quarter, half
    and three quarters of the emails, restarted at once each time."""
    count = options.calls(500)
    world.calls.place(scenario(), count, RATE * 2)
    world.calls.join()
    wait_until(lambda: len(fault_tally.enqueued(world, world.calls.records) or ()) >= len(world.calls.records),
               30.0, "the backlog to be enqueued")
    mailer = world.roles["mailer"]
    mailer.start()
    for quarter in (1, 2, 3):
        wait_until(_mailed_at_least(world, count * quarter // 4), 60.0, f"{quarter}/4 of the backlog to be mailed",
                   step=0.01)
        mailer.kill()
        mailer.start()
    return Outcome(fault_end=time.time(), mailer_kills=3, wait=90.0)


def _mailed_at_least(world: World, emails: int) -> Callable[[], bool]:
    return lambda: len(fault_tally.emails(world, world.calls.records)[0]) >= emails


def play_smtp_down(world: World, options: Options) -> Outcome:
    count = options.calls(450)
    _steady(world, count)
    gevent.sleep(count / RATE / 4)
    world.sink.process.stop()
    gevent.sleep(options.seconds(options.smtp_down))
    end = time.time()
    world.sink.start()
    world.calls.join()
    return Outcome(fault_end=end, wait=150.0)


def _redis_restart(down: float) -> Callable[[World, Options], Outcome]:
    def play(world: World, options: Options) -> Outcome:
        assert world.redis is not None
        count = options.calls(300)
        _steady(world, count)
        gevent.sleep(count / RATE / 3)
        world.redis.process.kill()
        gevent.sleep(down)
        end = time.time()
        world.redis.start()
        world.calls.join()
        return Outcome(fault_end=end, wait=90.0)

    return play


def _ringing_then_killed(world: World, options: Options) -> tuple[int, float, list[str]]:
    """Calls that ring until the ESL role is SIGKILLed, then its restart 2.5 s later: (calls,
    the restart time, what went wrong restarting)."""
    count = options.calls(50)
    world.calls.place(scenario(ring=LONG_RING), count, 50.0)
    wait_until(lambda: world.calls.ringing >= count, 30.0, f"{count} calls to ring")
    gevent.sleep(0.3)
    world.esl_role.kill()
    gevent.sleep(RESTART_AFTER)
    notes = []
    end = time.time()
    try:
        world.start_esl_side()
    except RuntimeError as exc:
        notes.append(f"the restart failed: {exc}")
        notes += [f"    {line}" for line in _tail(world.esl_role.log, 3)]
    world.calls.join()
    return count, end, notes


def play_serve_kill(world: World, options: Options) -> Outcome:
    _, end, notes = _ringing_then_killed(world, options)
    return Outcome(fault_end=end, notes=notes, wait=10.0 if notes else 60.0)


def play_run_kill(world: World, options: Options) -> Outcome:
    _, end, notes = _ringing_then_killed(world, options)
    return Outcome(fault_end=end, mailer_kills=1, notes=notes, wait=10.0 if notes else 60.0)


def play_greylist(world: World, options: Options) -> Outcome:
    """One missed call whose one recipient is greylisted once (451 to RCPT TO), then accepted;
    the fault ends with the 451."""
    world.calls.place(scenario(destination=GREYLIST_NUMBER), 1, 1.0)
    world.calls.join()
    wait_until(lambda: any(kind == "greylisted" for _, _, kind in world.sink.lines()), 30.0, "the 451")
    end = max(at for _, at, kind in world.sink.lines() if kind == "greylisted")
    return Outcome(fault_end=end, wait=60.0)


def _tail(log: Path, lines: int) -> list[str]:
    return log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []


ROWS = (
    Row(1, lambda o: f"none, {o.calls(200)} calls", play_none),
    Row(2, lambda o: f"mail sender SIGKILLed 3 times in a {o.calls(500)}-job backlog", play_mailer_kills,
        mailer_first=False),
    Row(3, lambda o: f"SMTP down {o.seconds(o.smtp_down):.0f} s during {o.calls(450)} calls", play_smtp_down),
    Row(4, lambda o: f"Redis restarted, down 1.2 s, no watcher, {o.calls(300)} calls", _redis_restart(1.2),
        Layout(watcher=False)),
    Row(5, lambda o: f"Redis restarted, down 5.4 s, with the watcher, {o.calls(300)} calls", _redis_restart(5.4)),
    Row(6, lambda o: f"serve SIGKILLed, {o.calls(50)} calls ringing, restarted 2.5 s later", play_serve_kill),
    Row(7, lambda o: "one recipient greylisted (451 to RCPT TO) once", play_greylist),
    Row(8, lambda o: f"controller run SIGKILLed, {o.calls(50)} calls ringing, restarted", play_run_kill,
        Layout(whole_run=True)),
)
HEADER = (f"{'row':<4}{'fault':<62}{'due':>5}{'enqueued':>10}{'mailed':>8}{'duplicated':>12}{'lost':>6}"
          f"{'recovered':>11}  target")


@dataclasses.dataclass(frozen=True)
class Result:
    row: int
    label: str
    tally: fault_tally.Tally
    outcome: Outcome

    @property
    def passed(self) -> bool:
        return self.tally.lost == 0 and self.tally.duplicated <= self.outcome.mailer_kills

    @property
    def recovered(self) -> str:
        last = self.tally.last_email
        if last is None:
            return "never"
        return f"{max(0.0, last - self.outcome.fault_end):.1f} s"

    def line(self) -> str:
        t = self.tally
        enqueued = "n/a" if t.enqueued is None else str(t.enqueued)
        return (f"{self.row:<4}{self.label:<62}{t.due:>5}{enqueued:>10}{t.mailed:>8}{t.duplicated:>12}{t.lost:>6}"
                f"{self.recovered:>11}  {'PASS' if self.passed else 'FAIL'}")


def run_row(row: Row, options: Options, folder: Path) -> Result:
    world = World(folder, row.layout)
    try:
        world.start()
        if row.mailer_first and "mailer" in world.roles:
            world.roles["mailer"].start()
        outcome = row.play(world, options)
        due = world.calls.placed
        not_before = time.monotonic()
        fault_tally.settle(world, due, not_before, not_before + outcome.wait)
        return Result(row.number, row.label(options), fault_tally.tally(world, due), outcome)
    finally:
        world.close()


def run(options: Options, out: TextIO = sys.stdout) -> list[Result]:
    """Each row chosen, one after the other, each in a fresh folder; one line each as it ends."""
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"fault benchmark: load average {load} on {os.cpu_count()} CPUs, scale {options.scale:g}", file=out)
    print(HEADER, file=out, flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="lab-faults-") as scratch:
        root = options.keep or Path(scratch)
        for row in (r for r in ROWS if r.number in options.rows):
            started = time.monotonic()
            result = run_row(row, options, root / f"row{row.number}")
            results.append(result)
            print(result.line(), file=out, flush=True)
            for note in [*result.outcome.notes, *(result.tally.why if not result.passed else [])]:
                print(f"      {note}", file=out, flush=True)
            print(f"      ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    return results
