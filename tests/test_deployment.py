"""What a PBX needs to share one box with FreeSWITCH (docs/deployment.md), as systemd and the
provisioning script read it: FreeSWITCH's limits under load, the controller's open files, and one
CPU policy in which the call path (the ESL server and its Redis) runs level with FreeSWITCH's call
threads while the API and the mail sender stay under the normal scheduler."""

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller import scheduling
from controller.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "conf" / "systemd"
PROVISION = ROOT / "vagrant" / "provision.sh"
DROP_INS = {"freeswitch.service": SYSTEMD / "freeswitch.service.d" / "controller.conf",
            "redis-server.service": SYSTEMD / "redis-server.service.d" / "controller.conf"}
CALL_PATH = ("controller.service", "controller-serve.service")  # the units that run the ESL server
OFF_CALL_PATH = ("controller-mailer.service", "controller-api.service")
# FreeSWITCH's priorities when it sets them itself (set_auto_priority, as with -rp): each call's
# session thread SCHED_FIFO 1 (SWITCH_PRI_LOW), its SIP stack, event dispatcher and timer 99.
FREESWITCH_CALL_THREADS = 1
FREESWITCH_CORE_THREADS = 99
UPSTREAM_LIMITS = {"LimitNOFILE": 100000, "LimitNPROC": 60000}  # signalwire/freeswitch debian/ unit
INFINITY = "infinity"


