"""The normal traffic beside `controller lab attack`, in a process of its own so that the attacker's
work never delays what is measured: a simulated call every `interval` seconds into the outbound
ESL server (answer, a short playback, hangup) and a GET of `/healthz` every `interval` seconds.

Each outcome is one JSON line appended to a file (a file, not a pipe: nobody reading it can slow
this process down): `{"k": "call", "t": <monotonic start>, "ms": <setup ms>, "ok": true}` (setup:
TCP connect to the first application, as `controller lab bench` measures it) and
`{"k": "health", "t": ..., "ms": <answer ms>, "status": 200}`. CLOCK_MONOTONIC is the same for
every process of the machine, so the attack's window selects its probes by `t`.

    python -m controller.lab.attack_probe ESL_HOST:PORT API_HOST:PORT NUMBER ACCOUNT OUT [INTERVAL]
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

import gevent
from gevent import socket as gsocket

from controller.lab.scenario import Scenario
from controller.lab.simulator import run_call

CALL_TIMEOUT = 20.0
HEALTH_TIMEOUT = 10.0


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def _write(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()


def _call(out: IO[str], esl: tuple[str, int], scenario: Scenario) -> None:
    started = time.monotonic()
    try:
        record = run_call(esl, scenario, timeout=CALL_TIMEOUT)
    except OSError as exc:
        _write(out, {"k": "call", "t": started, "ms": (time.monotonic() - started) * 1000, "ok": False,
                     "why": f"{type(exc).__name__}: {exc}"})
        return
    if record.first_execute_at is None:
        _write(out, {"k": "call", "t": started, "ms": (time.monotonic() - started) * 1000, "ok": False,
                     "why": f"no application ran (closed by {record.closed_by or 'nobody'})"})
        return
    ok = "answer" in record.app_names()
    _write(out, {"k": "call", "t": started, "ms": (record.first_execute_at - record.connected_at) * 1000,
                 "ok": ok, "why": "" if ok else f"apps {record.app_names()}"})


def _health(out: IO[str], api: tuple[str, int]) -> None:
    started = time.monotonic()
    status = 0
    try:
        with gsocket.create_connection(api, timeout=HEALTH_TIMEOUT) as sock:
            sock.settimeout(HEALTH_TIMEOUT)
            sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: lab\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    except (OSError, ValueError, IndexError):
        status = 0
    _write(out, {"k": "health", "t": started, "ms": (time.monotonic() - started) * 1000, "status": status})


def main(argv: list[str]) -> int:
    esl, api = _address(argv[0]), _address(argv[1])
    number, account, path = argv[2], argv[3], argv[4]
    interval = float(argv[5]) if len(argv) > 5 else 0.05
    scenario = Scenario(destination=number, caller_number="+15550009999", caller_name="Probe", account_id=account,
                        playback_seconds=0.005, time_scale=0.05)
    with open(path, "a", encoding="utf-8") as out:
        ticks = 0
        due = time.monotonic()
        while True:
            late = (time.monotonic() - due) * 1000
            if late > 20:  # this process itself was not scheduled: the machine is busy
                _write(out, {"k": "lag", "t": due, "ms": late})
            due = time.monotonic() + interval
            gevent.spawn(_call, out, esl, scenario)
            if ticks % 2 == 0:
                gevent.spawn(_health, out, api)
            ticks += 1
            gevent.sleep(interval)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
