"""The supervisor's policy with small real child processes (a Python that sleeps): restarts within
a budget, a silent child killed, a child that never starts, the order of a stop; and the pieces
`controller run` builds on it: the run's lock, the roles' sockets and state file, summed metrics."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gevent
import pytest
import redis

from controller import children
from controller.api.ops import OpsApp
from controller.metrics import Metrics, summed
from controller.roles import ChildState, Peers, RoleSocket, ask, socket_path, write_states
from controller.runlock import RunLock, RunLockError
from controller.supervisor import Policy, Supervisor

QUICK = Policy(intensity=3, period=60.0, liveness=0.4, start_seconds=2.0, backoff=0.01, backoff_max=0.02)


class Sleeper:
    """A child that lives `life` seconds (an hour when None), ends on SIGTERM, and answers while
    `answering` is set and it runs."""

    def __init__(self, name: str, life: float | None = None) -> None:
        self.name = name
        self.stop_seconds = 5.0
        self.life = life
        self.answering = True
        self.spawned: list[subprocess.Popen[bytes]] = []

    def spawn(self) -> subprocess.Popen[bytes]:
        code = ("import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); "
                f"time.sleep({self.life or 3600})")
        process = children.spawn([sys.executable, "-S", "-c", code])
        self.spawned.append(process)
        return process

    def answers(self, timeout: float) -> bool:
        return self.answering and self.spawned[-1].poll() is None


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        gevent.sleep(0.02)


@pytest.mark.timeout(30)
def test_a_child_that_keeps_exiting_is_restarted_until_its_budget_is_spent(tmp_path: Path) -> None:
    child = Sleeper("brief", life=0.2)
    supervisor = Supervisor([[child]], tmp_path, QUICK)
    assert supervisor.start()
    supervisor.wait()
    supervisor.stop()
    assert supervisor.failure == "brief exited: exit status 0; 4 restarts in 60 s: giving up"
    assert len(child.spawned) == 4  # the first start and the 3 restarts the budget allows


@pytest.mark.timeout(30)
def test_a_child_that_stops_answering_is_killed_and_started_again(tmp_path: Path) -> None:
    child = Sleeper("quiet")
    supervisor = Supervisor([[child]], tmp_path, QUICK)
    assert supervisor.start()
    child.answering = False
    wait_until(lambda: len(child.spawned) == 2)
    assert child.spawned[0].wait(5) == -signal.SIGKILL
    child.answering = True
    wait_until(lambda: json.loads((tmp_path / "roles.json").read_text())["quiet"]["state"] == "up")
    state = json.loads((tmp_path / "roles.json").read_text())["quiet"]
    assert state["pid"] == child.spawned[1].pid and state["restarts"] == 1
    supervisor.stop()
    assert child.spawned[1].wait(5) == 0  # stopped with SIGTERM


@pytest.mark.timeout(30)
def test_a_child_that_never_answers_fails_the_start(tmp_path: Path) -> None:
    child = Sleeper("mute")
    child.answering = False
    supervisor = Supervisor([[child]], tmp_path, QUICK)
    assert not supervisor.start()
    supervisor.stop()
    assert supervisor.failure is not None
    assert supervisor.failure.startswith("mute did not answer for 2.")
    assert supervisor.failure.endswith(" s; killed before it ever answered")
    assert len(child.spawned) == 1 and child.spawned[0].poll() == -signal.SIGKILL


@pytest.mark.timeout(30)
def test_children_stop_last_tier_first_each_tier_in_its_order(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, serve, api = Sleeper("store"), Sleeper("serve"), Sleeper("api")
    supervisor = Supervisor([[store], [serve, api]], tmp_path, QUICK)
    caplog.set_level(logging.INFO, "controller.supervisor")
    assert supervisor.start()
    assert [c.spawned[0].poll() for c in (store, serve, api)] == [None, None, None]
    supervisor.stop()
    stops = [r.getMessage().split()[1] for r in caplog.records if r.getMessage().startswith("stopping ")]
    assert stops == ["serve", "api", "store"]
    assert supervisor.failure is None


@pytest.mark.timeout(30)
def test_the_run_lock_is_refused_while_a_live_run_holds_it(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path / "run.lock", "controller", "run")  # its command line: a `controller run`
    try:
        with pytest.raises(RunLockError, match=rf"another `controller run` \(pid {holder.pid}\) is running"):
            RunLock(tmp_path / "run.lock").acquire(wait=5)
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path / "run.lock") as lock:  # free once the holder is gone, however it ended
        lock.acquire(wait=0)
        assert (tmp_path / "run.lock").read_text() == f"{os.getpid()}\n"


@pytest.mark.timeout(30)
def test_the_run_lock_waits_for_the_roles_of_a_killed_run(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path / "run.lock", "serve", seconds=1.0, pid=dead_pid())
    started = time.monotonic()
    lock = RunLock(tmp_path / "run.lock")
    lock.acquire(wait=20)
    lock.release()
    assert time.monotonic() - started >= 0.5 and holder.wait(5) == 0
    holder = hold_lock(tmp_path / "run.lock", "serve", seconds=30, pid=dead_pid())
    try:
        with pytest.raises(RunLockError, match="the roles of a killed `controller run`"):
            RunLock(tmp_path / "run.lock").acquire(wait=0.3)
    finally:
        holder.kill()
        holder.wait()


def hold_lock(path: Path, *words: str, seconds: float = 30, pid: int | None = None) -> subprocess.Popen[bytes]:
    """A process holding the lock on `path` for `seconds`, with `pid` (its own by default) written
    in it and `words` in its command line; returns once it holds it."""
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0); "
            "os.write(fd, (sys.argv[2] if sys.argv[2] != '-' else str(os.getpid())).encode()); "
            "print('held', flush=True); time.sleep(float(sys.argv[3]))")
    process = subprocess.Popen([sys.executable, "-c", code, str(path), str(pid or "-"), str(seconds), *words],
                               stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b"held\n"
    return process


def dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_metrics_of_several_processes_are_summed() -> None:
    serve, mailer = Metrics(), Metrics()
    serve.calls.labels("missed").inc(2)
    serve.esl_command_seconds.observe(0.003)
    serve.count_calls_active(lambda: 4)
    mailer.calls.labels("missed").inc(1)
    mailer.jobs_delivered.labels("email").inc(5)
    text = summed([serve.exposition(), mailer.exposition()]).decode()
    assert 'controller_calls_total{outcome="missed"} 3.0' in text
    assert 'controller_jobs_delivered_total{medium="email"} 5.0' in text
    assert "controller_calls_active 4.0" in text
    assert 'controller_esl_command_seconds_bucket{le="0.005"} 1.0' in text
    assert "controller_esl_command_seconds_count 1.0" in text
    assert text.count("# TYPE controller_calls_total counter") == 1


@pytest.mark.timeout(30)
def test_healthz_names_a_role_that_is_down_and_metrics_cover_every_role(tmp_path: Path, rds: redis.Redis) -> None:
    serve = Metrics()
    serve.calls.labels("answered").inc(7)
    answering = RoleSocket(socket_path(tmp_path, "serve"), {
        "metrics": serve.exposition, "freeswitch": lambda: b'{"esl://127.0.0.1:8021": true}'})
    answering.start()
    try:
        write_states(tmp_path, {"serve": ChildState("up", 11), "mailer": ChildState("down", None, 2, "exited: killed")})
        peers = Peers(tmp_path, ["esl://127.0.0.1:8021"])
        app = OpsApp(lambda environ, start: [b"api"], rds, Metrics(), peers.freeswitch, peers=peers)
        status, body = call(app, "/healthz")
        checks = json.loads(body)["checks"]
        assert status.startswith("503") and checks["roles"] == {"serve": "up", "mailer": "down: exited: killed"}
        assert checks["freeswitch"] == {"esl://127.0.0.1:8021": "connected"}
        assert 'controller_calls_total{outcome="answered"} 7.0' in call(app, "/metrics")[1].decode()
        write_states(tmp_path, {"serve": ChildState("up", 11), "mailer": ChildState("up", 12)})
        assert call(app, "/healthz")[0] == "200 OK"
        assert ask(socket_path(tmp_path, "serve"), "health") == b"ok"
        assert ask(socket_path(tmp_path, "serve"), "no such question") == b""
    finally:
        answering.stop()
    assert Peers(tmp_path, ["esl://127.0.0.1:8021"]).freeswitch() == {"esl://127.0.0.1:8021": False}


def call(app: OpsApp, path: str) -> tuple[str, bytes]:
    replies: list[str] = []
    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, lambda status, headers: replies.append(status)))
    return replies[0], body
