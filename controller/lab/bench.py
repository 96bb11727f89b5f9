"""`controller lab bench`: the controller against a bare greenswitch application, same load.

Each server runs as its own process on this machine, under the same load: first a raw gevent
server doing only the ESL dialogue (the floor: what a call costs gevent and the kernel here, and
the latency the load generator and the machine add by themselves), then the bare greenswitch
application, then the controller. Each call goes answer -> play -> bridge (no answer) ->
hangup, with events as large as a real FreeSWITCH's (controller/lab/report.py, callee.py). The
controller also watches the simulated FreeSWITCH on its inbound event socket, as in production
(CONTROLLER_FREESWITCH): every channel's events it subscribes to reach it there, CHANNEL_DESTROY
of the caller's leg and of the callee's that each bridge creates.

Printed for each: sustained calls/s, p50/p99 call-setup latency (TCP connect -> first
application executed), peak concurrent calls, and the CPU time per call of the server, of the
load generator and of a local Redis, with each one's share of a core (the side near 100% is what
limits the run), and what a call sends it; then the controller's memory per concurrent call (RSS
growth while N calls are held open, divided by N) and the ratio of the controller's rate to
greenswitch's.

The load: by default one call is played by the FreeSWITCH simulator against each server and
recorded, then replayed many times by controller/lab/replay.py in a process of its own (the
simulator's ~2 ms of CPU per call would cap the offered load near 450 calls/s on this machine;
the replay sends the same bytes for a fraction of that). `driver="simulator"` keeps the
simulator for every call, in this process. Holding calls open for the memory figure always uses
the simulator.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import redis

from controller.config import Settings
from controller.lab import recording, replay
from controller.lab.cpu import cpu_seconds, own_cpu_seconds
from controller.lab.inbound import InboundServer
from controller.lab.load import Figures, drive
from controller.lab.processes import free_port
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import run_call
from controller.store.bundle import load_bundle

ACCOUNT = "bench"
NUMBER = "5550100"
FLOW = {
    "module": "play",
    "data": {"id": "tone_stream://%(100,0,440)"},
    "children": {"_": {"module": "user", "data": {"id": "bench-user", "timeout": 1}, "children": {}}},
}
BUNDLE = {
    "account": {"id": ACCOUNT, "name": "Benchmark", "realm": "bench.example.com"},
    "users": [{"id": "bench-user", "first_name": "Bench"}],
    "devices": [{"id": "bench-phone", "owner_id": "bench-user", "sip": {"username": "1001"}}],
    "callflows": [{"id": "bench-flow", "numbers": [NUMBER], "flow": FLOW}],
}
# A quick call: short media, a bridge nobody answers within its (scaled down) leg timeout.
CALL = Scenario(
    destination=NUMBER, account_id=ACCOUNT, playback_seconds=0.005,
    bridges=(BridgeOutcome("no_answer", timeout=0.005),),
)


@dataclasses.dataclass(frozen=True)
class Options:
    calls: int = 5000
    rate: float = 1000.0
    hold: int = 10000
    chart: Path | None = None
    rates: tuple[float, ...] = (250.0, 500.0, 750.0, 1000.0, 1250.0, 1500.0)
    driver: str = "replay"  # or "simulator"


DRIVERS = ("replay", "simulator")
CALL_TIMEOUT = 60.0
# Places `calls` calls at `rate` per second against one server and returns what was measured.
Load = Callable[[int, float], Figures]


def wait_listening(port: int, proc: subprocess.Popen[bytes], deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        gevent.sleep(0.05)
    raise RuntimeError("server did not start listening")


@contextlib.contextmanager
def server_process(argv: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def controller_argv(
    settings: Settings, port: int, inbound: InboundServer | None = None
) -> tuple[list[str], dict[str, str]]:
    """`controller serve` on `port`, watching the simulated FreeSWITCH's inbound socket when
    there is one."""
    env = {
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{port}", "CONTROLLER_DEFAULT_ACCOUNT": ACCOUNT,
        "CONTROLLER_LOG_LEVEL": "WARNING", "CONTROLLER_MAX_CALLS": "20000", "CONTROLLER_LINGER_SECONDS": "1",
        "CONTROLLER_REDIS_URL": settings.redis_url, "CONTROLLER_DRAIN_SECONDS": "2",
    }
    if inbound is not None:
        host, inbound_port = inbound.address
        env["CONTROLLER_FREESWITCH"] = f"esl://:{inbound.password}@{host}:{inbound_port}"
    return [sys.executable, "-m", "controller", "serve"], env


def wait_watching(inbound: InboundServer, proc: subprocess.Popen[bytes], deadline: float = 15.0) -> None:
    """Until the server's watcher has subscribed on the inbound socket."""
    end = time.monotonic() + deadline
    while not inbound.subscribers:
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError("the controller did not connect to the inbound event socket")
        gevent.sleep(0.05)


