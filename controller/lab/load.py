"""Drives many simulated calls at a given rate against an ESL server and sums them up."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable

import gevent
from gevent.pool import Pool

from controller.lab.inbound import InboundServer
from controller.lab.scenario import Scenario
from controller.lab.simulator import CallRecord, run_call


@dataclasses.dataclass(frozen=True)
class Figures:
    """What a load run measured, whoever generated the load (the simulator here, or the replay
    of a recorded call: controller/lab/replay.py). `load_cpu`: the load generator's CPU seconds
    over the run, when it measured them; `first_failure`: what went wrong first, if anything."""

    offered_rate: float
    completed: int
    failures: int
    elapsed: float
    peak_concurrent: int
    setup_latencies: list[float]  # sorted, seconds from the TCP connect to the first application
    load_cpu: float | None = None
    first_failure: str = ""

    @property
    def calls_per_second(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        values = self.setup_latencies
        if not values:
            return float("nan")
        if fraction == 0.5:
            return statistics.median(values)
        return values[min(len(values) - 1, int(len(values) * fraction))]


@dataclasses.dataclass(frozen=True)
class LoadResult:
    offered_rate: float
    records: list[CallRecord]
    failures: int
    elapsed: float
    peak_concurrent: int

    @property
    def completed(self) -> int:
        return len(self.records)

    @property
    def calls_per_second(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    @property
    def setup_latencies(self) -> list[float]:
        """Seconds from the TCP connect to the first application the controller ran."""
        return sorted(r.first_execute_at - r.connected_at for r in self.records if r.first_execute_at)

    def percentile(self, fraction: float) -> float:
        return self.figures().percentile(fraction)

    def figures(self) -> Figures:
        return Figures(self.offered_rate, self.completed, self.failures, self.elapsed, self.peak_concurrent,
                       self.setup_latencies)


def drive(
    address: tuple[str, int],
    scenario: Scenario,
    calls: int,
    rate: float,
    *,
    timeout: float = 60.0,
    progress: Callable[[int], None] | None = None,
    inbound: InboundServer | None = None,
) -> LoadResult:
    """Place `calls` calls, starting one every 1/rate seconds (on schedule, not after the
    previous one ends), and wait for all of them; with `inbound`, their events go there too."""
    pool = Pool()
    records: list[CallRecord] = []
    failures = 0
    peak = 0

    def one() -> None:
        nonlocal failures
        try:
            records.append(run_call(address, scenario, timeout=timeout, inbound=inbound))
        except OSError:
            failures += 1
        if progress is not None:
            progress(len(records) + failures)

    started = time.monotonic()
    for index in range(calls):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        pool.spawn(one)
        peak = max(peak, len(pool))
    pool.join()
    elapsed = max(r.ended_at for r in records) - started if records else 0.0
    return LoadResult(rate, records, failures, elapsed, peak)
