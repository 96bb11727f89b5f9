"""A real FreeSWITCH for the lab (tests and benchmarks), configured from this project's files.

Its configuration is made as `vagrant/provision.sh` (configure_freeswitch) makes a lab box's:
FreeSWITCH's vanilla tree, the vanilla profiles and directory set aside, then `conf/freeswitch`
installed over it and mod_flite enabled. Only what a lab run needs on top is changed, each edit
in one function below: no STUN lookup, loopback addresses, free ports (the two SIP profiles, the
event socket, the controller's outbound socket in the dialplan), an RTP range of its own,
modules this build lacks commented out. Everything it writes (configuration, logs, database,
recordings) is under one folder; nothing under the installation is touched.

Binary: `CONTROLLER_TEST_FREESWITCH`, else /opt/freeswitch/bin/freeswitch (the prebuilt
FreeSWITCH 1.11 of ../shared/freeswitch installs there).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from controller.lab.processes import ROOT, free_port, wait_until

PROJECT_CONF = ROOT / "conf" / "freeswitch"
DEFAULT_BINARY = Path("/opt/freeswitch/bin/freeswitch")
ESL_PASSWORD = "lab-esl-secret"
# The files provision.sh's set_aside_vanilla_files moves (same profile names and ports as ours;
# the vanilla directory's users 1000-1019 share the password 1234). The IPv6 profiles go too.
VANILLA_ASIDE = (
    "sip_profiles/internal.xml", "sip_profiles/external.xml", "sip_profiles/internal-ipv6.xml",
    "sip_profiles/external-ipv6.xml", "directory/default.xml",
)
PROJECT_FILES = (
    "dialplan/controller.xml", "directory/office.example.com.xml",
    "sip_profiles/controller-internal.xml", "sip_profiles/controller-external.xml",
    "autoload_configs/callcenter.conf.xml", "autoload_configs/lua.conf.xml", "scripts/acdc_queues.lua",
)
RUNTIME_DIRS = ("log", "db", "run", "temp", "storage", "cache", "recordings", "sounds")
SOCKET_ACTION = re.compile(r'(<action application="socket" data=")127\.0\.0\.1:\d+( async full"/>)')
START_SECONDS = 30.0
STOP_SECONDS = 15.0
# ERR lines that are the package's, not the controller's: (pattern, why); SOUNDS is the sounds folder.
NOT_OURS = {
    r"Can't open file SOUNDS/": "the package has no sound files: `say` reads digits/*.wav from the "
                                "sounds folder (mod_dptools), and fails at once",
}
RTP_SPAN = 200  # ports of the RTP range, below the kernel's ephemeral range (no clash with port 0)


class FreeSwitchError(RuntimeError):
    """FreeSWITCH could not be configured, started or asked something."""


def binary_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("CONTROLLER_TEST_FREESWITCH") or DEFAULT_BINARY)


def missing_reason(env: Mapping[str, str] = os.environ) -> str | None:
    """Why no real FreeSWITCH can run here, or None when one can."""
    path = binary_path(env)
    if path.is_file() and os.access(path, os.X_OK):
        return None
    return f"real FreeSWITCH not installed at {path}; install with ../shared/freeswitch/install.sh"


@dataclasses.dataclass(frozen=True)
class Ports:
    internal_sip: int
    external_sip: int
    esl: int
    controller_esl: int  # where the dialplan's `socket` connects: the outbound ESL server
    rtp_start: int
    rtp_end: int

    @classmethod
    def pick(cls, rtp_span: int = RTP_SPAN) -> Ports:
        start = 16384 + (os.getpid() * RTP_SPAN) % 15000 // 2 * 2  # even: FreeSWITCH rounds odd down
        return cls(free_port(), free_port(), free_port(), free_port(), start, start + rtp_span)


# --- configuration ------------------------------------------------------------------------------


def edit(path: Path, *changes: tuple[str, str], regex: bool = False) -> None:
    """Replace text in a file; each pattern must be found (a silent miss would run the wrong
    configuration)."""
    text = path.read_text()
    for old, new in changes:
        found = re.search(old, text) if regex else old in text
        if not found:
            raise FreeSwitchError(f"{path.name}: {old!r} not found")
        text = re.sub(old, new, text) if regex else text.replace(old, new)
    path.write_text(text)


def set_aside_vanilla_files(conf: Path) -> None:
    for name in VANILLA_ASIDE:
        source = conf / name
        if source.exists():
            target = conf / "vanilla-disabled" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source.rename(target)


def point_socket(conf: Path, port: int) -> None:
    """The dialplan's `socket` application connects to this port on 127.0.0.1."""
    edit(conf / "dialplan/controller.xml", (SOCKET_ACTION.pattern, rf"\g<1>127.0.0.1:{port}\g<2>"), regex=True)


