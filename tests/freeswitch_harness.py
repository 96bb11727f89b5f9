"""A real FreeSWITCH for the end-to-end tests, configured from this project's own files.

One instance per pytest session, started by the first test that asks for the `freeswitch`
fixture. Its configuration is made as `vagrant/provision.sh` (configure_freeswitch) makes a lab
box's: FreeSWITCH's vanilla tree, the vanilla profiles and directory set aside, then
`conf/freeswitch` installed over it and mod_flite enabled. Only what a test run needs on top is
changed, each edit in one function below: no STUN lookup, loopback addresses, free ports (the
two SIP profiles, the event socket, the controller's outbound socket in the dialplan), an RTP
range of its own, unbuilt modules commented out.

Binary: `CONTROLLER_TEST_FREESWITCH`, else /opt/freeswitch/bin/freeswitch. Without one the tests
that need it skip, unless `CONTROLLER_REQUIRE_FREESWITCH=1` (CI), where they fail.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_CONF = ROOT / "conf" / "freeswitch"
DEFAULT_BINARY = Path("/opt/freeswitch/bin/freeswitch")
ESL_PASSWORD = "test-esl-secret"
# The files provision.sh's set_aside_vanilla_files moves (same profile names and ports as ours;
# the vanilla directory's users 1000-1019 share the password 1234). The IPv6 profiles go too.
VANILLA_ASIDE = (
    "sip_profiles/internal.xml", "sip_profiles/external.xml", "sip_profiles/internal-ipv6.xml",
    "sip_profiles/external-ipv6.xml", "directory/default.xml",
)
PROJECT_FILES = (
    "dialplan/controller.xml", "directory/office.example.com.xml",
    "sip_profiles/controller-internal.xml", "sip_profiles/controller-external.xml",
)
RUNTIME_DIRS = ("log", "db", "run", "temp", "storage", "cache", "recordings", "sounds")
START_SECONDS = 30.0
STOP_SECONDS = 15.0
# Errors FreeSWITCH logs during calls that are about this install, not about the project.
NOT_OURS = {
    r"Can't open file SOUNDS/": "the package has no sound files: `say` reads digits/*.wav from the "
                                "sounds folder (mod_dptools), and fails at once",
}
RTP_SPAN = 200  # ports of the RTP range, below the kernel's ephemeral range (no clash with port 0)


def binary_path() -> Path:
    return Path(os.environ.get("CONTROLLER_TEST_FREESWITCH") or DEFAULT_BINARY)


def missing_reason() -> str | None:
    """Why the real-FreeSWITCH tests cannot run here, or None when they can."""
    path = binary_path()
    if path.is_file() and os.access(path, os.X_OK):
        return None
    return f"real FreeSWITCH not installed at {path}; install with ../shared/freeswitch/install.sh"


def is_required() -> bool:
    return os.environ.get("CONTROLLER_REQUIRE_FREESWITCH") == "1"


def free_port() -> int:
    """A loopback port free for both TCP and UDP (a SIP profile binds both)."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@dataclasses.dataclass(frozen=True)
class Ports:
    internal_sip: int
    external_sip: int
    esl: int
    controller_esl: int  # where the dialplan's `socket` connects: the test's outbound ESL server
    rtp_start: int
    rtp_end: int

    @classmethod
    def pick(cls) -> Ports:
        start = 16384 + (os.getpid() * RTP_SPAN) % 15000 // 2 * 2  # even: FreeSWITCH rounds odd down
        return cls(free_port(), free_port(), free_port(), free_port(), start, start + RTP_SPAN)


# --- configuration ------------------------------------------------------------------------------


def edit(path: Path, *changes: tuple[str, str], regex: bool = False) -> None:
    """Replace text in a file; each pattern must be found (a silent miss would test the wrong
    configuration)."""
    text = path.read_text()
    for old, new in changes:
        found = re.search(old, text) if regex else old in text
        if not found:
            raise AssertionError(f"{path.name}: {old!r} not found")
        text = re.sub(old, new, text) if regex else text.replace(old, new)
    path.write_text(text)


