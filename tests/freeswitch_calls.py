"""What the real-FreeSWITCH call tests share (tests/test_freeswitch_*.py): the example office,
the controller's settings for the session's FreeSWITCH, the mailbox, and the helpers that load a
callflow, wait for the calls to end and read what reached the mailbox.

The account is flows/office.json with one callflow on its main number +15554441111, the DID that
conf/freeswitch/dialplan/controller.xml tags with the account's id. A test module imports the
fixtures it uses (`mailbox`, `settings`, `office`) so that pytest finds them there; `settings`
overrides conftest's, so the controller listens where the dialplan's `socket` connects.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.freeswitch import wait_until
from controller.store import keys
from controller.store.bundle import load_bundle
from tests.freeswitch_harness import ROOT, FreeSwitch, SippRun
from tests.mailserver import mail, running_smtp  # noqa: F401 (mail: the FreeSWITCH tests import it from here)

OFFICE: dict[str, Any] = json.loads((ROOT / "flows" / "office.json").read_text())
ACCOUNT_ID: str = OFFICE["account"]["id"]
DID = "+15554441111"
CALLER = "+15557770000"
ALICE = next(u for u in OFFICE["users"] if u["first_name"] == "Alice")
BEN = next(u for u in OFFICE["users"] if u["first_name"] == "Ben")
CHLOE = next(u for u in OFFICE["users"] if u["first_name"] == "Chloe")
BEN_BOX = next(b for b in OFFICE["vmboxes"] if b.get("owner_id") == BEN["id"])
ALERT_ALICE = {"recipients": [{"type": "user", "id": ALICE["id"]}]}


WEB_APPS = "127.0.0.2"  # where the tests' web applications (pivot) listen: let through to tenants


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


@pytest.fixture
def settings(redis_url: str, freeswitch: FreeSwitch, mailbox: tuple[int, Path]) -> config.Settings:
    """The controller as a lab box runs it: its outbound socket where the dialplan connects,
    static routes through the external profile, FreeSWITCH's voicemail folder, real SMTP; the
    tests' web applications listen on WEB_APPS (127.0.0.2), which tenants' URLs may reach."""
    return config.load({
        "CONTROLLER_CONFIG": str(ROOT / "tests" / "controller-test.toml"),
        "CONTROLLER_REDIS_URL": redis_url,
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{freeswitch.ports.controller_esl}",
        "CONTROLLER_API_LISTEN": "127.0.0.1:0",
        "CONTROLLER_ROUTE_PROFILE": "external",
        "CONTROLLER_VOICEMAIL_DIR": str(freeswitch.voicemail_dir),
        "CONTROLLER_RECORDINGS_DIR": str(freeswitch.recordings_dir),
        "CONTROLLER_SMTP_URL": f"smtp://127.0.0.1:{mailbox[0]}",
        "CONTROLLER_TENANT_HTTP_ALLOW": f"{WEB_APPS}/32",
    })


@pytest.fixture
def office(rds: redis.Redis, esl_server: OutboundServer) -> OutboundServer:
    """The example office loaded, the controller listening: ready for calls."""
    return esl_server


def node(module: str, data: dict[str, Any] | None = None, **children: dict[str, Any]) -> dict[str, Any]:
    return {"module": module, "data": data or {}, "children": children}


def main_number(rds: redis.Redis, flow: dict[str, Any], number: str = DID, **bundle: Any) -> None:
    """The office bundle with one callflow, on `number` (`bundle`: documents to replace, such
    as `vmboxes` or `groups`)."""
    callflow = {"id": "fs-test-main", "numbers": [number], "flow": flow}
    load_bundle(rds, {**OFFICE, **bundle, "callflows": [callflow]}, "flows/office.json for the FreeSWITCH tests")


def ring_ben(timeout: int, **after: dict[str, Any]) -> dict[str, Any]:
    """missed_call_alert (to Alice), then Ben's phone for `timeout` seconds, then `after`."""
    return node("missed_call_alert", ALERT_ALICE, _=node("user", {"id": BEN["id"], "timeout": timeout}, **after))


def finish(fs: FreeSwitch, *callers: SippRun) -> None:
    """Until the calls are over on every side: SIPp done, FreeSWITCH without a channel (it
    destroys one only after the controller ran the call's handlers and closed its socket)."""
    for caller in callers:
        assert caller.wait() == 0, caller.report()
    fs.wait_idle()


def queued_calls(rds: redis.Redis) -> list[dict[str, Any]]:
    """The call data of each job waiting in the queue (left there for the mail sender)."""
    return [json.loads(rds.hget(keys.queue_job(job_id), "doc"))["call"]  # type: ignore[arg-type]
            for job_id in rds.lrange(keys.QUEUE_READY, 0, -1)]


def missed_calls(messages: list[EmailMessage]) -> list[EmailMessage]:
    return [m for m in messages if str(m["Subject"]).startswith("Missed call")]


def assert_one_missed_call_to_alice(messages: list[EmailMessage], name: str = "SIPp") -> None:
    [message] = messages
    assert message["To"] == ALICE["email"]
    assert message["Subject"] == f"Missed call from {name} ({CALLER})"


def wait_for(condition: Any, what: str, timeout: float = 15.0) -> None:
    """Until `condition()` holds (short polls), else a failure naming `what`."""
    wait_until(condition, timeout, what)


def executed(fs: FreeSwitch, mark: int, application: str) -> list[str]:
    """The log lines since `mark` where FreeSWITCH ran `application` (its EXECUTE line)."""
    return [line for line in fs.log_since(mark) if " EXECUTE [" in line and f" {application}(" in line]


def silence_wav(path: Path, seconds: float) -> Path:
    """A WAV of `seconds` of silence (8 kHz, 16-bit mono) at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))
    return path


# FreeSWITCH's sound_prefix under its sounds folder (the vanilla vars.xml's).
SOUND_PREFIX = Path("en/us/callie")


@pytest.fixture
def prompts(freeswitch: FreeSwitch) -> Iterator[Any]:
    """`prompts("voicemail/vm-enter_pass.wav", ...)`: short silent recordings of these prompts
    in FreeSWITCH's sound folder for one test. The package has no sound files, and
    `play_and_get_digits` whose prompt cannot be opened collects nothing (switch_ivr_read only
    reads digits after its prompt played): a menu needs its prompt to exist."""
    made: list[Path] = []

    def install(*names: str) -> None:
        for name in names:
            made.append(silence_wav(freeswitch.root / "sounds" / SOUND_PREFIX / name, 0.1))

    yield install
    for path in made:
        path.unlink(missing_ok=True)