def point_gateway(conf: Path, name: str, address: str) -> None:
    """The external profile's gateway `name` sends its calls to `address` (host[:port]): its
    proxy and realm (the realm is the host part of the Request-URI)."""
    path = conf / "sip_profiles/controller-external.xml"
    text = path.read_text()
    found = re.search(rf'<gateway name="{re.escape(name)}">.*?</gateway>', text, re.S)
    if found is None:
        raise FreeSwitchError(f"{path.name}: no gateway {name!r}")
    block = re.sub(r'(<param name="(?:proxy|realm)" value=")[^"]*(")', rf"\g<1>{address}\g<2>", found.group(0))
    path.write_text(text[:found.start()] + block + text[found.end():])


def install_project_files(conf: Path, ports: Ports) -> None:
    for name in PROJECT_FILES:
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_CONF / name, conf / name)
    point_socket(conf, ports.controller_esl)
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
    """mod_flite and mod_callcenter on (provision.sh does it: the tts module speaks with flite,
    the call queues run on mod_callcenter); every listed module
    this build lacks commented out (mod_verto, mod_signalwire, mod_fsv, mod_av, mod_png)."""
    path = conf / "autoload_configs/modules.conf.xml"
    edit(path, (r'<!-- *<load module="mod_flite"/> *-->', '<load module="mod_flite"/>'),
         (r'<!-- *<load module="mod_callcenter"/> *-->', '<load module="mod_callcenter"/>'), regex=True)

    def unless_built(match: re.Match[str]) -> str:
        built = (module_dir / f"{match.group(1)}.so").exists()
        return match.group(0) if built else f"<!-- not built: {match.group(0)} -->"

    parts = re.split(r"(<!--.*?-->)", path.read_text(), flags=re.S)  # odd items: comments
    loads = re.compile(r'<load module="(\w+)"/>')
    path.write_text("".join(p if i % 2 else loads.sub(unless_built, p) for i, p in enumerate(parts)))


def load_spandsp(conf: Path) -> None:
    """mod_spandsp on (receive_fax's rxfax): the vanilla modules.conf.xml loads it; made sure
    of, as provision.sh does, should a FreeSWITCH ship it commented out."""
    path = conf / "autoload_configs/modules.conf.xml"
    path.write_text(re.sub(r'<!-- *(<load module="mod_spandsp"/>) *-->', r"\1", path.read_text()))


def edit_rtp_range(conf: Path, ports: Ports) -> None:
    edit(conf / "autoload_configs/switch.conf.xml",
         ('<!-- <param name="rtp-start-port" value="16384"/> -->',
          f'<param name="rtp-start-port" value="{ports.rtp_start}"/>'),
         ('<!-- <param name="rtp-end-port" value="32768"/> -->',
          f'<param name="rtp-end-port" value="{ports.rtp_end}"/>'))


def edit_session_limits(conf: Path, per_second: int, at_once: int) -> None:
    """The vanilla limits, 30 new sessions a second and 1,000 at once, refuse a benchmark's load
    ("Throttle Error!", "Over Session Rate of 30!"): a loaded PBX raises them too."""
    rate, most = '<param name="sessions-per-second" value="{}"/>', '<param name="max-sessions" value="{}"/>'
    edit(conf / "autoload_configs/switch.conf.xml",
         (rate.format(30), rate.format(per_second)), (most.format(1000), most.format(at_once)))


