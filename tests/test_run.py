"""`controller run` as a user meets it: a subprocess on free ports with its private Redis, calls
placed with `controller lab call`, the emails found in the outbox; the data survives a restart."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.controller_run import ALERTED, Run, controller, end_leftovers, environment
from tests.office import ACCOUNT, bundle


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path)


@pytest.fixture
def running(env: dict[str, str], tmp_path: Path) -> Iterator[Run]:
    run = Run(env, tmp_path, tmp_path / "run.log").start()
    yield run
    run.close()
    assert not end_leftovers(tmp_path)


def test_missed_calls_become_emails_in_the_outbox(running: Run, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "office.json").write_text(json.dumps(bundle([ALERTED])))
    loaded = controller("flows", "load", "office.json", env=env, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    placed = controller("lab", "call", "--to", "+15554441111", "--scenario", "no-answer", "--count", "3",
                        "--rate", "20", "--time-scale", "0.01", "--account", ACCOUNT, env=env, cwd=tmp_path)
    assert placed.returncode == 0, placed.stderr
    assert "not answered                  3" in placed.stdout
    assert "missed_call                 3          3" in placed.stdout
    emails = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emails) == 3
    assert all(b"ann@office.test" in e.read_bytes() for e in emails)
    metrics = requests.get(running.api + "/metrics", timeout=5).text  # the sum of the three roles' metrics
    for line in ("controller_missed_call_alerts_total 3.0", 'controller_jobs_enqueued_total{type="missed_call"} 3.0',
                 "controller_queue_depth 0.0", "controller_calls_active 0.0",
                 'controller_calls_total{outcome="missed"} 3.0', 'controller_jobs_delivered_total{medium="email"} 3.0',
                 "controller_smtp_seconds_count 3.0"):
        assert line in metrics, line
    esl_writes = re.search(r"^controller_esl_command_seconds_count (\S+)$", metrics, re.M)
    assert esl_writes is not None and float(esl_writes.group(1)) >= 3  # at least one write per call
    assert 'controller_calls_total{outcome="refused"} 0.0' in metrics
    status, health = running.health()
    assert status == 200 and health["checks"]["redis"] == "ok"
    assert health["checks"]["roles"] == {"redis": "up", "serve": "up", "api": "up", "mailer": "up"}
    assert running.stop() == 0
    again = Run(env, tmp_path, tmp_path / "again.log").start()  # the private Redis kept everything
    try:
        matched = controller("flows", "match", "+15554441111", "--account", ACCOUNT, env=env, cwd=tmp_path)
        assert matched.returncode == 0 and "cf-plus15554441111" in matched.stdout
    finally:
        assert again.stop() == 0
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()


def test_a_second_run_on_the_same_data_is_refused(running: Run, env: dict[str, str], tmp_path: Path) -> None:
    other = environment(tmp_path)
    other["CONTROLLER_DATA_DIR"] = env["CONTROLLER_DATA_DIR"]
    second = controller("run", env=other, cwd=tmp_path, timeout=30)
    assert second.returncode == 1
    assert f"another `controller run` (pid {running.process.pid if running.process else 0}) is running" in second.stderr
    assert second.stdout == "" and second.stderr.count("\n") == 1
    assert running.health()[0] == 200  # the first one never noticed


def test_commands_started_in_another_directory_find_the_run_and_its_private_redis(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = environment(tmp_path)
    for name in ("CONTROLLER_CONFIG", "CONTROLLER_DATA_DIR", "CONTROLLER_OUTBOX_DIR"):
        del env[name]  # the defaults, as after ./conf/run: data and outbox in the run's var/
    (tmp_path / "office.json").write_text(json.dumps(bundle([ALERTED])))
    run = Run(env, home, tmp_path / "run.log").start()
    try:
        loaded = controller("flows", "load", str(tmp_path / "office.json"), env=env, cwd=elsewhere)
        assert loaded.returncode == 0, loaded.stderr
        placed = controller("lab", "call", "--to", "+15554441111", "--time-scale", "0.01", "--account", ACCOUNT,
                            env=env, cwd=elsewhere)
        assert placed.returncode == 0, placed.stderr
        assert f"mail: {home / 'var' / 'outbox'}/*.eml" in placed.stdout
        assert len(list((home / "var" / "outbox").glob("*.eml"))) == 1
        assert not (elsewhere / "var").exists()
    finally:
        assert run.stop() == 0
    alone = controller("jobs", "stats", env=env, cwd=elsewhere)
    assert alone.returncode == 1
    assert "no `controller run` is running" in alone.stderr and str(tmp_path / "state") in alone.stderr
    assert "CONTROLLER_REDIS_URL" in alone.stderr
