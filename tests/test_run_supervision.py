"""`controller run` supervising its roles as processes, through real processes: a role killed or
frozen is restarted while calls and mail go on, `/healthz` names a role while it is down, SIGTERM
stops the roles in order, a killed run leaves nothing behind, and a Redis left by one is replaced."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from controller.localredis import LocalRedis
from tests.controller_run import ALERTED, Run, controller, end_leftovers, environment, leftovers, wait_until
from tests.office import ACCOUNT, bundle


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path)


@pytest.fixture
def run(env: dict[str, str], tmp_path: Path) -> Iterator[Run]:
    """A run not yet started, with the office loaded once it is; nothing of it left after the test."""
    (tmp_path / "office.json").write_text(json.dumps(bundle([ALERTED])))
    started = Run(env, tmp_path, tmp_path / "run.log")
    yield started
    started.close()
    assert not end_leftovers(tmp_path)


def load_office(run: Run) -> None:
    loaded = controller("flows", "load", "office.json", env=run.env, cwd=run.cwd)
    assert loaded.returncode == 0, loaded.stderr


def place_missed_call(run: Run) -> None:
    placed = controller("lab", "call", "--to", "+15554441111", "--scenario", "no-answer", "--count", "1",
                        "--time-scale", "0.01", "--account", ACCOUNT, env=run.env, cwd=run.cwd)
    assert placed.returncode == 0, placed.stderr
    assert "not answered                  1" in placed.stdout, placed.stdout


def emails(run: Run) -> int:
    return len(list((run.cwd / "outbox").glob("*.eml")))


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit waits for whoever reaps orphans here)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def degraded_naming(run: Run, role: str) -> dict[str, str] | None:
    """The roles check of /healthz while it is 503 and names `role` (None otherwise)."""
    try:
        status, health = run.health()
    except requests.RequestException:
        return None
    roles = health["checks"].get("roles", {})
    return roles if status == 503 and roles.get(role, "up") != "up" else None


@pytest.mark.timeout(120)
def test_each_role_killed_in_turn_is_restarted_and_calls_still_become_emails(run: Run) -> None:
    run.start()
    load_office(run)
    for sent, role in enumerate(("serve", "mailer", "api", "redis"), start=1):
        old = run.pid(role)
        os.kill(old, signal.SIGKILL)
        if role in ("serve", "mailer"):  # /healthz (the API) says so while it is down or restarting
            roles = wait_until(lambda r=role: degraded_naming(run, r), 10, f"/healthz naming {role}", step=0.02)
            assert re.match(r"(down: exited: killed by SIGKILL; restarting|starting)$", roles[role]), roles
        new = run.wait_up(role, not_pid=old)
        wait_until(lambda: run.health()[0] == 200, 20, "/healthz 200 again")
        place_missed_call(run)
        wait_until(lambda n=sent: emails(run) == n, 20, f"email {sent}, after {role} was killed")
        assert f"{role} (pid {old}) exited: killed by SIGKILL" in run.text
        assert f"restarting {role} in 0.5 s (1 of 5 restarts allowed in 60 s)" in run.text
        assert f"{role} started (pid {new})" in run.text
    assert run.stop() == 0


@pytest.mark.timeout(90)
def test_a_frozen_api_is_killed_and_restarted_and_calls_do_not_wait_for_it(run: Run) -> None:
    run.env["CONTROLLER_LIVENESS_SECONDS"] = "1"
    run.start()
    load_office(run)
    api = run.pid("api")
    os.kill(api, signal.SIGSTOP)  # as a CPU-bound request would stall it: no answer to anything
    try:
        place_missed_call(run)
        wait_until(lambda: emails(run) == 1, 20, "the email of a call placed while the API is frozen")
        new = run.wait_up("api", not_pid=api)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(api, signal.SIGCONT)  # lets a live one go on (a killed one is gone)
    assert re.search(rf"api \(pid {api}\) stopped answering its liveness check for [\d.]+ s; killed", run.text)
    assert run.health()[0] == 200 and new != api
    assert run.stop() == 0


@pytest.mark.timeout(90)
def test_sigterm_stops_the_roles_in_order_and_a_call_in_progress_still_sends_its_email(run: Run) -> None:
    run.start()
    load_office(run)
    call = subprocess.Popen(
        [sys.executable, "-m", "controller", "lab", "call", "--to", "+15554441111", "--scenario", "no-answer",
         "--count", "1", "--time-scale", "0.1", "--account", ACCOUNT],
        env=run.env, cwd=run.cwd, stdout=subprocess.PIPE, text=True)
    metrics = run.api + "/metrics"
    wait_until(lambda: "controller_calls_active 1.0" in requests.get(metrics, timeout=5).text, 20, "the call to ring")
    assert run.stop() == 0  # while the call rings: it ends, its email goes out, then everything stops
    # (`lab call` may print nothing: it reads its summary from the run's Redis, stopped last)
    call.communicate(timeout=30)
    assert emails(run) == 1
    stops = re.findall(r"stopping (\w+) \(pid|(\w+) \(pid \d+\) stopped: exit status (\d+)", run.text)
    assert [s[0] or f"{s[1]}:{s[2]}" for s in stops] == [
        "serve", "serve:0", "api", "api:0", "mailer", "mailer:0", "redis", "redis:0"]


@pytest.mark.timeout(90)
def test_a_killed_run_leaves_no_process_and_the_next_one_starts_on_the_same_data(run: Run) -> None:
    run.start()
    load_office(run)
    children = [run.pid(role) for role in ("redis", "serve", "api", "mailer")]
    run.kill()  # SIGKILL: no chance to stop anything
    wait_until(lambda: not leftovers(run.cwd), 20, "every child of the killed run to end")
    assert not any(is_running(pid) for pid in children)
    again = Run(run.env, run.cwd, run.cwd / "again.log").start()
    place_missed_call(again)
    wait_until(lambda: emails(again) == 1, 20, "the email")
    assert "killed run" not in again.text  # nothing was left to take over
    assert again.stop() == 0


@pytest.mark.timeout(90)
def test_a_redis_left_by_a_killed_run_is_stopped_and_replaced_with_one_line(run: Run) -> None:
    local = LocalRedis(Path(run.env["CONTROLLER_DATA_DIR"]) / "redis")
    left = local.spawn()  # as a run killed where no parent-death signal exists would leave it
    try:
        wait_until(lambda: local.answers(1.0), 10, "the leftover Redis")
        run.start()
        assert left.wait(timeout=10) == 0  # stopped with SIGTERM: it saved and exited
    finally:
        if left.poll() is None:
            left.kill()
            left.wait()
    lines = [line for line in run.text.splitlines() if "left by a killed run" in line]
    assert len(lines) == 1 and f"stopped the private redis-server (pid {left.pid})" in lines[0]
    assert run.pid("redis") != left.pid
    load_office(run)
    place_missed_call(run)
    wait_until(lambda: emails(run) == 1, 20, "the email")
    assert run.stop() == 0


@pytest.mark.timeout(60)
def test_a_role_that_cannot_start_ends_the_run_with_one_line(run: Run) -> None:
    host, port = run.env["CONTROLLER_API_LISTEN"].split(":")
    with socket.socket() as taken:
        taken.bind((host, int(port)))
        taken.listen()
        run.start(announced=False)
        assert run.process is not None and run.process.wait(timeout=45) == 1
    lines = [line for line in run.text.splitlines() if line.startswith("controller:")]
    assert lines[-1] == "controller: api exited: exit status 1 before it ever answered; every role stopped"
    assert "Address already in use" in lines[0]  # the role's own word on it, before
    assert len(lines) == 2