def set_aside_vanilla_files(conf: Path) -> None:
    for name in VANILLA_ASIDE:
        source = conf / name
        if source.exists():
            target = conf / "vanilla-disabled" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source.rename(target)


def install_project_files(conf: Path, ports: Ports) -> None:
    for name in PROJECT_FILES:
        shutil.copyfile(PROJECT_CONF / name, conf / name)
    socket_data = '<action application="socket" data="127.0.0.1:8084 async full"/>'
    edit(conf / "dialplan/controller.xml",
         (socket_data, socket_data.replace("8084", str(ports.controller_esl))))
    for name, port in (("internal", ports.internal_sip), ("external", ports.external_sip)):
        edit(conf / f"sip_profiles/controller-{name}.xml",
             (r'name="sip-port" value="\d+"', f'name="sip-port" value="{port}"'), regex=True)
    event_socket = conf / "autoload_configs/event_socket.conf.xml"
    shutil.copyfile(PROJECT_CONF / "autoload_configs/event_socket.conf.xml", event_socket)
    edit(event_socket, ("change-me-esl", ESL_PASSWORD),
         ('name="listen-port" value="8021"', f'name="listen-port" value="{ports.esl}"'))


def edit_vars(conf: Path) -> None:
    """Offline and on loopback: STUN lookups become plain sets, local_ip_v4 is 127.0.0.1."""
    edit(conf / "vars.xml",
         (r'cmd="stun-set" data="(\w+)=stun:[^"]*"', r'cmd="set" data="\1=127.0.0.1"'),
         (r"<include>", '<include>\n  <X-PRE-PROCESS cmd="set" data="local_ip_v4=127.0.0.1"/>'),
         regex=True)


def edit_modules(conf: Path, module_dir: Path) -> None:
    """mod_flite on (provision.sh does it: the tts module speaks with it); every listed module
    this build lacks commented out (mod_verto, mod_signalwire, mod_fsv, mod_av, mod_png)."""
    path = conf / "autoload_configs/modules.conf.xml"
    edit(path, (r'<!-- *<load module="mod_flite"/> *-->', '<load module="mod_flite"/>'), regex=True)

    def unless_built(match: re.Match[str]) -> str:
        built = (module_dir / f"{match.group(1)}.so").exists()
        return match.group(0) if built else f"<!-- not built: {match.group(0)} -->"

    parts = re.split(r"(<!--.*?-->)", path.read_text(), flags=re.S)  # odd items: comments
    loads = re.compile(r'<load module="(\w+)"/>')
    path.write_text("".join(p if i % 2 else loads.sub(unless_built, p) for i, p in enumerate(parts)))


def edit_rtp_range(conf: Path, ports: Ports) -> None:
    edit(conf / "autoload_configs/switch.conf.xml",
         ('<!-- <param name="rtp-start-port" value="16384"/> -->',
          f'<param name="rtp-start-port" value="{ports.rtp_start}"/>'),
         ('<!-- <param name="rtp-end-port" value="32768"/> -->',
          f'<param name="rtp-end-port" value="{ports.rtp_end}"/>'))


def write_config(conf: Path, vanilla: Path, module_dir: Path, ports: Ports) -> None:
    shutil.copytree(vanilla, conf, symlinks=True)
    set_aside_vanilla_files(conf)
    install_project_files(conf, ports)
    edit_vars(conf)
    edit_modules(conf, module_dir)
    edit_rtp_range(conf, ports)


# --- the process --------------------------------------------------------------------------------