def baseline_argv(port: int, floor: bool = False) -> list[str]:
    return [sys.executable, "-m", "controller.lab.baseline", "--port", str(port), *(["--floor"] if floor else [])]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def simulated(port: int, inbound: InboundServer | None = None) -> Load:
    """Every call played by the simulator, in this process (its CPU time is this process's)."""

    def load(calls: int, rate: float) -> Figures:
        before = own_cpu_seconds()
        figures = drive(("127.0.0.1", port), CALL, calls, rate, timeout=CALL_TIMEOUT, inbound=inbound).figures()
        return dataclasses.replace(figures, load_cpu=own_cpu_seconds() - before)

    return load


class Replayed:
    """One call recorded with the simulator against this server (three, which must agree), then
    replayed in a process of its own (`python -m controller.lab.replay`), which measures itself;
    with `inbound`, what the server's watcher received is replayed too, straight into the
    watcher's connection (its descriptor handed down to the replay). Raises
    recording.NotReplayableError when the recorded calls disagree."""

    def __init__(self, port: int, workdir: Path, inbound: InboundServer | None = None) -> None:
        self.address = ("127.0.0.1", port)
        self.inbound = inbound
        self.path = workdir / f"call-{port}.pickle"
        self.script = recording.record(self.address, CALL, timeout=CALL_TIMEOUT, inbound=inbound)
        self.script.save(self.path)

    def __call__(self, calls: int, rate: float) -> Figures:
        watchers = self.inbound.subscriber_fds() if self.inbound is not None else []
        data = replay.run_process(self.path, self.address, calls, rate, timeout=CALL_TIMEOUT,
                                  watcher=watchers[0] if watchers else None)
        return Figures(
            offered_rate=data["offered_rate"], completed=data["completed"], failures=data["failures"],
            elapsed=data["elapsed"], peak_concurrent=data["peak_concurrent"],
            setup_latencies=data["setup_latencies"], load_cpu=data["cpu_seconds"],
            first_failure=data["first_failure"],
        )

    def wire(self) -> str:
        """What one call sends the server, as recorded."""
        sizes = [sum(sum(map(len, chunk.literals)) + 36 * len(chunk.slots) for chunk in chunks)
                 for chunks in (self.script.chunks, self.script.inbound)]
        return (f"wire  {sizes[0] / 1024:.1f} KB per call from FreeSWITCH on the call's socket, "
                f"{sizes[1] / 1024:.1f} KB to the watcher ({len(self.script.inbound)} frames)")


def redis_pid(rds: redis.Redis) -> int | None:
    """The Redis server's pid when it runs on this machine (its CPU time is then reported)."""
    try:
        pid = int(rds.info("server")["process_id"])
    except (redis.RedisError, KeyError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}/stat").exists() else None


@dataclasses.dataclass(frozen=True)
class Cost:
    """CPU seconds per completed call of each process in a run, and the run's length."""

    server: float
    load: float  # the load generator's: the simulator's or the replay's
    redis: float | None
    elapsed: float
    driver: str = "replay"

    def busy(self, per_call: float, calls: int) -> float:
        """The share of one core a process used during the run."""
        return per_call * calls / self.elapsed if self.elapsed else 0.0


def measured(name: str, pid: int, load: Load, options: Options, rds_pid: int | None = None) -> tuple[Figures, Cost]:
    """One measured run; prints rate, setup latency, peak concurrency, each side's CPU time per
    call (the server's bounds its rate on one core, whatever the load generator can offer) and
    which side was the busier: a side near 100% of a core is what limits the run."""
    load(min(500, options.calls), options.rate)  # warm-up
    before = (cpu_seconds(pid), cpu_seconds(rds_pid) if rds_pid else 0.0)
    result = load(options.calls, options.rate)
    after = (cpu_seconds(pid), cpu_seconds(rds_pid) if rds_pid else 0.0)
    calls = max(1, result.completed)
    cost = Cost(
        server=(after[0] - before[0]) / calls,
        load=(result.load_cpu or 0.0) / calls,
        redis=(after[1] - before[1]) / calls if rds_pid else None,
        elapsed=result.elapsed,
        driver=options.driver,
    )
    print(
        f"{name:<12} {result.completed:6d} calls {result.calls_per_second:6.0f} calls/s  "
        f"setup p50 {result.percentile(0.5) * 1000:7.2f} ms p99 {result.percentile(0.99) * 1000:8.2f} ms  "
        f"peak {result.peak_concurrent:5d}  failed {result.failures}  "
        f"cpu {cost.server * 1000:.2f} ms/call (= {1 / cost.server if cost.server else 0:.0f} calls/s per core)"
    )
    print(f"{'':<12} {busy_line(cost, result.completed)}")
    if result.first_failure:
        print(f"{'':<12} first failure: {result.first_failure}")
    return result, cost


def busy_line(cost: Cost, calls: int) -> str:
    """Each side's CPU per call and share of a core, and who limited the run."""
    sides = {"server": cost.server, cost.driver: cost.load}
    if cost.redis is not None:
        sides["redis"] = cost.redis
    shares = {side: cost.busy(per_call, calls) for side, per_call in sides.items()}
    parts = [f"{side} {per_call * 1000:.2f} ms/call ({shares[side]:.0%} of a core)" for side, per_call in sides.items()]
    busiest = max(shares, key=lambda side: shares[side])
    verdict = f"busiest: {busiest}" + (" (saturated: it limits this run)" if shares[busiest] > 0.9 else "")
    return "cpu  " + ", ".join(parts) + f"; {verdict}"


