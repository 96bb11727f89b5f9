"""A tenant's URLs never reach the PBX's own services (controller/tenant_http.py): the controller's
requests (webhook, pivot, pivot's cdr_url) are refused once connected to such an address, before
a byte is sent, redirects included; a URL FreeSWITCH would fetch (play, record_call through
mod_http_cache) is refused before it is sent to FreeSWITCH."""

import dataclasses
import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import redis
import requests

from controller import config, tenant_http
from controller.esl.server import OutboundServer
from controller.modules import pivot, webhook
from tests.office import call, flow, load, node

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0", "::",
    "224.0.0.1", "ff02::1", "240.0.0.1", "0.1.2.3",
])
def test_the_pbxs_own_and_special_addresses_are_refused(address: str) -> None:
    assert tenant_http.why_refused(address) is not None


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.9", "192.168.1.20", "fd00::5", "203.0.113.7", "8.8.8.8"])
def test_private_and_public_addresses_may_be_reached(address: str) -> None:
    assert tenant_http.why_refused(address) is None


def test_the_operator_lets_chosen_networks_through_and_a_machines_own_address_is_refused() -> None:
    assert tenant_http.why_refused("127.0.0.1", LOOPBACK) is None
    assert tenant_http.why_refused("::ffff:127.0.0.1", LOOPBACK) is None
    assert tenant_http.why_refused("10.0.0.5", own=True) == "10.0.0.5 is an address of this machine"
    assert tenant_http.why_refused("not-an-ip") is not None


def test_a_url_freeswitch_would_fetch_is_judged_by_its_hosts_addresses() -> None:
    refused = tenant_http.refused_url("http://127.0.0.1:8080/webapi/system")
    assert refused == "127.0.0.1: 127.0.0.1 is a loopback address"
    assert tenant_http.refused_url("https://[::1]/a.wav") is not None
    assert tenant_http.refused_url("http://localhost/a.wav") is not None
    assert tenant_http.refused_url("http://169.254.169.254/latest/meta-data/") is not None
    assert tenant_http.refused_url("https://203.0.113.7/a.mp3") is None
    assert tenant_http.refused_url("http://127.0.0.1/a.wav", LOOPBACK) is None
    assert tenant_http.refused_url("http://no-such-host.invalid/a.wav") is not None  # cannot be judged


class Recorder(BaseHTTPRequestHandler):
    """Answers 200 (or a redirect to `location`) and counts the requests that reached it."""

    location = ""

    def do_GET(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]
        if self.location:
            self.send_response(302)
            self.send_header("Location", self.location)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def serve(host: str, location: str = "") -> Iterator[HTTPServer]:
    handler = type("Handler", (Recorder,), {"location": location})
    server = HTTPServer((host, 0), handler)
    server.hits = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def local() -> Iterator[HTTPServer]:
    yield from serve("127.0.0.1")


def url_of(server: HTTPServer, path: str = "/") -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


def test_a_request_to_loopback_is_refused_before_a_byte_is_sent(local: HTTPServer) -> None:
    with tenant_http.session() as http, pytest.raises(requests.ConnectionError) as refused:
        http.get(url_of(local), timeout=5)
    assert tenant_http.refusal(refused.value) == "refused: 127.0.0.1 is a loopback address"
    assert local.hits == 0  # type: ignore[attr-defined]
    with tenant_http.session(LOOPBACK) as http:
        assert http.get(url_of(local), timeout=5).status_code == 200
    assert local.hits == 1  # type: ignore[attr-defined]


def test_a_redirect_to_a_refused_address_is_refused(local: HTTPServer) -> None:
    """An allowed server (127.0.0.2, let through) redirects to 127.0.0.1 (not): refused there."""
    for hop in serve("127.0.0.2", location=url_of(local, "/secret")):
        with pytest.raises(pivot.PivotError, match=r"127\.0\.0\.1 is a loopback address"):
            pivot.fetch({"voice_url": url_of(hop)}, {}, [ipaddress.ip_network("127.0.0.2/32")])
        assert hop.hits == 1  # type: ignore[attr-defined]
    assert local.hits == 0  # type: ignore[attr-defined]


def own_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_a_request_to_this_machines_own_address_is_refused() -> None:
    address = own_address()
    if address is None:
        pytest.skip("this machine has no address beside loopback")
    for server in serve("0.0.0.0"):
        port = server.server_address[1]
        with tenant_http.session() as http, pytest.raises(requests.ConnectionError) as refused:
            http.get(f"http://{address}:{port}/", timeout=5)
        assert tenant_http.refusal(refused.value) == f"refused: {address} is an address of this machine"
        assert server.hits == 0  # type: ignore[attr-defined]


def test_a_webhook_to_loopback_sends_nothing_unless_the_operator_allows_it(local: HTTPServer) -> None:
    assert not webhook.deliver(url_of(local, "/hook"), "post", {"Call-ID": "c1"}, 0, "c1")
    assert local.hits == 0  # type: ignore[attr-defined]
    assert webhook.deliver(url_of(local, "/hook"), "post", {"Call-ID": "c1"}, 0, "c1", allow=LOOPBACK)
    assert local.hits == 1  # type: ignore[attr-defined]


@pytest.fixture
def settings(settings: config.Settings) -> config.Settings:
    return dataclasses.replace(settings, tenant_http_allow=(ipaddress.ip_network("127.0.0.2/32"),))


def test_freeswitch_is_never_asked_to_fetch_a_refused_url(rds: redis.Redis, esl_server: OutboundServer) -> None:
    """play and record_call with loopback URLs: neither reaches FreeSWITCH, the flow goes on at
    `_`; an address the operator let through is played."""
    after = node("play", {"id": "/media/after.wav"})
    load(
        rds,
        flow("901", node("play", {"id": "http://127.0.0.1:8080/webapi/system?touch"}, _=after)),
        flow("902", node("record_call", {"action": "start", "url": "http://169.254.169.254/up/"}, _=after)),
        flow("903", node("play", {"id": "http://127.0.0.2/ok.wav"})),
    )
    for number in ("901", "902"):
        record = call(esl_server, number)
        assert not [arg for _, arg in record.apps if "http_cache" in arg], record.apps
        assert record.args_of("playback")[-1] == "/media/after.wav"
    assert call(esl_server, "903").args_of("playback") == ["http_cache://http://127.0.0.2/ok.wav"]
