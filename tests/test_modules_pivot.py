"""pivot against a web application served on loopback (gevent's WSGI server), through the real
ESL server with the simulator."""

import dataclasses
import ipaddress
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import gevent
import pytest
import redis
from gevent.pywsgi import WSGIServer

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.scenario import Keypress
from tests.office import call, flow, load, node

PLAY_PIVOTED = {"module": "play", "data": {"id": "/media/pivoted.wav"}, "children": {}}


class WebApp:
    """Answers by path; keeps what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.cdrs: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
        path = environ["PATH_INFO"]
        body = environ["wsgi.input"].read()
        if path == "/cdr":
            self.cdrs.append(json.loads(body))
            return self.answer(start, "200 OK", b"{}")
        form = parse_qs(body.decode()) if body else parse_qs(environ.get("QUERY_STRING", ""))
        self.requests.append((environ["REQUEST_METHOD"], form))
        if path == "/hang":
            gevent.sleep(5)
        answers = {
            "/flow": ("200 OK", json.dumps(PLAY_PIVOTED).encode()),
            "/document": ("200 OK", json.dumps({"flow": PLAY_PIVOTED}).encode()),
            "/error": ("500 Internal Server Error", b"oops"),
            "/notjson": ("200 OK", b"<Response><Say>hi</Say></Response>"),
            "/invalid": ("200 OK", json.dumps({"module": "play", "data": {"id": 5}}).encode()),
            "/huge": ("200 OK", b"[" + b" " * 300_000 + b"]"),
        }
        status, payload = answers.get(path, ("404 Not Found", b""))
        return self.answer(start, status, payload)

    @staticmethod
    def answer(start: Callable[..., Any], status: str, payload: bytes) -> list[bytes]:
        start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


@pytest.fixture
def settings(settings: config.Settings) -> config.Settings:
    """The web application listens on loopback: tenants' URLs may reach it here."""
    return dataclasses.replace(settings, tenant_http_allow=(ipaddress.ip_network("127.0.0.0/8"),))


@pytest.fixture
def webapp() -> Iterator[tuple[WebApp, str]]:
    app = WebApp()
    server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.stop(timeout=1)


def pivot(url: str, **data: Any) -> dict[str, Any]:
    return node("pivot", {"voice_url": url, **data}, _=node("play", {"id": "/media/fallback.wav"}))


def test_the_answer_runs_then_the_flow_continues(rds: redis.Redis, esl_server: OutboundServer,
                                                 webapp: tuple[WebApp, str]) -> None:
    app, base = webapp
    collect = node("collect_dtmf", {"collection_name": "account", "max_digits": 4},
                   _=pivot(base + "/flow", method="POST"))
    load(rds, flow("800", collect), flow("801", pivot(base + "/document")))
    record = call(esl_server, "800", caller_name="Dan\r\nX-Evil: 1", keypresses=(Keypress("4711"),), time_scale=0.01)
    assert record.args_of("playback") == ["/media/pivoted.wav", "/media/fallback.wav"]
    method, sent = app.requests[0]
    assert method == "POST"
    assert sent["Call-ID"] == [record.uuid] and sent["Account-ID"] == ["acct-test"]
    assert sent["Digits-account"] == ["4711"] and sent["To"] == ["800"]
    assert sent["Caller-ID-Name"] == ["Dan\r\nX-Evil: 1"]  # sent as data, encoded: never a header
    record = call(esl_server, "801")
    assert record.args_of("playback")[0] == "/media/pivoted.wav"
    assert app.requests[1][0] == "GET"


@pytest.mark.parametrize("path", ["/error", "/notjson", "/invalid", "/huge", "/missing"])
def test_a_bad_answer_takes_the_fallback_child(rds: redis.Redis, esl_server: OutboundServer,
                                               webapp: tuple[WebApp, str], path: str) -> None:
    _, base = webapp
    load(rds, flow("802", pivot(base + path)))
    assert call(esl_server, "802").args_of("playback") == ["/media/fallback.wav"]


def test_a_hanging_server_times_out_without_holding_other_calls(rds: redis.Redis, esl_server: OutboundServer,
                                                                webapp: tuple[WebApp, str]) -> None:
    _, base = webapp
    load(rds, flow("803", pivot(base + "/hang", timeout=1)), flow("804", node("play", {"id": "/media/quick.wav"})))
    started = time.monotonic()
    slow = gevent.spawn(call, esl_server, "803")
    gevent.sleep(0.1)
    quick = call(esl_server, "804")
    assert quick.args_of("playback") == ["/media/quick.wav"]
    assert time.monotonic() - started < 0.9  # answered while the pivot still waits
    assert slow.get(timeout=10).args_of("playback") == ["/media/fallback.wav"]


def test_the_call_record_is_posted_when_the_call_ends(rds: redis.Redis, esl_server: OutboundServer,
                                                       webapp: tuple[WebApp, str]) -> None:
    app, base = webapp
    load(rds, flow("805", pivot(base + "/flow", cdr_url=base + "/cdr")))
    record = call(esl_server, "805")
    deadline = time.monotonic() + 5
    while not app.cdrs and time.monotonic() < deadline:
        gevent.sleep(0.02)
    [cdr] = app.cdrs
    assert cdr["call_id"] == record.uuid and cdr["dialed_number"] == "805"
