"""privacy, dynamic_cid, check_cid, language and webhook through the real server, with the
simulator as FreeSWITCH."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.scenario import Keypress
from controller.modules import dynamic_cid, webhook
from tests.office import call, flow, load, node
from tests.own_redis import wait_for

pytestmark = pytest.mark.timeout(60)
DIGITS = "play_and_get_digits"


def multisets(record: Any) -> str:
    return " ".join(arg for name, arg in record.apps if name == "multiset")


# --- privacy ----------------------------------------------------------------------------------


def test_privacy_hides_name_and_number_then_sends_the_call_where_the_captured_number_goes(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, {"id": "cf-privacy", "patterns": ["^\\*67(\\d+)$"], "flow": node("privacy", {"mode": "full"})},
         flow("1002", node("user", {"id": "u-bob", "timeout": 1})))
    record = call(esl_server, "*671002", internal_user="1001", caller_name="Ann Lee", caller_number="1001")
    assert ("privacy", "full") in record.apps
    assert "effective_caller_id_name=Anonymous" in multisets(record)
    assert "effective_caller_id_number=anonymous" in multisets(record)
    assert any(name == "bridge" and "1002@office.test" in arg for name, arg in record.apps)


def test_privacy_of_the_number_alone_keeps_the_name_and_continues_without_a_capture(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, flow("401", node("privacy", {"mode": "number"}, _=node("hangup", {}))))
    record = call(esl_server, "401")
    assert ("privacy", "number") in record.apps and "hangup" in record.app_names()
    assert "effective_caller_id_number=anonymous" in multisets(record)
    assert "effective_caller_id_name" not in multisets(record)


def test_privacy_to_a_number_no_callflow_takes_stops_the_call(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, {"id": "cf-privacy", "patterns": ["^\\*67(\\d+)$"], "flow": node("privacy", {})})
    record = call(esl_server, "*679999")
    assert "bridge" not in record.app_names()


# --- dynamic_cid ------------------------------------------------------------------------------


def test_dynamic_cid_manual_sets_the_keyed_in_number_and_dials_the_captured_one(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, {"id": "cf-dyn", "patterns": ["^\\*2(\\d{2,})$"],
               "flow": node("dynamic_cid", {"action": "manual"}, _=node("user", {"id": "u-bob", "timeout": 1}))})
    record = call(esl_server, "*21002", internal_user="1001",
                  keypresses=(Keypress("5557654321#", on=DIGITS),))
    assert "effective_caller_id_number=5557654321" in multisets(record)
    assert any(name == "playback" and "tone_stream://" in arg for name, arg in record.apps)
    assert any(name == "bridge" and "1002@office.test" in arg for name, arg in record.apps)


def test_dynamic_cid_manual_rejects_a_short_entry_and_keeps_the_callers_number(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    load(rds, flow("402", node("dynamic_cid", {"min_digits": 10})))
    record = call(esl_server, "402", keypresses=(Keypress("123#", on=DIGITS),))
    assert "effective_caller_id_number" not in multisets(record)
    assert any(name == "speak" and "Invalid caller" in arg for name, arg in record.apps)


def test_dynamic_cid_static_sets_the_caller_id_made_inert(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("403", node("dynamic_cid", {"action": "static",
                                                "caller_id": {"name": "Sales ${system(id)}", "number": "5555555555"}})))
    record = call(esl_server, "403")
    assert "effective_caller_id_number=5555555555" in multisets(record)
    assert "${" not in multisets(record) and "Sales \uff04{system(id)}" in multisets(record)


def test_dynamic_cid_lists_takes_the_entry_of_the_captured_key_and_dials_the_rest(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    entries = [{"capture_group_key": "01", "capture_group_length": 2, "number": "19058888888", "name": "Awesome Inc."},
               {"capture_group_key": "02", "number": "16139999999", "name": "Awesome Co."}]
    load(rds, {"id": "cf-dyn", "patterns": ["^\\*2([0-9]{2,})$"],
               "flow": node("dynamic_cid", {"action": "lists", "id": "cid-list"})},
         flow("1002", node("user", {"id": "u-bob", "timeout": 1})),
         lists=[{"id": "cid-list", "name": "Outgoing caller IDs", "entries": entries}])
    record = call(esl_server, "*2021002", internal_user="1001")
    assert "effective_caller_id_number=16139999999" in multisets(record)
    assert "effective_caller_id_name=Awesome Co." in multisets(record)
    assert any(name == "bridge" and "1002@office.test" in arg for name, arg in record.apps)
    unknown = call(esl_server, "*2091002", internal_user="1001")  # no entry has the key 09: a bad destination
    assert "bridge" not in unknown.app_names() and "effective_caller_id_number" not in multisets(unknown)


def test_dynamic_cid_list_entries_are_found_by_the_captured_key_or_a_named_group() -> None:
    entries = [{"capture_group_key": "01", "capture_group_length": 2, "number": "19058888888", "name": "Awesome Inc."},
               {"capture_group_key": "0", "capture_group_length": 1, "number": "16139999999", "name": "Awesome Co."}]

    assert dynamic_cid.find_entry(entries, "011002", {}, None) == (entries[0], "1002")
    assert dynamic_cid.find_entry(entries, "0991002", {}, None) == (entries[1], "991002")
    assert dynamic_cid.find_entry(entries, "1002", {"key": "01"}, "key") == (entries[0], "1002")
    assert dynamic_cid.find_entry(entries, "991002", {}, None) == (None, "")


# --- check_cid --------------------------------------------------------------------------------


CHECK = {"regex": "^\\+?1?(\\d{10})$", "caller_id": {"external": {"name": "VIP", "number": "+15550009999"}},
         "user_id": "u-ann"}


@pytest.mark.parametrize(("caller", "reached"), [("+15557770000", "match"), ("1234", "nomatch")])
def test_check_cid_takes_match_or_nomatch_by_the_regex(
    rds: redis.Redis, esl_server: OutboundServer, caller: str, reached: str
) -> None:
    load(rds, flow("404", node("check_cid", CHECK, match=node("say", {"text": "match", "say_type": "name_spelled"}),
                               nomatch=node("say", {"text": "nomatch", "say_type": "name_spelled"}))))
    record = call(esl_server, "404", caller_number=caller)
    said = [arg for name, arg in record.apps if name == "say"]
    assert len(said) == 1 and said[0].endswith(reached)
    assert ("effective_caller_id_name=VIP" in multisets(record)) == (reached == "match")


def test_check_cid_in_absolute_mode_takes_the_child_named_after_the_number(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    data = {**CHECK, "use_absolute_mode": True}
    children = {"+15557770000": node("hangup", {"hangup_cause": "CALL_REJECTED"}),
                "_": node("hangup", {"hangup_cause": "NORMAL_CLEARING"})}
    load(rds, flow("405", node("check_cid", data, **children)))
    vip = call(esl_server, "405", caller_number="+15557770000")
    other = call(esl_server, "405", caller_number="+15557770001")
    assert ("hangup", "CALL_REJECTED") in vip.apps and ("hangup", "NORMAL_CLEARING") in other.apps
    assert "effective_caller_id_name=VIP" not in multisets(other)


# --- language ---------------------------------------------------------------------------------


def test_language_sets_the_channels_default_language(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("406", node("language", {"language": "fr-CA"}, _=node("hangup", {}))))
    record = call(esl_server, "406")
    assert "default_language=fr-ca" in multisets(record) and "hangup" in record.app_names()


@pytest.fixture
def settings(settings: config.Settings) -> config.Settings:
    """The web application listens on loopback: tenants' URLs may reach it here."""
    return dataclasses.replace(settings, tenant_http_allow=(ipaddress.ip_network("127.0.0.0/8"),))


