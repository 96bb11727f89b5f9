"""A Kazoo account brought over as Kazoo exports it: its documents as Crossbar serves them (with
the fields Kazoo writes that this product does not use), PUT one by one through the API, then
calls routed as Kazoo would route them: business hours to a stored menu whose greeting is a
media document, a key to a user whose phone nobody answers, then that user's voicemail box;
after hours straight to the main box; an extension from one of the account's phones."""

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.modules import temporal_route
from controller.services import Services
from tests.api_world import Client, serve_api
from tests.office import call

ACCOUNT = "child"
MAIN = "+15551230000"
# As Crossbar answers GET /v2/accounts/{id}/<kind>/{id} on a Kazoo 4.3 account (ids shortened).
USERS = [
    {"id": "u-alice", "first_name": "Alice", "last_name": "Archer", "username": "alice",
     "email": "alice@child.test", "priv_level": "admin", "vm_to_email_enabled": True,
     "timezone": "America/New_York", "call_restriction": {}, "caller_id": {"internal": {"number": "1001"}},
     "contact_list": {}, "dial_plan": {}, "music_on_hold": {}, "presence_id": "1001", "enabled": True,
     "hotdesk": {"enabled": False, "keep_logged_in_elsewhere": False, "require_pin": False},
     "call_forward": {"enabled": False, "require_keypress": True, "keep_caller_id": True, "substitute": False},
     "ringtones": {}, "verified": False, "apps": {}, "language": "en-us"},
    {"id": "u-bob", "first_name": "Bob", "last_name": "Baker", "username": "bob", "email": "bob@child.test",
     "priv_level": "user", "enabled": True, "call_restriction": {}, "music_on_hold": {}, "presence_id": "1002"},
]
DEVICES = [
    {"id": "d-alice", "name": "Alice desk", "owner_id": "u-alice", "device_type": "sip_device", "enabled": True,
     "sip": {"username": "alice-desk", "password": "s3cret-alice", "method": "password",
             "invite_format": "username", "expire_seconds": 300},
     "media": {"audio": {"codecs": ["PCMU", "PCMA"]}, "video": {"codecs": []},
               "encryption": {"enforce_security": False}},
     "call_restriction": {}, "caller_id": {}, "music_on_hold": {}, "contact_list": {},
     "register_overwrite_notify": False,
     "suppress_unregister_notifications": False, "exclude_from_queues": False, "ringtones": {}},
    {"id": "d-bob", "name": "Bob softphone", "owner_id": "u-bob", "device_type": "softphone", "enabled": True,
     "sip": {"username": "bob-soft", "password": "s3cret-bob", "method": "password", "invite_format": "username"}},
]
VMBOXES = [
    {"id": "vm-alice", "name": "Alice's box", "mailbox": "1001", "owner_id": "u-alice", "pin": "1234",
     "timezone": "America/New_York", "check_if_owner": True, "require_pin": True, "is_setup": True,
     "delete_after_notify": False, "skip_greeting": False, "skip_instructions": False, "not_configurable": False,
     "media": {}, "notify_email_addresses": [], "save_after_notify": False},
    {"id": "vm-main", "name": "Main box", "mailbox": "100", "pin": "0000", "require_pin": True, "media": {}},
]
MEDIA = [{"id": "med-greeting", "name": "Main greeting", "media_source": "tts", "streamable": True,
          "description": "tts greeting", "language": "en-us",
          "tts": {"text": "Thank you for calling. Press 1 for Alice.", "voice": "female/en-US"}}]
MENUS = [{"id": "m-main", "name": "Main menu", "retries": 3, "timeout": 10000, "max_extension_length": 4,
          "hunt": True, "allow_record_from_offnet": False, "suppress_media": False,
          "media": {"greeting": "med-greeting", "exit_media": True, "invalid_media": True, "transfer_media": True}}]
