"""Attacks on the mail path and on the configuration: caller text that would shape addresses or
headers, stored templates and jobs the API would refuse (a template saved before the limits
existed, a job naming a file or an account it should not), heavy renders in the mail sender,
configuration mistakes and typos."""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import json
import re
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from controller.lab.attack_world import ALERT_NUMBER, Verdict, World
from controller.lab.attacks_api import heavy_template
from controller.lab.processes import free_port, wait_until
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import run_call
from controller.notify.job import make_job
from controller.notify.queue import JobQueue
from controller.notify.templates import Templates, packaged

CALLER = "Boss <ceo@bank.example>, x@evil.example\r\nBcc: attacker@evil.example"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)


def _missed_call(world: World, caller_name: str = "Lab Caller") -> str:
    record = run_call(world.esl, Scenario(destination=ALERT_NUMBER, caller_number="+15557770000",
                                          caller_name=caller_name, account_id=world.a.id, playback_seconds=0.005,
                                          time_scale=0.05, bridges=(BridgeOutcome("no_answer", timeout=0.2),)),
                      timeout=30)
    return record.uuid


def _mails(world: World) -> dict[Path, EmailMessage]:
    found = {}
    for path in world.outbox.glob("**/*.eml"):
        found[path] = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return found


def _new_mail(world: World, before: set[Path], count: int = 1, seconds: float = 20.0) -> list[EmailMessage]:
    def arrived() -> bool:
        return len(set(_mails(world)) - before) >= count

    with contextlib.suppress(RuntimeError):
        wait_until(arrived, seconds, "emails", step=0.1)
    mails = _mails(world)
    return [mails[p] for p in sorted(set(mails) - before)]


def _dead(world: World) -> list[dict[str, Any]]:
    return JobQueue(world.rds).dead(1000)


def _dead_with(world: World, count: int, seconds: float = 15.0) -> list[dict[str, Any]]:
    with contextlib.suppress(RuntimeError):
        wait_until(lambda: len(_dead(world)) >= count, seconds, "dead letters", step=0.1)
    return _dead(world)


def _template(world: World, **fields: str) -> Any:
    """POST account A's missed_call template: the one it uses now with `fields` changed (a POST
    replaces the whole document)."""
    path = f"/v2/accounts/{world.a.id}/notifications/missed_call"
    current = world.ok("GET", path, world.a.admin)
    kept = {k: v for k, v in current.items() if k not in ("id", "macros", "account_overridden")}
    return world.call("POST", path, world.a.admin, json={"data": {**kept, **fields}})


def _restore_template(world: World) -> None:
    world.call("DELETE", f"/v2/accounts/{world.a.id}/notifications/missed_call", world.a.admin)


