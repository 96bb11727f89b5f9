"""Attacks through the HTTP API with the tokens an attacker could hold (account A's or B's admin or
read-only token): templates that cost CPU or memory to compile, sandbox escapes, another tenant's
number or data, inputs too big, too deep or not text, regular expressions built to backtrack."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from controller.lab.attack_world import B_NUMBER, PROBE_NUMBER, Verdict, World
from controller.lab.scenario import Scenario
from controller.lab.simulator import run_call

FAST = 2.0  # seconds: a refusal answered at once


def _preview(world: World, token: str, plain: str, timeout: float = 60.0) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = world.call("POST", f"/v2/accounts/{world.a.id}/notifications/missed_call/preview", token,
                          json={"data": {"plain": plain}}, timeout=timeout)
    return response, time.monotonic() - started


def _refused(verdict: Verdict, response: requests.Response, took: float, what: str, status: int = 400) -> None:
    reason = _reason(response)
    verdict.check(response.status_code == status and took < FAST and "Traceback" not in response.text,
                  f"{what}: {response.status_code} in {took * 1000:.0f} ms {reason}")


def _reason(response: requests.Response) -> str:
    try:
        data = response.json().get("data")
    except ValueError:
        return repr(response.text[:120])
    return json.dumps(data)[:140] if data else ""


def template_fold(world: World) -> Verdict:
    """A read-only token previews a power Jinja2 would fold while compiling (12.8 s before)."""
    verdict = Verdict(True)
    response, took = _preview(world, world.a.read_only, "{{ 3**(3*10**7) % 10 }}")
    _refused(verdict, response, took, "read-only preview of {{ 3**(3*10**7) % 10 }}")
    return verdict


def template_repeat(world: World) -> Verdict:
    """Three previews of a 100 MB string (compiled forms kept in the cache before: 259 -> 552 MB)."""
    verdict = Verdict(True)
    for index in range(3):
        response, took = _preview(world, world.a.read_only, "{{ 'a' * 10**8 }}" + " " * index)
        _refused(verdict, response, took, f"preview {index + 1} of {{{{ 'a' * 10**8 }}}}")
    return verdict


def template_power(world: World) -> Verdict:
    verdict = Verdict(True)
    response, took = _preview(world, world.a.read_only, "{{ 3**(10**5) }}")
    _refused(verdict, response, took, "preview of {{ 3**(10**5) }} (a 500 before)")
    return verdict


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ config }}{{ request }}{{ self }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ (user|attr('__class__')).__mro__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ joiner.__init__.__globals__.__builtins__.open('/etc/passwd').read() }}",
    "{{ account.__class__.__init__.__globals__ }}",
    "{{ '{0.__class__.__mro__}'.format(1) }}",
    "{{ '%s'|format(user.__class__) }}",
]
LEAKS = ("uid=", "root:x:", "<class", "<module", "<function", "__builtins__", "subprocess", "os.popen")


def sandbox_escape(world: World) -> Verdict:
    """Escapes through a preview with account A's admin token: refused (400), or rendered with
    nothing of Python's objects in the output."""
    verdict = Verdict(True)
    refused = rendered = 0
    for source in ESCAPES:
        response, took = _preview(world, world.a.admin, source)
        leak = [marker for marker in LEAKS if marker in response.text]
        ok = response.status_code in (200, 400) and not leak and took < FAST
        refused += response.status_code == 400
        rendered += response.status_code == 200
        if not ok:
            verdict.check(False, f"{source}: {response.status_code} {response.text[:160]!r}")
    verdict.check(verdict.held, f"{len(ESCAPES)} escapes: {refused} refused (400), {rendered} rendered inert")
    return verdict


REDOS = ["^(a+)+$", "^(a|aa)+$", "^(.*a){25}$", "^(\\d+)+x$", "^(\\d|\\d\\d)+x$", "^((\\d*)*)*y$"]


def redos(world: World) -> Verdict:
    """Patterns built to backtrack, saved by A's admin, then a call whose number makes each try
    its worst: the call is routed (or refused) in linear time."""
    verdict = Verdict(True)
    response = world.call("PUT", f"/v2/accounts/{world.a.id}/callflows", world.a.admin,
                          json={"data": {"name": "redos", "patterns": REDOS, "flow": {"module": "answer", "data": {}}}})
    verdict.seen.append(f"save: {response.status_code} {_reason(response)[:80]}")
    verdict.check(response.status_code in (200, 201, 400, 409), f"save of {len(REDOS)} patterns answered")
    started = time.monotonic()
    record = run_call(world.esl, Scenario(destination="1" * 60 + "z", account_id=world.a.id, time_scale=0.05),
                      timeout=20)
    took = time.monotonic() - started
    verdict.check(took < FAST, f"a call to 1x60 + 'z' ended in {took * 1000:.0f} ms ({record.hangup_cause})")
    if response.status_code in (200, 201):
        world.call("DELETE", f"/v2/accounts/{world.a.id}/callflows/{response.json()['data']['id']}", world.a.admin)
    return verdict