# As many descriptors as allowed (each call holds several; see the quirks in
# ../shared/freeswitch/README.md), then `exec`: the process started is FreeSWITCH itself, so
# its PID is the one to signal. (A hard limit the shell cannot set leaves the soft one.)
RAISE_OPEN_FILES = ["/bin/sh", "-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"']


def wait_until(condition: Callable[[], object], timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


class FreeSwitch:
    """One running FreeSWITCH: its ports, folders, API and log."""

    def __init__(self, root: Path, binary: Path, ports: Ports) -> None:
        self.root, self.binary, self.ports = root, binary, ports
        self.prefix = binary.resolve().parent.parent
        self.conf = root / "conf"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_mark = 0  # where freeswitch.log stood once the profiles ran: start-up is before

    @property
    def log_path(self) -> Path:
        return self.root / "log" / "freeswitch.log"

    @property
    def console_path(self) -> Path:
        return self.root / "log" / "console.out"

    @property
    def voicemail_dir(self) -> Path:
        return self.root / "storage" / "voicemail"

    def start(self) -> None:
        write_config(self.conf, self.prefix / "etc" / "freeswitch", self.module_dir, self.ports)
        for name in RUNTIME_DIRS:
            (self.root / name).mkdir(exist_ok=True)
        with self.console_path.open("wb") as console:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=console,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.is_ready, START_SECONDS, "FreeSWITCH's SIP profiles to run", step=0.1)
        self.ready_mark = self.mark()
        self.api("fsctl loglevel debug")

    @property
    def module_dir(self) -> Path:
        return self.prefix / "lib" / "freeswitch" / "mod"

    def command(self) -> list[str]:
        folders = [arg for name in RUNTIME_DIRS for arg in (f"-{name}", str(self.root / name))]
        return [*RAISE_OPEN_FILES, str(self.binary), "-nonat", "-nc", "-nf", "-conf", str(self.conf), *folders,
                "-mod", str(self.module_dir)]

    def is_ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.console_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"FreeSWITCH exited with {self.proc.returncode} while starting:\n{tail}")
        status = self.api("sofia status", check=False)
        return all(re.search(rf"^\s*{name}\s+profile\s.*RUNNING", status, re.M) for name in ("internal", "external"))

    def api(self, command: str, check: bool = True) -> str:
        """One API command through fs_cli (the inbound event socket); `check`: a `-ERR` reply or
        no connection is an error."""
        result = subprocess.run(
            [str(self.prefix / "bin" / "fs_cli"), "-H", "127.0.0.1", "-P", str(self.ports.esl), "-p", ESL_PASSWORD,
             "-T", "2000", "-t", "5000", "-x", command],
            capture_output=True, text=True, timeout=15, check=False,
        )
        if check and (result.returncode != 0 or result.stdout.startswith("-ERR")):
            raise AssertionError(f"fs_cli -x {command!r}: {result.returncode} {result.stdout}{result.stderr}")
        return result.stdout

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a timeout: no FreeSWITCH outlives the session."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    # --- the log ---

    def mark(self) -> int:
        """A point in freeswitch.log to read from later."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, mark: int, until: int | None = None) -> list[str]:
        with self.log_path.open("rb") as log:
            log.seek(mark)
            data = log.read() if until is None else log.read(until - mark)
        return data.decode("utf-8", "replace").splitlines()

    def startup_log(self) -> list[str]:
        """freeswitch.log up to the moment both profiles ran, then the console output."""
        console = self.console_path.read_text(errors="replace").splitlines()
        return self.log_since(0, self.ready_mark) + console

    def errors_since(self, mark: int, levels: tuple[str, ...] = ("ERR", "CRIT", "ALERT")) -> list[str]:
        """The lines logged at one of `levels` since `mark`, but those of NOT_OURS."""
        tags = tuple(f"[{level}]" for level in levels)
        not_ours = re.compile("|".join(NOT_OURS).replace("SOUNDS", re.escape(str(self.root / "sounds"))))
        return [line for line in self.log_since(mark)
                if any(tag in line for tag in tags) and not not_ours.search(line)]

    def channel_count(self) -> int:
        found = re.search(r"(\d+) total", self.api("show channels count"))
        return int(found.group(1)) if found else 0

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Until FreeSWITCH holds no channel: it destroys one only after the controller has
        closed its socket, i.e. after the call's termination handlers ran."""
        wait_until(lambda: self.channel_count() == 0, timeout, "FreeSWITCH to hold no channel", step=0.1)


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
        raise AssertionError(f"user {user} has no password in {DIRECTORY.name}")
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
        """The first line of each SIP message SIPp received, in order."""
        blocks = self.messages.split("message received")[1:]
        return [block.split("\n\n", 1)[1].splitlines()[0].strip() for block in blocks if "\n\n" in block]

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
                   "-mp", str(free_port()), "-m", "1", "-nostdin", "-timeout", f"{SIPP_TIMEOUT}s",
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