def service(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser["Service"]


def limit(value: str) -> float:
    return float("inf") if value == INFINITY else float(value)


def test_every_drop_in_is_a_service_section_for_a_unit_the_box_runs() -> None:
    found = {path.parent.name.removesuffix(".d"): path for path in SYSTEMD.glob("*.service.d/*.conf")}
    assert found == DROP_INS
    for path in found.values():
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(path.read_text())
        assert parser.sections() == ["Service"]


def test_freeswitch_gets_at_least_its_upstream_limits_for_files_and_threads() -> None:
    freeswitch = service(DROP_INS["freeswitch.service"])
    for key, upstream in UPSTREAM_LIMITS.items():
        assert limit(freeswitch[key]) >= upstream, key
    # systemd's own task cap must not undercut the thread limit
    assert limit(freeswitch["TasksMax"]) >= limit(freeswitch["LimitNPROC"])
    assert limit(freeswitch["LimitCORE"]) == float("inf")


def test_freeswitch_threads_get_a_small_default_stack_not_8_mib() -> None:
    stack = limit(service(DROP_INS["freeswitch.service"])["LimitSTACK"])
    assert 240 * 1024 <= stack < 1024 * 1024  # FreeSWITCH's SWITCH_THREAD_STACKSIZE is 240 KiB


def test_freeswitch_may_set_its_own_real_time_priority_and_keeps_it() -> None:
    freeswitch = service(DROP_INS["freeswitch.service"])
    assert freeswitch["LimitRTPRIO"] == INFINITY  # up to 99, as it asks for its core threads
    assert freeswitch["LimitRTTIME"] == INFINITY  # never killed for running long at that priority
    assert "CPUSchedulingPolicy" not in freeswitch  # its own choice, made at start, is the policy
    assert "ExecStart" not in freeswitch  # so no -np / -lp that would drop it


@pytest.mark.parametrize("name", CALL_PATH)
def test_the_call_path_runs_level_with_freeswitchs_call_threads(name: str) -> None:
    unit = service(SYSTEMD / name)
    assert unit["CPUSchedulingPolicy"] == "rr"  # round robin: a busy loop still yields its turn
    assert int(unit["CPUSchedulingPriority"]) == FREESWITCH_CALL_THREADS < FREESWITCH_CORE_THREADS
    assert "LimitRTTIME" not in unit  # a busy ESL server must not be killed for it


def test_the_redis_of_the_call_path_runs_with_it_and_its_snapshots_do_not() -> None:
    redis = service(DROP_INS["redis-server.service"])
    serve = service(SYSTEMD / "controller-serve.service")
    assert (redis["CPUSchedulingPolicy"], redis["CPUSchedulingPriority"]) == (
        serve["CPUSchedulingPolicy"], serve["CPUSchedulingPriority"])
    assert redis["CPUSchedulingResetOnFork"] == "yes"


@pytest.mark.parametrize("name", OFF_CALL_PATH)
def test_the_api_and_the_mail_sender_stay_under_the_normal_scheduler(name: str) -> None:
    unit = service(SYSTEMD / name)
    assert unit["CPUSchedulingPolicy"] == "other"
    assert "CPUSchedulingPriority" not in unit


@pytest.mark.parametrize("name", CALL_PATH + OFF_CALL_PATH)
def test_every_controller_unit_allows_a_socket_per_call_and_no_cpu_weights(name: str) -> None:
    unit = service(SYSTEMD / name)
    assert limit(unit["LimitNOFILE"]) >= 2 * Settings().max_calls
    # weights and quotas apply to the normal scheduler only: they would not touch FreeSWITCH's
    # real-time threads, and they would cap the call path
    assert not {"CPUWeight", "CPUQuota", "CPUShares", "Nice"} & set(unit)


# --- the provisioning script ---------------------------------------------------------------------


def provision(tmp_path: Path, *steps: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The provisioning script's functions, sourced, run against `tmp_path` as systemd's folder
    with systemctl recorded instead of run."""
    calls = tmp_path / "systemctl.log"
    script = "\n".join([
        f"source {PROVISION}",
        f"SRC={ROOT}", f"SYSTEMD_DIR={tmp_path / 'system'}",
        f'systemctl() {{ echo "$*" >>{calls}; }}',
        "mkdir -p \"$SYSTEMD_DIR\"",
        *steps,
    ])
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                            timeout=30, check=False)
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_provisioning_installs_the_units_and_drop_ins_where_systemd_reads_them(tmp_path: Path) -> None:
    steps = ["install_units", *(f"install_dropin {unit}" for unit in DROP_INS)]
    result, calls = provision(tmp_path, *steps)
    assert result.returncode == 0, result.stderr
    system = tmp_path / "system"
    for path in SYSTEMD.glob("*.service"):
        assert (system / path.name).read_text() == path.read_text()
    for unit, path in DROP_INS.items():
        assert (system / f"{unit}.d" / "controller.conf").read_text() == path.read_text()
    assert calls == ["daemon-reload"] * len(steps)


def test_provisioning_tells_an_installed_drop_in_from_a_changed_one(tmp_path: Path) -> None:
    target = tmp_path / "system" / "redis-server.service.d" / "controller.conf"
    result, _ = provision(tmp_path, "dropin_differs redis-server.service && echo before",
                          "install_dropin redis-server.service",
                          "dropin_differs redis-server.service || echo after",
                          f"echo '# edited' >>{target}",
                          "dropin_differs redis-server.service && echo edited")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["before", "after", "edited"]


# (function of the script, what it installs, what restarts the service so that it reads it)
RESTARTS = [
    ("install_packages", "install_dropin redis-server.service", "systemctl restart redis-server.service"),
    ("configure_freeswitch", "install_dropin freeswitch.service", "start_freeswitch"),
    ("configure_controller", "install_units", "start_controller"),
]


@pytest.mark.parametrize(("step", "call", "restart"), RESTARTS)
def test_provisioning_installs_each_before_its_service_restarts(
    tmp_path: Path, step: str, call: str, restart: str
) -> None:
    result, _ = provision(tmp_path, f"declare -f {step}", "declare -f main")
    assert result.returncode == 0, result.stderr
    body, main = result.stdout.split("\nmain ()", 1)
    assert call in body
    if restart in body:
        assert body.index(call) < body.index(restart)
    else:
        assert main.index(step) < main.index(restart)


# --- the roles that leave real-time --------------------------------------------------------------


def can_go_realtime() -> bool:
    try:
        subprocess.run(["chrt", "--rr", "1", "true"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


needs_realtime = pytest.mark.skipif(not can_go_realtime(), reason="no permission for real-time scheduling here")

LEAVE = """
import os, threading
from controller import scheduling
started = threading.Event()
thread = threading.Thread(target=lambda: (started.set(), threading.Event().wait(5)), daemon=True)
thread.start(); started.wait()
before = [scheduling.is_realtime(0), scheduling.is_realtime(thread.native_id)]
moved = scheduling.leave_realtime("test")
after = [scheduling.is_realtime(0), scheduling.is_realtime(thread.native_id)]
print(before, moved, after, scheduling.leave_realtime("test"))
"""


@needs_realtime
def test_leaving_real_time_moves_every_thread_of_the_process() -> None:
    result = subprocess.run(["chrt", "--rr", "1", sys.executable, "-c", LEAVE], capture_output=True, text=True,
                            timeout=30, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "[True, True] True [False, False] False"


def test_a_process_under_the_normal_scheduler_is_left_as_it_is() -> None:
    assert not scheduling.is_realtime()
    assert scheduling.leave_realtime("test") is False
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


@needs_realtime
def test_the_mail_sender_started_at_real_time_priority_leaves_it(redis_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "CONTROLLER_REDIS_URL": redis_url, "CONTROLLER_OUTBOX_DIR": str(tmp_path),
           "CONTROLLER_DATA_DIR": str(tmp_path), "CONTROLLER_LOG_LEVEL": "INFO"}
    result = subprocess.run(["chrt", "--rr", "1", sys.executable, "-m", "controller", "mailer", "--burst"],
                            capture_output=True, text=True, timeout=60, check=False, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "mailer: runs under the normal scheduler" in result.stderr
