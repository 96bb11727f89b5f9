"""A real FreeSWITCH and SIPp for the end-to-end tests.

One FreeSWITCH per pytest session, started by the first test that asks for the `freeswitch`
fixture, configured from this project's own files as a lab box is (controller/lab/freeswitch.py:
the vanilla tree, conf/freeswitch over it, free loopback ports), logging at debug. SIPp callers
and phones per test, on free loopback ports, traced into the test's folder.

Binary: `CONTROLLER_TEST_FREESWITCH`, else /opt/freeswitch/bin/freeswitch. Without one the tests
that need it skip, unless `CONTROLLER_REQUIRE_FREESWITCH=1` (CI), where they fail.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.lab.freeswitch import ROOT, FreeSwitch, Ports, binary_path, free_port, missing_reason

__all__ = ["ROOT", "FreeSwitch", "Sipp", "SippRun", "freeswitch", "fs", "is_required", "missing_reason", "sipp"]
PROJECT_CONF = ROOT / "conf" / "freeswitch"


def is_required() -> bool:
    return os.environ.get("CONTROLLER_REQUIRE_FREESWITCH") == "1"


def running_freeswitch(root: Path) -> Iterator[FreeSwitch]:
    """A started FreeSWITCH for as long as the generator lives (a session fixture yields from it),
    stopped in any case."""
    reason = missing_reason()
    if reason is not None:
        if is_required():
            pytest.fail(reason + " (CONTROLLER_REQUIRE_FREESWITCH=1)", pytrace=False)
        pytest.skip(reason)
    instance = FreeSwitch(root, binary_path(), Ports.pick())
    try:
        instance.start()
        instance.api("fsctl loglevel debug")
        # FreeSWITCH's own voicemail (the controller keeps the boxes) answers each registration
        # with a message-summary NOTIFY about a second later: one reaching a SIPp phone before
        # its INVITE would abort the phone's scenario.
        instance.api("unload mod_voicemail")
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def freeswitch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeSwitch]:
    """The session's FreeSWITCH (started by the first test that needs it)."""
    yield from running_freeswitch(tmp_path_factory.mktemp("freeswitch"))


@pytest.fixture
def fs(freeswitch: FreeSwitch) -> Iterator[FreeSwitch]:
    """The session's FreeSWITCH, left as found after the test: no channel, no registration."""
    yield freeswitch
    freeswitch.api("hupall NORMAL_CLEARING", check=False)
    freeswitch.wait_idle()
    freeswitch.api("sofia profile internal flush_inbound_reg", check=False)


# --- SIPp ---------------------------------------------------------------------------------------

SIPP = Path(shutil.which("sipp") or "/usr/bin/sipp")
SCENARIOS = ROOT / "conf" / "sipp"
SIPP_PCAP = Path("/usr/share/sip-tester")  # Debian's sip-tester: g711a.pcap and the DTMF captures
SIPP_TIMEOUT = 25  # seconds: SIPp quits by itself past this, whatever the scenario waits for
DIRECTORY = PROJECT_CONF / "directory" / "office.example.com.xml"


def directory_password(user: str) -> str:
    """The password of a user of the project's directory file (what a phone registers with)."""
    found = ET.parse(DIRECTORY).find(f".//user[@id='{user}']/params/param[@name='password']")
    if found is None:
        raise LookupError(f"user {user} has no password in {DIRECTORY.name}")
    return found.attrib["value"]


