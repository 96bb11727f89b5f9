"""`controller run` as a user meets it: a subprocess on free ports with its private Redis, calls
placed with `controller lab call`, the emails found in the outbox; the data survives a restart."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.office import ACCOUNT, bundle, flow, node

RING_ANN = node("user", {"id": "u-ann", "timeout": 20}, _=node("voicemail", {"id": "vm-ann"}))
ALERTED = flow("+15554441111", node("missed_call_alert", {"recipients": [{"type": "user", "id": "u-ann"}]}, _=RING_ANN))


def controller(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
    env.update({
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{free_port()}",
        "CONTROLLER_API_LISTEN": f"127.0.0.1:{free_port()}",
        "CONTROLLER_DATA_DIR": str(tmp_path / "var"),
        "CONTROLLER_OUTBOX_DIR": str(tmp_path / "outbox"),
        "CONTROLLER_LINGER_SECONDS": "1",
        "CONTROLLER_DRAIN_SECONDS": "5",
    })
    return env


def start(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "controller", "run"], env=env, cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("controller: mail:"):
            return process
        assert line or process.poll() is None, "controller run exited early"
    raise AssertionError("controller run did not announce itself")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


@pytest.fixture
def running(environment: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = start(environment, tmp_path)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_missed_calls_become_emails_in_the_outbox(running: subprocess.Popen[str], environment: dict[str, str],
                                                  tmp_path: Path) -> None:
    (tmp_path / "office.json").write_text(json.dumps(bundle([ALERTED])))
    loaded = controller("flows", "load", "office.json", env=environment, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    placed = controller("lab", "call", "--to", "+15554441111", "--scenario", "no-answer", "--count", "3",
                        "--rate", "20", "--time-scale", "0.01", "--account", ACCOUNT, env=environment, cwd=tmp_path)
    assert placed.returncode == 0, placed.stderr
    assert "not answered                  3" in placed.stdout
    assert "missed_call                 3          3" in placed.stdout
    emails = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emails) == 3
    assert all(b"ann@office.test" in e.read_bytes() for e in emails)
    api = "http://" + environment["CONTROLLER_API_LISTEN"]
    metrics = requests.get(api + "/metrics", timeout=5).text
    for line in ("controller_missed_call_alerts_total 3.0", 'controller_jobs_enqueued_total{type="missed_call"} 3.0',
                 "controller_queue_depth 0.0", "controller_calls_active 0.0",
                 'controller_calls_total{outcome="missed"} 3.0', 'controller_jobs_delivered_total{medium="email"} 3.0',
                 "controller_smtp_seconds_count 3.0"):
        assert line in metrics, line
    esl_writes = re.search(r"^controller_esl_command_seconds_count (\S+)$", metrics, re.M)
    assert esl_writes is not None and float(esl_writes.group(1)) >= 3  # at least one write per call
    assert 'controller_calls_total{outcome="refused"} 0.0' in metrics
    health = requests.get(api + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["checks"]["redis"] == "ok"
    stop(running)
    again = start(environment, tmp_path)  # the private Redis kept everything
    try:
        matched = controller("flows", "match", "+15554441111", "--account", ACCOUNT, env=environment, cwd=tmp_path)
        assert matched.returncode == 0 and "cf-plus15554441111" in matched.stdout
    finally:
        stop(again)
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()


def test_a_second_run_on_the_same_data_is_refused(running: subprocess.Popen[str], environment: dict[str, str],
                                                  tmp_path: Path) -> None:
    other = dict(environment, CONTROLLER_ESL_LISTEN=f"127.0.0.1:{free_port()}",
                 CONTROLLER_API_LISTEN=f"127.0.0.1:{free_port()}")
    second = controller("run", env=other, cwd=tmp_path, timeout=30)
    assert second.returncode == 1
    assert "already serves" in second.stdout