def write_config(conf: Path, vanilla: Path, module_dir: Path, ports: Ports,
                 limits: tuple[int, int] | None = None) -> None:
    shutil.copytree(vanilla, conf, symlinks=True)
    set_aside_vanilla_files(conf)
    install_project_files(conf, ports)
    edit_vars(conf)
    load_spandsp(conf)
    edit_modules(conf, module_dir)
    edit_rtp_range(conf, ports)
    if limits:
        edit_session_limits(conf, *limits)


# --- the process --------------------------------------------------------------------------------

# As many descriptors as allowed (each call holds several; at 4096 FreeSWITCH fails calls with
# "Too many open files" near 1,000 channels), then `exec`: the process started is FreeSWITCH,
# so its PID is the one to signal. (A hard limit the shell cannot set leaves the soft one.)
RAISE_OPEN_FILES = ["/bin/sh", "-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"']


class FreeSwitch:
    """One running FreeSWITCH: its ports, folders, API and log."""

    def __init__(self, root: Path, binary: Path, ports: Ports, limits: tuple[int, int] | None = None) -> None:
        self.root, self.binary, self.ports, self.limits = root, binary, ports, limits
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
        """A folder FreeSWITCH may write recordings to (CONTROLLER_VOICEMAIL_DIR)."""
        return self.root / "storage" / "voicemail"

    @property
    def recordings_dir(self) -> Path:
        """Where FreeSWITCH writes record_call's recordings (CONTROLLER_RECORDINGS_DIR): its own
        `recordings_dir`."""
        return self.root / "recordings"

    @property
    def fax_dir(self) -> Path:
        """A folder FreeSWITCH may write received faxes to (CONTROLLER_FAX_DIR)."""
        return self.root / "storage" / "fax"

    @property
    def module_dir(self) -> Path:
        return self.prefix / "lib" / "freeswitch" / "mod"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise FreeSwitchError("FreeSWITCH is not running")
        return self.proc.pid

    def start(self) -> None:
        write_config(self.conf, self.prefix / "etc" / "freeswitch", self.module_dir, self.ports, self.limits)
        for name in RUNTIME_DIRS:
            (self.root / name).mkdir(exist_ok=True)
        with self.console_path.open("wb") as console:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=console,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(self.is_ready, START_SECONDS, "FreeSWITCH's SIP profiles to run", step=0.1)
        except BaseException:
            self.stop()
            raise
        self.ready_mark = self.mark()

    def command(self) -> list[str]:
        folders = [arg for name in RUNTIME_DIRS for arg in (f"-{name}", str(self.root / name))]
        return [*RAISE_OPEN_FILES, str(self.binary), "-nonat", "-nc", "-nf", "-conf", str(self.conf), *folders,
                "-mod", str(self.module_dir)]

    def is_ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.console_path.read_text(errors="replace")[-3000:]
            raise FreeSwitchError(f"FreeSWITCH exited with {self.proc.returncode} while starting:\n{tail}")
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
            raise FreeSwitchError(f"fs_cli -x {command!r}: {result.returncode} {result.stdout}{result.stderr}")
        return result.stdout

    def point_socket(self, port: int) -> None:
        """Send the dialplan's calls to another outbound ESL server from the next call on."""
        point_socket(self.conf, port)
        self.api("reloadxml")

    def point_gateway(self, name: str, address: str) -> None:
        """Send the external profile's gateway `name` to `address` (host[:port]) from the next
        call on: the file edited, the gateway killed, the XML reloaded and the profile rescanned
        (a rescan alone keeps a gateway that exists)."""
        point_gateway(self.conf, name, address)
        self.api(f"sofia profile external killgw {name}")
        wait_until(lambda: "Invalid Gateway" in self.api(f"sofia status gateway {name}", check=False),
                   10, f"gateway {name} to go")
        self.api("reloadxml")
        self.api("sofia profile external rescan")
        wait_until(lambda: f"sip:{address}" in self.api(f"sofia status gateway {name}", check=False),
                   10, f"gateway {name} to point at {address}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a timeout: no FreeSWITCH outlives its user."""
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
