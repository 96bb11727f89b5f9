"""`controller run`'s supervisor: it starts each child (the private Redis, then the roles), watches
them, restarts one that exits or stops answering, and stops them in order. It holds no business
logic, as Postfix's master(8) and Kazoo's OTP supervisors hold none: a role may die of anything
without taking another with it, and a CPU-bound API request cannot stall calls.

The policy, OTP's `one_for_one` per child:

- A child is started, then asked `answers()` until it does (its start); a child that never
  answered since the run began and exits or stays silent ends the run: a role that cannot start
  (a port in use, a bad setting) will not start better the fifth time.
- A child that exits, or does not answer for `liveness` seconds (it is then killed with SIGKILL:
  a stalled loop would not run a SIGTERM handler), is started again after a backoff (0.5 s,
  doubling, at most 8 s).
- More than `intensity` restarts of one child within `period` seconds is no transient fault:
  the supervisor gives up, stops every child and the run exits 1, with one line saying why.
- Every start, exit (with its status or signal) and restart is one log line; the state of each
  child is written to `roles.json` (controller/roles.py) on every change, for `/healthz`.
- On stop, the children are stopped tier by tier, the last tier first (each tier's children in
  the order given): SIGTERM, then SIGKILL after the child's `stop_seconds`.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import gevent
from gevent import subprocess
from gevent.event import Event

from controller.roles import UP, ChildState, write_states

log = logging.getLogger(__name__)


class Child(Protocol):
    """What the supervisor needs of a child: a name, how to start it, whether it answers."""

    name: str
    stop_seconds: float  # from SIGTERM to SIGKILL

    def spawn(self) -> subprocess.Popen[bytes]: ...

    def answers(self, timeout: float) -> bool: ...


@dataclasses.dataclass(frozen=True)
class Policy:
    intensity: int = 5  # restarts of one child allowed within `period`
    period: float = 60.0
    liveness: float = 10.0  # seconds a running child may go without answering
    start_seconds: float = 30.0  # for a child to answer after it is started
    backoff: float = 0.5
    backoff_max: float = 8.0

    @property
    def probe_every(self) -> float:
        return min(2.0, self.liveness / 4)


def describe_exit(code: int) -> str:
    """`exit status 1`, `killed by SIGKILL`: a Popen return code in words."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class Keeper:
    """One child's life in a greenlet: start, wait until it answers, watch, restart; stop when
    asked. Reports each change of state to the supervisor."""

    def __init__(self, child: Child, policy: Policy, report: Callable[[str, ChildState], None],
                 give_up: Callable[[str], None]) -> None:
        self.child = child
        self.policy = policy
        self.report = report
        self.give_up = give_up
        self.up = Event()  # set once the child has answered (since the run began)
        self.restarts: collections.deque[float] = collections.deque()
        self.count = 0
        self._stop = Event()
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop the child (if it runs) and end this keeper."""
        self._stop.set()
        if self._greenlet is not None:
            self._greenlet.join()

    @property
    def ended(self) -> bool:
        return self._greenlet is not None and self._greenlet.dead

    def _run(self) -> None:
        while not self._stop.is_set():
            why = self._life()
            if why is None or not self._may_restart(why):
                return

    def _life(self) -> str | None:
        """Start the child and watch it; why it ended, or None when it was stopped on request."""
        self._set("starting")
        try:
            process = self.child.spawn()
        except (OSError, RuntimeError) as exc:
            log.error("%s could not be started: %s", self.child.name, exc)
            return f"could not be started: {exc}"
        log.info("%s started (pid %d)", self.child.name, process.pid)
        self._set("starting", process.pid)
        why = self._watch(process)
        if why is not None:
            log.warning("%s (pid %d) %s", self.child.name, process.pid, why)
        return why

    def _watch(self, process: subprocess.Popen[bytes]) -> str | None:
        exited = gevent.spawn(process.wait)
        started = time.monotonic()
        last_answer: float | None = None
        while True:
            every = self.policy.probe_every if last_answer is not None else 0.1
            gevent.wait([exited, self._stop], timeout=every, count=1)
            if exited.ready():
                return f"exited: {describe_exit(process.returncode)}"
            if self._stop.is_set():
                self._terminate(process, exited)
                return None
            now = time.monotonic()
            if self.child.answers(min(2.0, every * 2) if last_answer is not None else 1.0):
                if last_answer is None:
                    self.up.set()
                    self._set(UP, process.pid)
                last_answer = now
                continue
            silent = now - (last_answer or started)
            limit = self.policy.liveness if last_answer is not None else self.policy.start_seconds
            if silent >= limit:
                process.kill()
                exited.join()
                verb = "stopped answering its liveness check" if last_answer is not None else "did not answer"
                return f"{verb} for {silent:.1f} s; killed"

    def _terminate(self, process: subprocess.Popen[bytes], exited: gevent.Greenlet) -> None:
        self._set("stopping", process.pid)
        log.info("stopping %s (pid %d)", self.child.name, process.pid)
        process.send_signal(signal.SIGTERM)
        exited.join(timeout=self.child.stop_seconds)
        if not exited.ready():
            log.warning("%s (pid %d) still running %.0f s after SIGTERM: killing it", self.child.name,
                        process.pid, self.child.stop_seconds)
            process.kill()
            exited.join()
        log.info("%s (pid %d) stopped: %s", self.child.name, process.pid, describe_exit(process.returncode))
        self._set("stopped", None, describe_exit(process.returncode))

    def _may_restart(self, why: str) -> bool:
        """Wait out the backoff and say yes, or give up (the budget is spent, or the child never
        started)."""
        name = self.child.name
        if not self.up.is_set():
            self._set("down", None, why)
            self.give_up(f"{name} {why} before it ever answered")
            return False
        now = time.monotonic()
        self.restarts.append(now)
        while self.restarts and self.restarts[0] < now - self.policy.period:
            self.restarts.popleft()
        recent = len(self.restarts)
        if recent > self.policy.intensity:
            self._set("down", None, why)
            self.give_up(f"{name} {why}; {recent} restarts in {self.policy.period:g} s: giving up")
            return False
        delay = min(self.policy.backoff * 2 ** (recent - 1), self.policy.backoff_max)
        self.count += 1
        self._set("down", None, f"{why}; restarting")
        log.warning("restarting %s in %.1f s (%d of %d restarts allowed in %g s)", name, delay, recent,
                    self.policy.intensity, self.policy.period)
        return not self._stop.wait(delay)

    def _set(self, state: str, pid: int | None = None, detail: str = "") -> None:
        self.report(self.child.name, ChildState(state, pid, self.count, detail))


class Supervisor:
    """The children in tiers: each tier starts once the one before answers (the private Redis
    before the roles); stopping goes the other way."""

    def __init__(self, tiers: Sequence[Sequence[Child]], states: Path, policy: Policy) -> None:
        self.tiers = [[Keeper(child, policy, self._record, self._give_up) for child in tier] for tier in tiers]
        self.states_dir = states
        self._states = {keeper.child.name: ChildState("waiting") for tier in self.tiers for keeper in tier}
        self._done = Event()
        self.failure: str | None = None

    def start(self) -> bool:
        """Start every tier in turn; False (with `failure` saying why) if one did not come up."""
        write_states(self.states_dir, self._states)
        for tier in self.tiers:
            for keeper in tier:
                keeper.start()
            for keeper in tier:
                gevent.wait([keeper.up, self._done], count=1)
                if self._done.is_set():
                    return False
        return True

    def stop_on_signals(self) -> None:
        """From now on SIGTERM and SIGINT end `start` or `wait`, and the caller stops the run."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, self._on_signal)

    def wait(self) -> None:
        """Until SIGTERM or SIGINT, or until a child's budget is spent (`failure` says which)."""
        self._done.wait()

    def stop(self) -> None:
        """Stop the children, last tier first."""
        self._done.set()
        for tier in reversed(self.tiers):
            for keeper in tier:
                keeper.stop()

    def _on_signal(self) -> None:
        if not self._done.is_set():
            log.info("stopping: every role in turn")
        self._done.set()

    def _record(self, name: str, state: ChildState) -> None:
        self._states[name] = state
        try:
            write_states(self.states_dir, self._states)
        except OSError as exc:
            log.error("cannot write %s: %s", self.states_dir, exc)

    def _give_up(self, why: str) -> None:
        if self.failure is None:
            self.failure = why
        self._done.set()