TEMPORAL_RULES = [{"id": "r-hours", "name": "Business hours", "cycle": "weekly", "interval": 1,
                   "wdays": ["monday", "tuesday", "wensday", "thursday", "friday"], "ordinal": "every",
                   "time_window_start": 32400, "time_window_stop": 61200, "start_date": 62586115200}]


def node(module: str, data: dict[str, Any], **children: dict[str, Any]) -> dict[str, Any]:
    return {"module": module, "data": data, "children": children}


CALLFLOWS = [
    {"id": "cf-main", "name": "Main number", "numbers": [MAIN], "patterns": [], "contact_list": {"exclude": False},
     "flow": node("temporal_route", {"timezone": "America/New_York"},
                  **{"r-hours": node("menu", {"id": "m-main"},
                                     **{"1": node("user", {"id": "u-alice", "timeout": 20, "can_call_self": False},
                                                  _=node("voicemail", {"id": "vm-alice"}))}),
                     "_": node("voicemail", {"id": "vm-main"})})},
    {"id": "cf-1002", "name": "Bob", "numbers": ["1002"],
     "flow": node("user", {"id": "u-bob", "timeout": 20}, _=node("voicemail", {"id": "vm-main"}))},
]


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


@pytest.fixture
def exported(api: Client) -> Client:
    """The account's documents PUT through the API in the order an import would use."""
    for kind, docs in (("users", USERS), ("devices", DEVICES), ("vmboxes", VMBOXES), ("media", MEDIA),
                       ("menus", MENUS), ("temporal_rules", TEMPORAL_RULES), ("callflows", CALLFLOWS)):
        for doc in docs:
            response = api.call("PUT", f"/v2/accounts/{ACCOUNT}/{kind}", json={"data": doc})
            assert response.status_code == 201, (kind, doc["id"], response.text)
    return api


def at(monkeypatch: pytest.MonkeyPatch, hour: int) -> None:
    """Wednesday 2 December 2026 at `hour`:00 in New York."""
    moment = datetime.datetime(2026, 12, 2, hour, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))
    monkeypatch.setattr(temporal_route, "current_time", moment.astimezone)


def test_every_exported_document_loads_through_the_api_and_reads_back(exported: Client) -> None:
    for kind, docs in (("users", USERS), ("devices", DEVICES), ("menus", MENUS), ("callflows", CALLFLOWS)):
        stored = {doc["id"] for doc in exported.ok("GET", f"/v2/accounts/{ACCOUNT}/{kind}")}
        assert {doc["id"] for doc in docs} <= stored, kind


def test_in_business_hours_the_menu_greets_and_1_rings_alice_then_her_box(
    exported: Client, esl_server: OutboundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, 10)
    record = call(esl_server, MAIN, account_id=ACCOUNT, time_scale=0.05, dtmf="1",  # pressed during the greeting
                  bridges=(BridgeOutcome("no_answer", timeout=0.05),))
    greeting = record.args_of("play_and_get_digits")[0]
    assert "'tts://flite|slt|Thank you for calling. Press 1 for Alice.'" in greeting  # the media's text
    assert any("alice-desk" in arg for arg in record.args_of("bridge"))
    [recording] = record.args_of("record")
    assert f"/voicemail/{ACCOUNT}/vm-alice/" in recording


def test_after_hours_the_call_goes_to_the_main_box(
    exported: Client, esl_server: OutboundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, 20)
    record = call(esl_server, MAIN, account_id=ACCOUNT, time_scale=0.05)
    assert record.args_of("play_and_get_digits") == [] and record.args_of("bridge") == []
    [recording] = record.args_of("record")
    assert f"/voicemail/{ACCOUNT}/vm-main/" in recording


def test_an_extension_rings_its_users_phone(exported: Client, esl_server: OutboundServer) -> None:
    record = call(esl_server, "1002", account_id=ACCOUNT, bridges=(BridgeOutcome("answered", ring=0.01, talk=0.01),))
    assert any("bob-soft" in arg for arg in record.args_of("bridge"))