def open_sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # (closed while we look)
            count += os.readlink(fd).startswith("socket:")
    return count


def hold_memory(port: int, pid: int, calls: int) -> float:
    """Hold `calls` calls open at once (each in a long playback) and return the server's RSS
    growth per call, once every call is connected and the RSS has stopped growing."""
    before = rss_kib(pid)
    held = Scenario(destination=NUMBER, account_id=ACCOUNT, playback_seconds=600.0, answer_delay=0.0)
    jobs = [gevent.spawn(_quiet_call, port, held) for _ in range(calls)]
    deadline = time.monotonic() + 180
    last = -1
    while time.monotonic() < deadline:
        gevent.sleep(1.0)
        now = rss_kib(pid)
        if open_sockets(pid) >= calls and now == last:
            break
        last = now
    peak = rss_kib(pid)
    gevent.killall(jobs, block=True, timeout=30)
    return (peak - before) / calls


def _quiet_call(port: int, scenario: Scenario) -> None:
    with contextlib.suppress(OSError):
        run_call(("127.0.0.1", port), scenario, timeout=600)


def run(settings: Settings, rds: redis.Redis, options: Options) -> None:
    load_bundle(rds, BUNDLE, "benchmark bundle")
    how = "replayed (one simulator call recorded per server)" if options.driver == "replay" else "simulated"
    print(f"load: {options.calls} calls at {options.rate:.0f}/s, {how}: answer -> play -> bridge (no answer) -> hangup")
    load1, load5, _ = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load1:.2f} (1 min) {load5:.2f} (5 min) before the run")
    rds_pid = redis_pid(rds)
    inbound = InboundServer()  # the simulated FreeSWITCH's inbound event socket, which the controller watches
    inbound.start()
    try:
        with tempfile.TemporaryDirectory(prefix="controller-bench-") as workdir:
            curve = _servers(settings, options, rds_pid, inbound, Path(workdir))
    finally:
        inbound.stop()
    if options.chart and curve:
        draw(options.chart, curve)


def _servers(
    settings: Settings, options: Options, rds_pid: int | None, inbound: InboundServer, workdir: Path
) -> list[Figures]:
    """The three servers one after the other; the curve of the controller's setup latency."""

    def load_for(port: int, watched: InboundServer | None = None) -> Load:
        return Replayed(port, workdir, watched) if options.driver == "replay" else simulated(port, watched)

    def wire(load: Load) -> None:
        if isinstance(load, Replayed):
            print(f"{'':<12} {load.wire()}")

    port = free_port()
    with server_process(baseline_argv(port, floor=True), port, {}) as proc:
        load = load_for(port)
        measured("raw gevent", proc.pid, load, options, rds_pid)
        wire(load)
    port = free_port()
    with server_process(baseline_argv(port), port, {}) as proc:
        load = load_for(port)
        theirs, their_cost = measured("greenswitch", proc.pid, load, options, rds_pid)
        wire(load)
    port = free_port()
    argv, env = controller_argv(settings, port, inbound)
    curve = []
    with server_process(argv, port, env) as proc:
        wait_watching(inbound, proc)
        load = load_for(port, inbound)
        ours, our_cost = measured("controller", proc.pid, load, options, rds_pid)
        wire(load)
        their_cpu, our_cpu = their_cost.server, our_cost.server
        if theirs.calls_per_second:
            print(
                f"ratio        {ours.calls_per_second / theirs.calls_per_second:.2f}x the bare greenswitch rate, "
                f"{their_cpu / our_cpu if our_cpu else 0:.2f}x less CPU per call"
            )
        if options.chart:
            curve = [load(int(rate * 2), rate) for rate in options.rates]
        if options.hold:
            per_call = hold_memory(port, proc.pid, options.hold)
            print(f"memory       {per_call:.1f} KiB per concurrent call ({options.hold} calls held open)")
    return curve


def draw(path: Path, curve: list[Figures]) -> None:
    try:
        import matplotlib  # noqa: PLC0415  (optional: only for the chart)

        matplotlib.use("Agg")
        from matplotlib import pyplot  # noqa: PLC0415
    except ImportError:
        print("chart skipped: install matplotlib (pip install 'controller[lab]')")
        return
    figure, axes = pyplot.subplots(figsize=(7, 4))
    rates = [r.offered_rate for r in curve]
    axes.plot(rates, [r.percentile(0.5) * 1000 for r in curve], marker="o", label="p50")
    axes.plot(rates, [r.percentile(0.99) * 1000 for r in curve], marker="o", label="p99")
    axes.set_xlabel("offered load (calls/s)")
    axes.set_ylabel("call-setup latency (ms)")
    axes.set_title("controller: setup latency against load")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    print(f"chart        {path}")