def cross_account(world: World) -> Verdict:
    """A's tokens (admin and read-only) read and write B's documents: 403 (or 404), nothing of B shown."""
    verdict = Verdict(True)
    b = world.b
    cf = b.callflows[B_NUMBER]
    reads = [f"/v2/accounts/{b.id}", f"/v2/accounts/{b.id}/users", f"/v2/accounts/{b.id}/users/{b.user}",
             f"/v2/accounts/{b.id}/callflows", f"/v2/accounts/{b.id}/callflows/{cf}", f"/v2/accounts/{b.id}/devices",
             f"/v2/accounts/{b.id}/children", f"/v2/accounts/{b.id}/notifications",
             f"/v2/accounts/{b.id}/notifications/missed_call", f"/v2/accounts/{b.id}/notifications/smtplog",
             f"/v2/accounts/{b.id}/vmboxes"]
    writes = [("POST", f"/v2/accounts/{b.id}", {"data": {"name": "taken"}}),
              ("PATCH", f"/v2/accounts/{b.id}/users/{b.user}", {"data": {"email": "x@evil.example"}}),
              ("DELETE", f"/v2/accounts/{b.id}/callflows/{cf}", None),
              ("PUT", f"/v2/accounts/{b.id}/users", {"data": {"first_name": "Mallory"}}),
              ("POST", f"/v2/accounts/{b.id}/notifications/missed_call/preview", {"data": {"plain": "x"}})]
    secrets = (b.id, b.name, b.realm, b.user, cf, B_NUMBER)
    tried = 0
    for token in (world.a.admin, world.a.read_only):
        attempts = [("GET", path, None) for path in reads] + writes
        for method, path, body in attempts:
            response = world.call(method, path, token, json=body)
            tried += 1
            shown = [s for s in secrets if s in response.text.replace(path, "")]
            if response.status_code not in (403, 404) or shown:
                verdict.check(False, f"{method} {path}: {response.status_code}, shows {shown} {response.text[:120]!r}")
    response = world.call("PUT", f"/v2/accounts/{b.id}/users", b.read_only, json={"data": {"first_name": "Ro"}})
    verdict.check(response.status_code == 403, f"B's read-only token writing B: {response.status_code}")
    verdict.check(verdict.held, f"{tried} reads and writes of B with A's tokens: all 403/404, nothing of B shown")
    return verdict


def number_takeover(world: World) -> Verdict:
    """B's admin claims the number A's calls use; then a call to it must still reach A."""
    verdict = Verdict(True)
    a = world.a
    secrets = (a.id, a.name, a.realm, a.callflows[PROBE_NUMBER])
    response = world.call("PUT", f"/v2/accounts/{world.b.id}/callflows", world.b.admin,
                          json={"data": {"numbers": [PROBE_NUMBER], "flow": {"module": "hangup", "data": {}}}})
    shown = [s for s in secrets if s in response.text]
    verdict.check(response.status_code == 409 and not shown,
                  f"B's admin PUT a callflow with A's number: {response.status_code} {_reason(response)[:90]}"
                  + (f", shows {shown}" if shown else ""))
    covering = {"patterns": ["^\\+1555010000[0-9]$"], "flow": {"module": "hangup", "data": {}}}
    pattern = world.call("PUT", f"/v2/accounts/{world.b.id}/callflows", world.b.admin, json={"data": covering})
    verdict.seen.append(f"(not judged) a pattern of B matching A's number: {pattern.status_code}")
    if pattern.status_code in (200, 201):
        world.call("DELETE", f"/v2/accounts/{world.b.id}/callflows/{pattern.json()['data']['id']}", world.b.admin)
    bundle = world.folder / "takeover.json"
    bundle.write_text(json.dumps({"account": {"id": world.b.id, "name": world.b.name, "realm": world.b.realm},
                                  "callflows": [{"id": "grab", "numbers": [PROBE_NUMBER],
                                                 "flow": {"module": "hangup", "data": {}}}]}))
    loaded = world.cli("flows", "load", str(bundle))
    said = (loaded.stdout + loaded.stderr).strip()
    verdict.check(loaded.returncode != 0 and not any(s in said for s in secrets) and "Traceback" not in said,
                  f"flows load of B's bundle with A's number: exit {loaded.returncode}, {said.splitlines()[-1:]}")
    record = run_call(world.esl, Scenario(destination=PROBE_NUMBER, time_scale=0.05), timeout=20)
    verdict.check(record.app_names()[:1] == ["answer"], f"a call to A's number then runs {record.app_names()}")
    return verdict


