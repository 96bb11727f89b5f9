"""`controller lab attack`: issue 15's attacks, each against the system as an operator runs it
(controller/lab/attack_world.py: `controller run` with its private Redis, two customer accounts
made through the API, tokens of every kind), while normal traffic goes on beside it in a process
of its own (controller/lab/attack_probe.py: a call every 50 ms, `/healthz` every 100 ms).

One row per attack: whether it held (the expected refusal or limit happened, nothing leaked, no
500; controller/lab/attacks_*.py say what each expects), the concurrent calls' setup latency
p99, the slowest `/healthz`, and the resident memory of `controller run` and its roles before and
after (after: once it is back within 10 %, or 5 s later). A row passes when the attack held, no
traceback reached the run's log and no role was restarted, every concurrent call completed, the
setup p99 is under 50 ms, `/healthz` answered (200) within 100 ms each time, and memory came back
within 10 %. The lines under a row are what was seen; `BROKEN:` marks the evidence of a failure.
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

from controller.lab import attacks_api as api
from controller.lab import attacks_esl as esl
from controller.lab import attacks_mail as mail
from controller.lab.attack_world import Verdict, World
from controller.lab.bench_freeswitch import percentile

SETUP_P99_MS = 50.0
HEALTH_MS = 100.0
MEMORY = 0.10
LEAST_WINDOW = 1.5  # seconds of normal traffic measured beside even the quickest attack
MEMORY_WAIT = 5.0


@dataclasses.dataclass(frozen=True)
class Attack:
    name: str
    item: str  # the item (1-8), or "held" for those it found holding
    play: Callable[[World], Verdict]
    quick: bool = False  # in the --quick run


ATTACKS = (
    Attack("tpl-fold-power", "1", api.template_fold, quick=True),
    Attack("tpl-repeat-100mb-x3", "1", api.template_repeat, quick=True),
    Attack("tpl-power-500", "1", api.template_power),
    Attack("tpl-stored-hostile", "1", mail.stored_template),
    Attack("esl-blank-flood", "2", esl.blank_flood, quick=True),
    Attack("esl-event-flood", "2", esl.event_flood),
    Attack("esl-40x16mib-bodies", "2", esl.big_bodies),
    Attack("number-takeover", "3", api.number_takeover, quick=True),
    Attack("heavy-100k-numbers", "4", api.heavy_numbers),
    Attack("heavy-previews-x10", "4", api.heavy_previews),
    Attack("heavy-renders-mailer", "4", mail.heavy_renders),
    Attack("bad-input-400", "5", api.bad_input, quick=True),
    Attack("config-errors", "5", mail.config_errors),
    Attack("mail-caller-text", "6", mail.caller_text),
    Attack("mail-files-jobs", "7", mail.files_and_jobs),
    Attack("config-typos", "8", mail.typos),
    Attack("esl-lying-length", "held", esl.lying_length),
    Attack("esl-negative-length", "held", esl.negative_length, quick=True),
    Attack("esl-huge-length", "held", esl.huge_length),
    Attack("esl-10mb-headers", "held", esl.big_headers),
    Attack("esl-garbage", "held", esl.garbage, quick=True),
    Attack("esl-eof-mid-frame", "held", esl.eof_mid_frame),
    Attack("esl-slowloris-200", "held", esl.slowloris),
    Attack("esl-abandoned-2000", "held", esl.abandoned),
    Attack("sandbox-escape", "held", api.sandbox_escape, quick=True),
    Attack("redos-patterns", "held", api.redos),
    Attack("cross-account", "held", api.cross_account, quick=True),
)
NAMES = tuple(a.name for a in ATTACKS)


@dataclasses.dataclass(frozen=True)
class Options:
    only: tuple[str, ...] = ()
    quick: bool = False
    keep: Path | None = None

    def chosen(self) -> list[Attack]:
        if self.only:
            return [a for a in ATTACKS if a.name in self.only]
        return [a for a in ATTACKS if a.quick or not self.quick]


@dataclasses.dataclass
class Result:
    attack: Attack
    verdict: Verdict
    setup_ms: list[float]
    failed_calls: list[str]
    health_ms: list[float]
    unhealthy: int  # /healthz answers other than 200 (or none)
    lag_ms: float  # how late the probe process's own loop ran at worst (a busy machine, not the controller)
    rss: tuple[float, float]
    rss_roles: tuple[dict[str, float], dict[str, float]]
    problems: list[str]  # tracebacks in the log, restarts
    seconds: float

    @property
    def setup_p99(self) -> float:
        return percentile(self.setup_ms, 99)

    @property
    def health_max(self) -> float:
        return max(self.health_ms, default=float("nan"))

    def targets(self) -> dict[str, bool]:
        before, after = self.rss
        return {
            "held": self.verdict.held and not self.problems,
            "setup": bool(self.setup_ms) and not self.failed_calls and self.setup_p99 < SETUP_P99_MS,
            "healthz": bool(self.health_ms) and not self.unhealthy and self.health_max < HEALTH_MS,
            "memory": after <= before * (1 + MEMORY),
        }

    @property
    def passed(self) -> bool:
        return all(self.targets().values())

    def line(self) -> str:
        before, after = self.rss
        failing = [name for name, ok in self.targets().items() if not ok]
        held = "held" if self.verdict.held and not self.problems else "BROKEN"
        failed = f", {len(self.failed_calls)} failed" if self.failed_calls else ""
        calls = f"{self.setup_p99:7.1f} ({len(self.setup_ms)}{failed})"
        return (f"{self.attack.name:<22}{self.attack.item:>5}  {held:<7}{calls:>20}{self.health_max:>11.1f}"
                f"{before:>9.0f} ->{after:>5.0f}{self.seconds:>7.1f}  "
                f"{'PASS' if self.passed else 'FAIL (' + ', '.join(failing) + ')'}")

    def details(self) -> list[str]:
        lines = list(self.verdict.seen) + self.problems
        if self.failed_calls:
            lines.append(f"BROKEN: concurrent calls failed: {sorted(set(self.failed_calls))[:3]}")
        if not self.targets()["memory"]:
            before, after = self.rss_roles
            grown = ", ".join(f"{role} {before.get(role, 0):.0f} -> {mb:.0f}" for role, mb in sorted(after.items()))
            lines.append(f"BROKEN: memory not back within {MEMORY:.0%} after {MEMORY_WAIT:.0f} s: {grown} MB")
        if self.lag_ms > 50:
            lines.append(f"note: the probe process's own loop ran up to {self.lag_ms:.0f} ms late (the machine was "
                         f"busy, load average {os.getloadavg()[0]:.1f}): its figures include that wait")
        if self.unhealthy:
            lines.append(f"BROKEN: /healthz answered other than 200 {self.unhealthy} time(s)")
        return lines


HEADER = (f"{'attack':<22}{'item':>5}  {'result':<7}{'call setup p99 ms (n)':>20}{'/healthz ms':>11}"
          f"{'RSS MB before -> after':>23}{'s':>5}  targets")


def measure(world: World, attack: Attack) -> Result:
    world.settle()
    rss_before, roles_before = world.rss_mb(), world.rss_by_process()
    restarts = world.restarts()
    log_at = world.log_size()
    started = time.monotonic()
    try:
        verdict = attack.play(world)
    except Exception as exc:  # the attack itself could not be played: say so in its row
        verdict = Verdict(False, [f"BROKEN: the attack could not be played: {type(exc).__name__}: {exc}"])
    spent = time.monotonic() - started
    if spent < LEAST_WINDOW:
        time.sleep(LEAST_WINDOW - spent)
    ended = time.monotonic()
    world.settle()
    rss_after = world.rss_mb()
    deadline = time.monotonic() + MEMORY_WAIT
    while rss_after > rss_before * (1 + MEMORY) and time.monotonic() < deadline:
        time.sleep(0.25)
        rss_after = world.rss_mb()
    probes = world.probes(started, ended)
    calls = [p for p in probes if p["k"] == "call"]
    health = [p for p in probes if p["k"] == "health"]
    return Result(
        attack, verdict,
        setup_ms=[p["ms"] for p in calls if p["ok"]],
        failed_calls=[p.get("why", "") for p in calls if not p["ok"]],
        health_ms=[p["ms"] for p in health], unhealthy=sum(1 for p in health if p["status"] != 200),
        lag_ms=max((p["ms"] for p in probes if p["k"] == "lag"), default=0.0),
        rss=(rss_before, rss_after), rss_roles=(roles_before, world.rss_by_process()),
        problems=_problems(world, log_at, restarts), seconds=ended - started,
    )


def _problems(world: World, log_at: int, restarts: dict[str, int]) -> list[str]:
    found = []
    text = world.log_text(log_at)
    if "Traceback" in text:
        lines = text.splitlines()
        first = next(i for i, line in enumerate(lines) if "Traceback" in line)
        where = [line.strip() for line in lines[first:first + 40] if line.strip().startswith("File ")][-1:]
        last = next((line for line in lines[first + 1:first + 60] if line and not line.startswith(" ")), "")
        found.append(f"BROKEN: {text.count('Traceback')} traceback(s) in the log: {where} {last[:120]}")
    now = world.restarts()
    for role, count in now.items():
        if count > restarts.get(role, 0):
            found.append(f"BROKEN: {role} restarted {count - restarts.get(role, 0)} time(s)")
    return found


def run(options: Options, out: TextIO = sys.stdout) -> list[Result]:
    chosen = options.chosen()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"attack suite: {len(chosen)} attacks against controller run; load average {load} on "
          f"{os.cpu_count()} CPUs; targets: held, call setup p99 < {SETUP_P99_MS:.0f} ms, /healthz < "
          f"{HEALTH_MS:.0f} ms, memory back within {MEMORY:.0%}", file=out, flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="lab-attack-") as scratch:
        world = World((options.keep or Path(scratch)) / "system")
        try:
            world.start()
            print(HEADER, file=out, flush=True)
            for attack in chosen:
                result = measure(world, attack)
                results.append(result)
                print(result.line(), file=out, flush=True)
                for detail in result.details():
                    print(f"      {detail}", file=out, flush=True)
        finally:
            world.close()
    failed = [r.attack.name for r in results if not r.passed]
    failing = f"; failing: {', '.join(failed)}" if failed else ""
    print(f"{len(results) - len(failed)}/{len(results)} rows pass{failing}", file=out, flush=True)
    return results
