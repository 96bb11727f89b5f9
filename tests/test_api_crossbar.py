"""Crossbar's request and answer conventions over real HTTP: a verb tunnelled through POST or GET
(`?verb=` or the envelope's `verb`), and every error, wherever it is answered (the app, the
operations routes, the HTTP server itself), in Crossbar's error envelope."""

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests

from controller.api.ops import OpsApp
from controller.api.server import ApiServer
from controller.metrics import Metrics
from controller.services import Services
from tests.api_world import Client, serve_api

pytestmark = pytest.mark.timeout(60)

USERS = "/v2/accounts/child/users"


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def test_a_post_tunnels_put_patch_and_delete_in_the_query_string(api: Client) -> None:
    made = api.call("POST", USERS + "?verb=PUT", json={"data": {"id": "u-tunnel", "first_name": "Tess"}})
    assert made.status_code == 201 and made.json()["data"]["first_name"] == "Tess"
    patched = api.ok("POST", USERS + "/u-tunnel?verb=patch", json={"data": {"last_name": "Nell"}})
    assert patched["first_name"] == "Tess" and patched["last_name"] == "Nell"  # merged, as PATCH does
    assert api.ok("POST", USERS + "/u-tunnel?verb=DELETE")["id"] == "u-tunnel"
    assert api.call("GET", USERS + "/u-tunnel").status_code == 404


def test_a_post_tunnels_the_verb_of_its_json_envelope(api: Client) -> None:
    api.ok("PUT", USERS, json={"data": {"id": "u-env", "first_name": "Eve", "last_name": "Lane"}})
    patched = api.ok("POST", USERS + "/u-env", json={"data": {"first_name": "Eva"}, "verb": "PATCH"})
    assert patched == {"id": "u-env", "first_name": "Eva", "last_name": "Lane"}
    replaced = api.ok("POST", USERS + "/u-env", json={"data": {"first_name": "Ada"}})
    assert "last_name" not in replaced  # without a verb a POST still replaces
    assert api.call("POST", USERS + "/u-env", json={"verb": "delete"}).status_code == 200
    assert api.call("GET", USERS + "/u-env").status_code == 404


def test_a_get_tunnels_a_delete_and_a_tunnelled_write_needs_the_same_rights(api: Client) -> None:
    api.ok("PUT", USERS, json={"data": {"id": "u-get", "first_name": "Gus"}})
    refused = api.call("GET", USERS + "/u-get?verb=DELETE", "reseller_ro")
    assert refused.status_code == 403 and refused.json()["data"]["token"]["admin"]
    out_of_reach = api.call("POST", "/v2/accounts/reseller/users?verb=PUT", "child", json={"data": {}})
    assert out_of_reach.status_code == 403
    assert api.ok("GET", USERS + "/u-get?verb=DELETE")["id"] == "u-get"
    assert api.call("GET", USERS + "/u-get").status_code == 404
    wrong = api.call("POST", USERS + "?verb=TRACE", json={"data": {}})
    assert wrong.status_code == 400 and "verb" in wrong.json()["data"]
    not_here = api.call("POST", "/v2/accounts/child/children?verb=DELETE")
    assert not_here.status_code == 405 and not_here.headers["Allow"] == "GET, HEAD, OPTIONS"


def crossbar_error(response: requests.Response, code: int, token: str = "") -> dict[str, Any]:
    """The answer is Crossbar's error envelope for `code`, echoing the request's token."""
    assert response.status_code == code, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert {"data", "error", "message", "status", "request_id", "auth_token"} <= set(body), body
    assert body["status"] == "error" and body["error"] == str(code) and body["message"]
    assert isinstance(body["data"], dict) and body["request_id"] and body["auth_token"] == token
    return dict(body)


def test_every_error_the_app_answers_is_in_crossbars_envelope(api: Client) -> None:
    token = api.tokens["child"]
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/v2/accounts/child", {"headers": {"X-Auth-Token": "not-a-token"}}, 401),
        ("GET", "/v2/accounts/reseller", {}, 403),
        ("GET", "/v2/nowhere", {}, 404),
        ("GET", USERS + "/nobody", {}, 404),
        ("DELETE", "/v2/accounts/child/children", {}, 405),
        ("GET", USERS, {"headers": {"Accept": "image/png"}}, 406),
        ("PUT", USERS, {"json": {"data": {"id": "u-dup"}}}, 201),
        ("PUT", USERS, {"json": {"data": {"id": "u-dup"}}}, 409),
        ("PUT", USERS, {"data": b"x" * 1_100_000, "headers": {"Content-Type": "application/json"}}, 413),
        ("PUT", USERS, {"data": b"<x/>", "headers": {"Content-Type": "application/xml"}}, 415),
        ("PUT", USERS, {"data": b'{"data": ', "headers": {"Content-Type": "application/json"}}, 400),
        ("GET", "/v2/accounts/child:x/users", {}, 400),
        ("PUT", USERS + "?verb=PUT", {"json": {"data": {"id": "bad id"}}}, 400),
    ]
    for method, path, options, code in cases:
        sent = options.get("headers", {}).get("X-Auth-Token", token)
        response = api.call(method, path, "child", **options)
        if code == 201:
            assert response.status_code == 201
            continue
        body = crossbar_error(response, code, sent)
        assert response.headers["X-Request-ID"] == body["request_id"], path


def raw_exchange(port: int, request: bytes) -> tuple[str, dict[str, Any]]:
    """Send bytes as they are, read the whole answer: its status line and JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert "Content-Type: application/json" in lines, lines
    return lines[0], json.loads(body)


def failing_app(environ: dict[str, Any], start: Any) -> list[bytes]:
    raise RuntimeError("a WSGI app that fails before it answers")


def test_the_http_servers_own_refusals_are_in_crossbars_envelope(services: Services) -> None:
    server = ApiServer(("127.0.0.1", 0), failing_app, log=None, error_log=None)
    server.start()
    try:
        status, body = raw_exchange(server.server_port, b"NOT A REQUEST\r\n\r\n")
        assert status == "HTTP/1.1 400 Bad Request" and body["error"] == "400" and body["status"] == "error"
        assert "request" in body["data"]
        status, body = raw_exchange(server.server_port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
        assert status == "HTTP/1.1 414 Request URI Too Long" and body["error"] == "414"
        status, body = raw_exchange(server.server_port, b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == "HTTP/1.1 500 Internal Server Error" and body["message"] == "internal error"
    finally:
        server.stop(timeout=2)


def test_the_operations_routes_refuse_a_write_in_crossbars_envelope(rds: redis.Redis) -> None:
    app = OpsApp(lambda environ, start: [b"api"], rds, Metrics())
    seen: list[Any] = []
    body = b"".join(app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "POST"}, lambda *a: seen.append(a)))
    [(status, headers)] = seen
    assert status.startswith("405") and ("Allow", "GET, HEAD") in headers
    refusal = json.loads(body)
    assert refusal["status"] == "error" and refusal["error"] == "405" and refusal["data"]["method"]