@dataclasses.dataclass
class SippRun:
    """One SIPp process and the files it traces to."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    folder: Path

    def wait(self, timeout: float = SIPP_TIMEOUT + 5) -> int:
        return self.proc.wait(timeout)

    @property
    def messages(self) -> str:
        path = self.folder / f"{self.name}.messages.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def received(self) -> list[str]:
        """The first line of each SIP message SIPp received, in order; a registered phone's
        out-of-dialog NOTIFY and OPTIONS (FreeSWITCH's keep-alives and event notices) left out."""
        blocks = self.messages.split("message received")[1:]
        lines = [block.split("\n\n", 1)[1].splitlines()[0].strip() for block in blocks if "\n\n" in block]
        return [line for line in lines if not line.startswith(("NOTIFY ", "OPTIONS "))]

    def report(self) -> str:
        """What to print when a SIPp run went wrong: its unexpected messages and screen."""
        parts = [f"sipp {self.name} exited with {self.proc.returncode}"]
        for suffix in ("errors.log", "out"):
            path = self.folder / f"{self.name}.{suffix}"
            if path.exists():
                parts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


# SIPp's media ports: below FreeSWITCH's RTP ranges (controller/lab/freeswitch.py, Ports.pick, from
# 16384) and the system's ephemeral ports, where the SIP ports of FreeSWITCH and of other SIPp
# runs are taken: a media port there once met one of those (errno 98 on the video socket).
MEDIA_PORTS = range(10000, 16000, 4)
# Handed out in turn, never at random: a run checks its ports free and SIPp binds them a moment
# later, so two runs started together (a phone answering, the next phone registering) once drew
# the same port and the second failed to bind its audio socket (errno 98). In turn, a port comes
# back only after 1,500 other runs of this session.
_MEDIA_TURN = itertools.cycle(random.sample(MEDIA_PORTS, len(MEDIA_PORTS)))


def free_media_port() -> int:
    """A port P where SIPp may bind its media sockets: UDP P to P+3 (audio, RTCP, video, RTCP)."""
    for port in itertools.islice(_MEDIA_TURN, 50):
        sockets = []
        try:
            for offset in range(4):
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(udp)
                udp.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        finally:
            for udp in sockets:
                udp.close()
        return port
    raise RuntimeError("no free media ports for SIPp")


class Sipp:
    """SIPp callers and phones for one test, on free loopback ports, traced into its folder."""

    def __init__(self, folder: Path, freeswitch: FreeSwitch) -> None:
        self.folder, self.freeswitch = folder, freeswitch
        self.runs: list[SippRun] = []
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pcap").symlink_to(SIPP_PCAP)  # uac_call.xml plays pcap/g711a.pcap

    def start(self, name: str, scenario: str, *args: str, port: int | None = None,
              target: str | None = None) -> SippRun:
        port = port or free_port()
        command = [str(SIPP), "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port),
                   "-mp", str(free_media_port()), "-m", "1", "-nostdin", "-timeout", f"{SIPP_TIMEOUT}s",
                   "-trace_err", "-error_file", str(self.folder / f"{name}.errors.log"),
                   "-trace_msg", "-message_file", str(self.folder / f"{name}.messages.log"),
                   *args, *([target] if target else [])]
        with (self.folder / f"{name}.out").open("wb") as out:
            proc = subprocess.Popen(command, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT)
        run = SippRun(name, port, proc, self.folder)
        self.runs.append(run)
        return run

    def call(self, number: str, *args: str, scenario: str = "uac_call.xml", name: str = "caller") -> SippRun:
        """An outside caller dialling `number` on the external (carriers') profile."""
        target = f"127.0.0.1:{self.freeswitch.ports.external_sip}"
        return self.start(name, scenario, "-s", number, *args, target=target)

    def internal_call(self, user: str, number: str, *args: str) -> SippRun:
        """One of the office's phones (`user` of the directory) dialling `number`."""
        target = f"127.0.0.1:{self.freeswitch.ports.internal_sip}"
        return self.start(f"phone-{user}-calls", "uac_internal.xml", "-s", number, "-set", "user", user,
                          "-au", user, "-ap", directory_password(user), *args, target=target)

    def phone(self, user: str, scenario: str, *args: str) -> SippRun:
        """A phone registered as `user` (digest auth with the directory's password), then
        answering on the same port as `scenario` (uas_answer.xml, uas_busy.xml, ...)."""
        port = free_port()
        target = f"127.0.0.1:{self.freeswitch.ports.internal_sip}"
        register = self.start(f"register-{user}", "uac_register.xml", "-s", user, "-au", user,
                              "-ap", directory_password(user), port=port, target=target)
        assert register.wait() == 0, register.report()
        return self.start(f"phone-{user}", scenario, *args, port=port)

    def close(self) -> None:
        for run in self.runs:
            run.stop()


@pytest.fixture
def sipp(fs: FreeSwitch, tmp_path: Path) -> Iterator[Sipp]:
    """SIPp for one test; every process it started is killed at the end."""
    runner = Sipp(tmp_path / "sipp", fs)
    yield runner
    runner.close()