def heavy_numbers(world: World) -> Verdict:
    """Three PUTs of a callflow with 100,000 numbers (about 1 s of the process each before)."""
    verdict = Verdict(True)
    numbers = [f"+1666{n:07d}" for n in range(100_000)]
    body = json.dumps({"data": {"numbers": numbers, "flow": {"module": "answer", "data": {}}}})
    for _ in range(3):
        started = time.monotonic()
        response = world.call("PUT", f"/v2/accounts/{world.b.id}/callflows", world.b.admin, data=body,
                              headers={"Content-Type": "application/json"})
        _refused(verdict, response, time.monotonic() - started, "100,000 numbers", status=response.status_code
                 if response.status_code in (400, 413) else 400)
    return verdict


def heavy_previews(world: World) -> Verdict:
    """Ten previews at once, each a loop that renders for about half a second (under the 1 s
    limit): rendering runs in the API role, never on the loop that serves calls."""
    verdict = Verdict(True)
    source = heavy_template(world)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: _preview(world, world.a.read_only, source), range(10)))
    statuses = sorted({r.status_code for r, _ in answers})
    slowest = max(took for _, took in answers)
    verdict.check(all(r.status_code in (200, 400) for r, _ in answers),
                  f"10 previews at once: statuses {statuses}, the slowest {slowest:.1f} s")
    return verdict


_HEAVY: dict[str, str] = {}


def heavy_template(world: World) -> str:
    """A template that renders for about half a second through the API (found once per run)."""
    if "source" in _HEAVY:
        return _HEAVY["source"]
    rounds = 20
    for _ in range(12):
        source = "{% for i in range(" + str(rounds) + ") %}{% for j in range(1000) %}{% endfor %}{% endfor %}"
        response, took = _preview(world, world.a.admin, source)
        if response.status_code != 200 or took > 0.4:
            break
        rounds = int(rounds * min(8.0, 0.5 / max(took, 0.01)))
    _HEAVY["source"] = source
    return source


def bad_input(world: World) -> Verdict:
    """Input that answered 500 with a traceback: a key separator in an id, a lone surrogate,
    a flow nested 200 deep, bytes that are not UTF-8, and `flows check` of a deep file."""
    verdict = Verdict(True)
    aid = world.a.id
    nested: dict[str, Any] = {"module": "answer", "data": {}}
    for _ in range(200):
        nested = {"module": "answer", "data": {}, "children": {"_": nested}}
    tries: list[tuple[str, str, Any]] = [
        ("GET", f"/v2/accounts/{aid}:numbers/users", None),
        ("GET", f"/v2/accounts/{aid}/users/a:b", None),
        ("PUT", f"/v2/accounts/{aid}/users", '{"data": {"first_name": "\\ud800", "last_name": "X"}}'),
        ("PUT", f"/v2/accounts/{aid}/users", b'{"data": {"first_name": "\xff\xfe"}}'),
        ("PUT", f"/v2/accounts/{aid}/callflows", json.dumps({"data": {"numbers": ["+15559990000"], "flow": nested}})),
        ("PUT", f"/v2/accounts/{aid}/callflows", '{"data": [[[[' * 2000),
    ]
    for method, path, body in tries:
        started = time.monotonic()
        response = world.call(method, path, world.a.admin, data=body, headers={"Content-Type": "application/json"})
        took = time.monotonic() - started
        label = path.replace(aid, "A") if body is None else f"{method} {str(body)[:40]!r}"
        verdict.check(response.status_code == 400 and len(response.text) < 4000 and "Traceback" not in response.text
                      and took < FAST, f"{label}: {response.status_code}, {len(response.text)} bytes")
    deep = world.folder / "deep.json"
    deep.write_text(json.dumps({"numbers": ["+15559990001"], "flow": nested}))
    checked = world.cli("flows", "check", str(deep))
    said = (checked.stdout + checked.stderr).strip()
    verdict.check(checked.returncode != 0 and "Traceback" not in said and len(said.splitlines()) <= 3,
                  f"flows check of a flow 200 deep: exit {checked.returncode}, {len(said.splitlines())} line(s)")
    return verdict
