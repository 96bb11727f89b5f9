"""Shared fixtures: a real redis-server on a free loopback port for the whole run, flushed around
each test. gevent's monkey patching comes first, as in every process entry point.

Every process the run starts carries SESSION_MARK in its environment (or works under the run's
temporary folders); when the run ends, none may be left (`no_process_left`). Nothing writes to the
user's state directory: XDG_STATE_HOME is a folder of the run's own."""

from gevent import monkey

monkey.patch_all()

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.executor import Executor
from controller.modules import REGISTRY
from controller.services import Services
from controller.store.connection import connect

SESSION_MARK = f"TESTS_SESSION_MARK={uuid.uuid4().hex}"
os.environ["TESTS_SESSION_MARK"] = SESSION_MARK.partition("=")[2]
STATE_HOME = tempfile.mkdtemp(prefix="controller-test-state-")
os.environ["XDG_STATE_HOME"] = STATE_HOME


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (conf/bootstrap.sh installs it)")
    workdir = tempfile.mkdtemp(prefix="redis-test-")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    client.close()
    yield url
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def rds(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> config.Settings:
    """Settings for an in-process controller on free loopback ports and the test Redis; the
    voicemail, fax and recordings folders are the test's own (the simulator makes and writes
    them there, as FreeSWITCH would: never in the machine's /var/lib/freeswitch)."""
    return config.load(
        {
            "CONTROLLER_CONFIG": str(Path(__file__).parent / "controller-test.toml"),
            "CONTROLLER_REDIS_URL": redis_url,
            "CONTROLLER_VOICEMAIL_DIR": str(tmp_path / "voicemail"),
            "CONTROLLER_FAX_DIR": str(tmp_path / "fax"),
            "CONTROLLER_RECORDINGS_DIR": str(tmp_path / "recordings"),
            "CONTROLLER_DATA_DIR": str(tmp_path / "var"),
            "CONTROLLER_ESL_LISTEN": "127.0.0.1:0",
            "CONTROLLER_API_LISTEN": "127.0.0.1:0",
        }
    )


@pytest.fixture
def services(settings: config.Settings, rds: redis.Redis) -> Iterator[Services]:
    built = Services.build(settings, connect(settings))
    yield built
    built.rds.connection_pool.disconnect()


@pytest.fixture
def esl_server(services: Services) -> Iterator[OutboundServer]:
    """The real outbound ESL server with the real modules, listening on a free port."""
    server = OutboundServer(services.settings, CallLifecycle(services, Executor(REGISTRY)))
    server.start()
    yield server
    server.stop(drain_seconds=2)


# The real-FreeSWITCH suite (tests/test_freeswitch_*.py): its fixtures, and one line saying so
# when it cannot run here.
from tests.freeswitch_harness import freeswitch, fs, missing_reason, sipp  # noqa: F401


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Once, at the end of any run (quiet ones too), how many real-FreeSWITCH tests were
    skipped and why."""
    reason = missing_reason()
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "freeswitch" in getattr(r, "keywords", {})]
    if reason is not None and skipped:
        terminalreporter.write_line(f"{len(skipped)} real-FreeSWITCH tests skipped: {reason}", yellow=True)


def _ancestors() -> set[int]:
    found, pid = set(), os.getpid()
    while pid > 1:
        found.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def session_processes(folders: list[Path]) -> list[str]:
    """Processes of this test run still alive: those with the run's mark in their environment, or
    working in or named after one of its folders (a redis-server overwrites its environment with
    its title, but keeps its --dir as working directory)."""
    mine, found = _ancestors(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            if not command:  # a zombie, or a kernel thread
                continue
            where = os.readlink(entry / "cwd") if os.access(entry / "cwd", os.R_OK) else ""
            marked = SESSION_MARK.encode() in (entry / "environ").read_bytes()
            if marked or any(f"{f}/" in f"{command} " or f"{f} " in f"{command} " or f"{where}/".startswith(f"{f}/")
                             for f in folders):
                found.append(f"{entry.name} {command[:160]}")
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the last test (this fixture is torn down after every other one), nothing the run
    started may still run: what does after 15 s is killed, and the run fails naming it."""
    yield
    folders = [tmp_path_factory.getbasetemp(), Path(STATE_HOME)]
    deadline = time.monotonic() + 15
    while session_processes(folders) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = session_processes(folders)
    for line in left:
        with contextlib.suppress(OSError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    shutil.rmtree(STATE_HOME, ignore_errors=True)
    assert not left, "processes left running by the test run: " + "; ".join(left)