def caller_text(world: World) -> Verdict:
    verdict = Verdict(True)
    callers = (("from", "{{ caller_id.name }} <alerts@alpha.example>"), ("reply_to", "{{ caller_id.name }}"))
    for field, source in callers:
        response = _template(world, **{field: source})
        verdict.check(response.status_code == 400, f"template {field} {source!r}: {response.status_code}")
    response = _template(world, **{"from": "{{ account.name }} <alerts@{{ account.realm }}>",
                                   "reply_to": "help@{{ account.realm }}"})
    verdict.check(response.status_code == 200, f"from with a display name from the account: {response.status_code}")
    before = set(_mails(world))
    _missed_call(world, CALLER)
    mails = _new_mail(world, before)
    _restore_template(world)
    if not mails:
        verdict.check(False, "the missed call's email never arrived")
        return verdict
    mail = mails[0]
    senders = email.utils.getaddresses([str(mail.get("From", ""))])
    replies = email.utils.getaddresses([str(mail.get("Reply-To", ""))])
    recipients = email.utils.getaddresses([str(v) for v in mail.get_all("To", []) + mail.get_all("Cc", [])])
    message_id = str(mail.get("Message-ID", ""))
    plain = mail.get_body(("plain",))
    text = plain.get_content() if plain is not None else ""
    verdict.check([a for _, a in senders] == ["alerts@alpha.example"], f"From: {mail.get('From')!r}")
    verdict.check([a for _, a in replies] in ([], ["help@alpha.example"]), f"Reply-To: {mail.get('Reply-To')!r}")
    verdict.check(all(a.endswith("@alpha.example") for _, a in recipients) and "Bcc" not in mail,
                  f"To/Cc: {[a for _, a in recipients]}, Bcc header: {'Bcc' in mail}")
    verdict.check(re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", message_id) is not None, f"Message-ID: {message_id!r}")
    bcc_lines = [line for line in text.splitlines() if line.lstrip().lower().startswith("bcc:")]
    verdict.check(not bcc_lines, f"plain body lines starting with Bcc: {len(bcc_lines)}")
    return verdict


def stored_template(world: World) -> Verdict:
    """A hostile template refused at save, then the same stored as a template from before the
    limits: the mail sender dead-letters the job at once instead of stalling."""
    verdict = Verdict(True)
    hostile = "{{ 3**(3*10**7) % 10 }}"
    response = _template(world, plain=hostile)
    verdict.check(response.status_code == 400, f"save of {hostile}: {response.status_code}")
    default = packaged("missed_call")
    assert default is not None
    Templates(world.rds).save(world.a.id, "missed_call", dict(default.fields), hostile, default.html)
    dead = len(_dead(world))
    started = time.monotonic()
    _missed_call(world)
    found = _dead_with(world, dead + 1)
    took = time.monotonic() - started
    _restore_template(world)
    errors = [str(d.get("error", ""))[:90] for d in found[dead:]]
    verdict.check(len(found) > dead and took < 10,
                  f"the stored template's job dead-lettered after {took:.1f} s: {errors}")
    return verdict


def heavy_renders(world: World) -> Verdict:
    """Ten missed calls whose template renders for about half a second each in the mail sender."""
    verdict = Verdict(True)
    source = heavy_template(world)
    response = _template(world, plain=source + "{{ caller_id.number }}")
    verdict.check(response.status_code == 200, f"a template rendering in about 0.5 s saved: {response.status_code}")
    before = set(_mails(world))
    started = time.monotonic()
    for _ in range(10):
        _missed_call(world)
    mails = _new_mail(world, before, count=10, seconds=40)
    _restore_template(world)
    took = time.monotonic() - started
    verdict.check(len(mails) == 10, f"{len(mails)}/10 emails rendered and written in {took:.1f} s")
    return verdict


def files_and_jobs(world: World) -> Verdict:
    """Jobs the call side would never make: a voicemail whose media is a `.wav` symlink to
    /etc/passwd (and one outside the voicemail folder), a job for no account, a start time of
    1e300. Each must be dead-lettered (or mailed without the file), the mail sender not restarted."""
    verdict = Verdict(True)
    box = world.ok("PUT", f"/v2/accounts/{world.a.id}/vmboxes", world.a.admin,
                   json={"data": {"mailbox": "7001", "owner_id": world.a.user}})
    folder = world.voicemail / world.a.id
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "evil.wav"
    link.unlink(missing_ok=True)
    link.symlink_to("/etc/passwd")
    outside = world.folder / "outside.wav"
    outside.write_bytes(WAV + b"root:x:0:0:outside-the-voicemail-folder")
    restarts = world.restarts().get("mailer", 0)
    queue = JobQueue(world.rds)
    before, dead = set(_mails(world)), len(_dead(world))
    jobs = [_voicemail_job(world, box["id"], str(link), "c-link"),
            _voicemail_job(world, box["id"], str(outside), "c-out"),
            _missed_job(world, "no-such-account", "c-ghost"),
            _missed_job(world, world.a.id, "c-1e300", started_at=1e300)]
    for job in jobs:
        queue.enqueue(job)
    found = _dead_with(world, dead + 4, seconds=15)
    mails = _new_mail(world, before, count=0, seconds=0.5)
    leaked = [m for m in mails if any(b"root:x:0:0" in (part.get_payload(decode=True) or b"")
                                      for part in m.walk() if not part.is_multipart())]
    verdict.check(not leaked, f"emails carrying /etc/passwd or the outside file: {len(leaked)} of {len(mails)}")
    errors = {str(d.get("id", "")): str(d.get("error", ""))[:70] for d in found[dead:]}
    verdict.check(len(found) - dead + len(mails) >= 4, f"dead-lettered {len(found) - dead}: {sorted(errors.values())}")
    verdict.check(world.restarts().get("mailer", 0) == restarts, "the mail sender was not restarted")
    link.unlink()
    return verdict


def _voicemail_job(world: World, box: str, media: str, call_id: str) -> dict[str, Any]:
    call = {"call_id": call_id, "caller_id_name": "Carol", "caller_id_number": "+15557770000",
            "started_at": time.time(), "message_left": True}
    voicemail = {"box_id": box, "mailbox": "7001", "message_id": f"m-{call_id}", "length": 5, "media_path": media}
    return make_job("voicemail_to_email", world.a.id, call, instance="lab-attack",
                    recipients=[{"type": "user", "id": world.a.user}], data={"voicemail": voicemail})


def _missed_job(world: World, account: str, call_id: str, **call: Any) -> dict[str, Any]:
    data = {"call_id": call_id, "caller_id_name": "Carol", "caller_id_number": "+15557770000",
            "to_user": ALERT_NUMBER, "started_at": time.time(), "hangup_cause": "NO_ANSWER", **call}
    return make_job("missed_call", account, data, instance="lab-attack",
                    recipients=[{"type": "user", "id": world.a.user}])


def _one_line(said: str) -> bool:
    return "Traceback" not in said and 0 < len(said.strip().splitlines()) <= 2


def config_errors(world: World) -> Verdict:
    """Configuration mistakes that printed tracebacks: each is one line naming the key."""
    verdict = Verdict(True)
    folder = world.folder / "config-errors"
    folder.mkdir(exist_ok=True)
    base = {"CONTROLLER_DATA_DIR": str(folder / "var"), "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{free_port()}",
            "CONTROLLER_API_LISTEN": f"127.0.0.1:{free_port()}"}
    cases = [
        ("serve", {"CONTROLLER_REDIS_URL": "redis://127.0.0.1:abc"}, "redis"),
        ("serve", {"CONTROLLER_REDIS_URL": world.redis_url.replace("db=0", "db=99")}, "DB index"),
        ("serve", {"CONTROLLER_REDIS_URL": world.redis_url, "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{world.esl_port}"},
         str(world.esl_port)),
        ("api", {"CONTROLLER_REDIS_URL": world.redis_url, "CONTROLLER_API_LISTEN": f"127.0.0.1:{world.api_port}"},
         str(world.api_port)),
    ]
    for role, extra, named in cases:
        env = world.env(**{**base, **extra})
        try:
            done = world.cli(role, env=env, timeout=15)
            said, code = (done.stdout + done.stderr).strip(), str(done.returncode)
        except subprocess.TimeoutExpired as exc:  # it kept running
            said = "".join(o.decode(errors="replace") if isinstance(o, bytes) else o
                           for o in (exc.stdout or b"", exc.stderr or b"")).strip()
            code = "none (still running at 15 s)"
        lines = said.splitlines()
        key, value = next(iter(extra.items())) if len(extra) == 1 else list(extra.items())[-1]
        running = code.startswith("none")  # stays up as while Redis is away: judged on what it says
        verdict.check((running or code != "0") and "Traceback" not in said and named in said
                      and (running or _one_line(said)),
                      f"{role} with {key.removeprefix('CONTROLLER_')}={value[-22:]}: exit {code}, "
                      f"{len(lines)} line(s): {lines[-1][:90] if lines else ''!r}")
    return verdict


def typos(world: World) -> Verdict:
    """`missed_call_alret` and an unknown CONTROLLER_* variable."""
    verdict = Verdict(True)
    flow = {"module": "missed_call_alret", "data": {"recipients": [{"type": "user", "id": world.a.user}]}}
    bundle = world.folder / "typo.json"
    bundle.write_text(json.dumps({"account": {"id": "typo-account", "name": "Typo", "realm": "typo.example"},
                                  "callflows": [{"id": "typo", "numbers": ["+15559991234"], "flow": flow}]}))
    for action in ("check", "load"):
        done = world.cli("flows", action, str(bundle))
        said = (done.stdout + done.stderr).strip()
        verdict.check(done.returncode != 0 and "missed_call_alert" in said and "Traceback" not in said,
                      f"flows {action}: exit {done.returncode}, {said.splitlines()[-1][:80] if said else ''!r}")
    response = world.call("PUT", f"/v2/accounts/{world.a.id}/callflows", world.a.admin,
                          json={"data": {"numbers": ["+15559991234"], "flow": flow}})
    verdict.check(response.status_code == 400 and "missed_call_alert" in response.text,
                  f"the API: {response.status_code}")
    done = world.cli("flows", "check", str(bundle), env=world.env(CONTROLLER_SMTP_ULR="smtp://x"))
    said = done.stdout + done.stderr
    verdict.check("CONTROLLER_SMTP_ULR" in said and "CONTROLLER_SMTP_URL" in said,
                  f"CONTROLLER_SMTP_ULR set: {[line for line in said.splitlines() if 'ULR' in line][:1]}")
    return verdict