# --- webhook ----------------------------------------------------------------------------------


class Sink(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def _take(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Sink.seen.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
        self.send_response(500 if len(Sink.seen) == 1 and "retry" in self.path else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self._take()

    def do_GET(self) -> None:
        self._take()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def sink() -> Iterator[str]:
    Sink.seen = []
    server = HTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_webhook_posts_the_calls_data_without_holding_the_call(
    rds: redis.Redis, esl_server: OutboundServer, sink: str
) -> None:
    load(rds, flow("407", node("webhook", {"uri": sink + "/hook", "custom_data": {"app": "crm"}},
                               _=node("hangup", {}))))
    record = call(esl_server, "407", caller_name="Eve\r\nX-Evil: 1", caller_number="+15557770000")
    wait_for(lambda: len(Sink.seen) == 1)
    method, path, headers, body = Sink.seen[0]
    sent = json.loads(body)
    assert method == "POST" and path == "/hook" and "hangup" in record.app_names()
    assert sent["Call-ID"] == record.uuid and sent["Caller-ID-Number"] == "+15557770000"
    assert sent["Custom-Data"] == {"app": "crm"} and sent["Account-ID"] == "acct-test"
    assert "X-Evil" not in headers and all("Eve" not in value for value in headers.values())


def test_webhook_get_sends_query_parameters_and_retries_a_failure(sink: str) -> None:
    assert webhook.deliver(sink + "/retry", "get", {"Call-ID": "c1", "Custom-Data": {"a": 1}}, 1, "c1",
                           allow=[ipaddress.ip_network("127.0.0.0/8")])
    assert len(Sink.seen) == 2 and all(m == "GET" and "Call-ID=c1" in p for m, p, _, _ in Sink.seen)


def test_webhook_to_a_server_that_does_not_answer_gives_up_in_bounded_time() -> None:
    assert not webhook.deliver("http://127.0.0.1:9/none", "post", {}, 0, "c2",
                               allow=[ipaddress.ip_network("127.0.0.0/8")])
