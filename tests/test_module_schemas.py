"""The JSON Schemas of callflow module data (`controller/modules/*.schema.json`), of the stored
documents and of account bundles (`controller/store/schemas/`), checked with jsonschema directly:
each file is a sound draft 2020-12 schema, each module accepts realistic data and refuses wrong
types, unknown enum values and missing fields, and the example documents in `flows/` validate.

Validation uses the controller's own validators (controller/callflows/schema.py): `timezone`
against zoneinfo's zones, `regex` with RE2 (the engine callflow patterns run on), `email`.
"""

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from controller.callflows import schema as project_schema
from controller.callflows.validate import check_callflow
from controller.modules import set_variables
from controller.store.bundle import check_bundle, export_bundle, load_bundle

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "controller" / "modules"
STORE = ROOT / "controller" / "store" / "schemas"
CALLFLOW = ROOT / "controller" / "callflows" / "callflow.json"
FLOWS = ROOT / "flows"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

MODULE_FILES = sorted(MODULES.glob("*.schema.json"))
STORE_FILES = sorted(STORE.glob("*.json"))
SCHEMA_FILES = MODULE_FILES + STORE_FILES

USER = "b029784e655820f90e5105903ae7224e"
DEVICE = "f0f143ceb653b7eeda5a5ba4c804ac37"
VMBOX = "df8be86698b869f4b26499cc6dde1eb5"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def schemas() -> dict[str, dict[str, Any]]:
    """Every schema by its `$id`, the callflow document's included."""
    found = {}
    for path in [*SCHEMA_FILES, CALLFLOW]:
        schema = load(path)
        found[schema["$id"]] = schema
    return found


def validator(schema_id: str) -> Draft202012Validator:
    """The controller's own validator: the same registry and format checks it runs."""
    return project_schema.validator(schema_id)


def errors(schema_id: str, document: Any) -> list[ValidationError]:
    return list(validator(schema_id).iter_errors(document))


def keywords(found: list[ValidationError]) -> set[str]:
    """The keywords that failed, including those inside oneOf/anyOf/if-then branches."""
    seen: set[str] = set()
    pending = list(found)
    while pending:
        error = pending.pop()
        seen.add(str(error.validator))
        pending.extend(error.context)
    return seen


def subschemas(schema: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object nested in a schema (subschemas and keyword maps alike), with where it is."""
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            if key not in ("default", "const", "enum", "examples"):
                yield from subschemas(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from subschemas(value, f"{path}[{index}]")


def nodes(flow: Any, path: str = "flow") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(flow, dict):
        yield path, flow
        for key, child in (flow.get("children") or {}).items():
            yield from nodes(child, f"{path}.children[{key}]")


def is_conditional(where: str) -> bool:
    """Whether a place is inside if/then/else/not, which restate properties described elsewhere."""
    return not {"if", "then", "else", "not"}.isdisjoint(where.split("."))


def file_name(path: Path) -> str:
    return path.name


# --- the schema files themselves ----------------------------------------------------------------


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_name)
def test_every_schema_file_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = load(path)
    assert schema["$schema"] == DRAFT
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_name)
def test_every_schema_has_an_id_matching_its_file_name_a_title_and_a_description(path: Path) -> None:
    schema = load(path)
    assert schema["$id"] == path.name
    assert schema["title"]
    assert schema["description"]


@pytest.mark.parametrize("path", MODULE_FILES, ids=file_name)
def test_every_module_schema_names_its_kazoo_counterpart(path: Path) -> None:
    assert "Kazoo" in load(path)["description"]


@pytest.mark.parametrize("path", MODULE_FILES, ids=file_name)
def test_every_module_schema_lets_the_module_be_skipped(path: Path) -> None:
    skip = load(path)["properties"]["skip_module"]
    assert skip["type"] == "boolean"
    assert skip["default"] is False


@pytest.mark.parametrize("path", MODULE_FILES, ids=file_name)
def test_every_module_schema_stays_open_to_fields_it_does_not_know(path: Path) -> None:
    assert load(path).get("additionalProperties", True) is not False


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_name)
def test_every_property_is_described_for_the_operator(path: Path) -> None:
    undescribed = [
        f"{where}.properties.{name}"
        for where, schema in subschemas(load(path))
        for name, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict) and not prop.get("description") and not is_conditional(where)
    ]
    assert undescribed == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=file_name)
def test_every_default_is_a_value_its_own_schema_accepts(path: Path) -> None:
    root = validator(load(path)["$id"])
    wrong = [
        where
        for where, schema in subschemas(load(path))
        if "default" in schema and not root.evolve(schema=schema).is_valid(schema["default"])
    ]
    assert wrong == []


# --- module data: one table of accepted and one of refused examples ------------------------------

MISSED_CALL_RECIPIENTS = [
    {"type": "user", "id": USER},
    {"type": "email", "id": ["support@office.example.com", "frontdesk@office.example.com"]},
]
BUSINESS_HOURS = {
    "id": "1d69688903545f80118b38424c9825ac",
    "name": "Business hours",
    "cycle": "weekly",
    "wdays": ["monday", "tuesday", "wednesday", "thursday", "friday"],
    "time_window_start": 32400,
    "time_window_stop": 61200,
}

VALID: dict[str, list[dict[str, Any]]] = {
    "acdc_agent": [{"action": "login"}, {"action": "paused", "timeout": 600, "presence_id": "q1"}],
    "acdc_member": [{"id": "b4f83b078cff478450205854f2f0f87e"}, {"id": "support", "priority": 2}],
    "answer": [{}, {"skip_module": True}],
    "call_forward": [{"action": "activate"}, {"action": "menu", "interdigit_timeout": 3000}, {}],
    "do_not_disturb": [{"action": "toggle"}, {"action": "activate", "id": USER}],
    "hotdesk": [{"action": "login"}, {"action": "logout", "id": USER}, {"action": "bridge", "id": USER, "timeout": 30}],
    "callflow": [{"id": "b4f83b078cff478450205854f2f0f87e"}],
    "collect_dtmf": [
        {"collection_name": "account_number", "max_digits": 8, "timeout": 5000, "interdigit_timeout": 2000,
         "terminators": ["#", "*"]},
        {"terminator": "#"},
    ],
    "device": [{"id": DEVICE}, {"id": DEVICE, "timeout": 30, "delay": 2, "can_call_self": True}],
    "directory": [{"id": "77dfb38ff2353624e35bf4df91acda94"}, {"id": "company", "skip_module": False}],
    "hangup": [{}, {"hangup_cause": "USER_BUSY"}],
    "group_pickup": [
        {"user_id": USER, "approved_group_id": "sales"},
        {"device_id": DEVICE, "approved_device_id": DEVICE},
    ],
    "group_pickup_feature": [{"type": "extension"}, {"type": "device", "approved_user_id": USER}],
    "intercept": [{"user_id": USER}, {"device_id": DEVICE, "approved_group_id": "supervisors"}],
    "intercept_feature": [{"type": "extension", "approved_user_id": USER}, {}],
    "eavesdrop": [
        {"user_id": USER, "approved_group_id": "supervisors"},
        {"device_id": DEVICE, "approved_device_id": DEVICE},
    ],
    "eavesdrop_feature": [{"approved_group_id": "supervisors", "group_id": "sales"}],
    "page_group": [
        {"audio": "one-way",
         "endpoints": [{"id": USER, "endpoint_type": "user"}, {"id": "sales", "endpoint_type": "group"}]},
        {"audio": "two-way", "timeout": 10, "barge_calls": True,
         "endpoints": [{"id": DEVICE, "endpoint_type": "device"}]},
    ],
    "intercom": [{}, {"barge_calls": True}],
    "menu": [
        {"id": "8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d", "interdigit_timeout": 2000},
        {
            "name": "Main menu",
            "media": {"greeting_tts": {"text": "For sales, press 1."}, "invalid_media": True, "exit_media": False},
            "retries": 3, "timeout": 10000, "max_extension_length": 4,
            "hunt": True, "hunt_allow": "^100[1-4]$", "hunt_deny": "^1004$", "record_pin": "1234",
        },
        {"media": {"greeting": "/media/main-menu.wav", "timeout_media": "/media/no-choice.wav"}},
    ],
    "missed_call_alert": [{"recipients": MISSED_CALL_RECIPIENTS}, {"recipients": []}],
    "notification": [
        {"send_at": "callflow_exec", "template_id": "my_custom_template", "recipients": MISSED_CALL_RECIPIENTS},
        {"template_id": "after_hours_call", "recipients": [], "notification_media": ["email", "sms"],
         "comments": "A caller reached the after-hours line"},
    ],
    "offnet": [
        {},
        {"to_did": "+15557654321", "caller_id_type": "external", "emit_account_id": True,
         "custom_sip_headers": {"X-Office": "main", "out": {"X-Billing-Code": "42"}}},
    ],
    "conference": [
        {"id": "conf-sales"},
        {"moderator": True, "play_entry_tone": False, "play_exit_tone": "tone_stream://%(200,0,500)",
         "welcome_prompt": {"play": True, "media_id": "welcome"}},
        {},
    ],
    "conference_feature": [
        {},
        {"moderator": True, "play_entry_tone": False, "welcome_prompt": {"play": False}},
    ],
    "park": [
        {"action": "auto", "default_ringback_timeout": 120000, "default_callback_timeout": 30000,
         "slots": {"100": {"ringback_timeout": 10000},
                   "101": {"ringback_timeout": 25000, "presence_type": "confirmed"}}},
        {"action": "retrieve", "slot": "101"},
    ],
    "pivot": [
        {"voice_url": "https://ivr.example.com/pivot"},
        {"voice_url": "http://10.0.0.5/ivr", "method": "POST", "req_format": "kazoo", "timeout": 10, "debug": True},
    ],
    "play": [
        {"id": "/usr/share/freeswitch/sounds/en/us/callie/ivr/8000/ivr-welcome.wav"},
        {"id": "https://media.example.com/welcome.mp3", "answer": False, "terminators": ["#"]},
        {"id": "tone_stream://%(2000,4000,440,480)", "endless_playback": True},
    ],
    "prepend_cid": [{"caller_id_name_prefix": "Sales: ", "apply_to": "current"}, {"action": "reset"}],
    "receive_fax": [{}, {"owner_id": USER}, {"faxbox_id": "fb-1", "media": {"fax_option": "auto"}},
                    {"id": "fb-1", "media": {"fax_option": False}}],
    "record_call": [
        {"action": "start", "format": "wav", "time_limit": 600, "url": "https://recordings.example.com/upload",
         "media_name": "call_{call_id}.wav", "record_on_answer": True},
        {"action": "stop"},
    ],
    "resources": [{}, {"emit_account_id": True, "outbound_flags": ["fax"], "timeout": 45}],
    "response": [{}, {"code": 486, "message": "Busy Here", "media": "/media/busy.wav"}],
    "ring_group": [
        {
            "name": "Sales",
            "endpoints": [
                {"id": USER, "endpoint_type": "user", "delay": 0, "timeout": 20},
                {"id": DEVICE, "endpoint_type": "device", "delay": 5, "timeout": 15, "weight": 10},
            ],
            "strategy": "single", "timeout": 40, "repeats": 2, "ignore_forward": True,
        },
    ],
    "say": [
        {"text": "1001"},
        {"text": "1001", "say_type": "telephone_extension", "method": "iterated", "language": "en"},
    ],
    "set_cid": [{}, {"caller_id_name": "Front desk", "caller_id_number": "+15554441111"}],
    "privacy": [{}, {"mode": "number", "endpoint_strategy": "merge"}],
    "check_cid": [{}, {"regex": "^\\+?1?(\\d{10})$", "use_absolute_mode": True, "user_id": USER,
                       "caller_id": {"external": {"name": "VIP", "number": "+15550009999"}}}],
    "dynamic_cid": [{}, {"action": "static", "caller_id": {"name": "CALL_ME", "number": "5555555555"}},
                    {"action": "lists", "id": "cid-list", "idx_name": "key"},
                    {"action": "manual", "min_digits": 4, "max_digits": 11, "interdigit_timeout": 3000}],
    "language": [{"language": "fr-ca"}, {"language": "en"}],
    "webhook": [{"uri": "https://crm.example.com/calls"},
                {"uri": "http://10.0.0.5/hook", "http_verb": "get", "retries": 2, "custom_data": {"app": "crm"}}],
    "set_variables": [{"custom_channel_vars": {"team": "sales", "vip": True, "priority": 2}, "export": True}],
    "sleep": [{}, {"duration": 300, "unit": "ms"}, {"duration": 1.5}],
    "temporal_route": [
        {"timezone": "America/New_York", "rules": [BUSINESS_HOURS]},
        {
            "rules": [
                {"id": "thanksgiving", "name": "Thanksgiving Day", "cycle": "yearly", "month": 11,
                 "ordinal": "fourth", "wdays": ["thursday"]},
                {"id": "inventory", "name": "Inventory day", "cycle": "date", "start_date": "2025-06-30"},
                {"id": "payday", "name": "Payday afternoons", "cycle": "monthly", "days": [1, 15],
                 "time_window_start": 43200},
                {"id": "late", "name": "Every day after 8pm", "cycle": "daily", "time_window_start": 72000,
                 "enabled": True},
            ],
        },
        {"timezone": "inherit", "rules": ["1d69688903545f80118b38424c9825ac"], "rule_set": "holidays"},
        {},
    ],
    "tts": [
        {"text": "Thank you for calling."},
        {"text": "Hello", "voice": "male", "language": "en-US", "engine": "flite"},
    ],
    "user": [
        {"id": USER, "can_call_self": False, "timeout": 20, "delay": 0, "strategy": "simultaneous"},
        {"id": USER, "strategy": "single", "static_invite": "1001", "suppress_clid": True},
    ],
    "voicemail": [
        {"id": VMBOX, "action": "compose", "callerid_match_login": False, "interdigit_timeout": 2000,
         "max_message_length": 500, "single_mailbox_login": False},
        {"action": "check", "single_mailbox_login": True},
    ],
}

# (module, what is wrong, data, a keyword that must report it)
INVALID: list[tuple[str, str, dict[str, Any], str]] = [
    ("acdc_agent", "the action is pause", {"action": "pause"}, "enum"),
    ("acdc_member", "the queue id is a path", {"id": "../queues"}, "pattern"),
    ("answer", "skip_module is not a boolean", {"skip_module": "yes"}, "type"),
    ("call_forward", "the action is forward", {"action": "forward"}, "enum"),
    ("call_forward", "the interdigit timeout is a string", {"action": "update", "interdigit_timeout": "2s"}, "type"),
    ("do_not_disturb", "the action is on", {"action": "on"}, "enum"),
    ("do_not_disturb", "the id is a path", {"action": "activate", "id": "../users"}, "pattern"),
    ("hotdesk", "the action is swap", {"action": "swap"}, "enum"),
    ("hotdesk", "the id is a path", {"action": "login", "id": "a/b"}, "pattern"),
    ("callflow", "the callflow id is missing", {}, "required"),
    ("callflow", "the callflow id is a path", {"id": "../etc"}, "pattern"),
    ("collect_dtmf", "zero digits are asked for", {"max_digits": 0}, "minimum"),
    ("collect_dtmf", "a terminator is not a DTMF key", {"terminators": ["A"]}, "enum"),
    ("device", "the device id is missing", {"timeout": 20}, "required"),
    ("device", "the timeout is a string", {"id": DEVICE, "timeout": "20"}, "type"),
    ("directory", "the directory id is missing", {}, "required"),
    ("directory", "the directory id is a path", {"id": "../users"}, "pattern"),
    ("hangup", "the cause is unknown to FreeSWITCH", {"hangup_cause": "GOODBYE"}, "enum"),
    ("menu", "retries is zero", {"retries": 0}, "minimum"),
    ("menu", "hunt_allow needs backtracking", {"hunt_allow": "^(\\d+)\\1$"}, "format"),
    ("menu", "both a recorded and a spoken greeting", {"media": {"greeting": "/g.wav", "greeting_tts": {"text": "Hi"}}},
     "not"),
    ("menu", "a prompt is a number", {"media": {"invalid_media": 3}}, "oneOf"),
    ("menu", "the spoken greeting has no text", {"media": {"greeting_tts": {"voice": "male"}}}, "required"),
    ("missed_call_alert", "a recipient's type is sms", {"recipients": [{"type": "sms", "id": "+15555550101"}]}, "enum"),
    ("missed_call_alert", "a recipient has no id", {"recipients": [{"type": "user"}]}, "required"),
    ("missed_call_alert", "a recipient carries an unknown field",
     {"recipients": [{"type": "user", "id": USER, "name": "Alice"}]}, "additionalProperties"),
    ("missed_call_alert", "an email recipient is not an address", {"recipients": [{"type": "email", "id": "alice"}]},
     "format"),
    ("missed_call_alert", "a user recipient's id is an address",
     {"recipients": [{"type": "user", "id": ["alice@office.example.com"]}]}, "pattern"),
    ("missed_call_alert", "the recipients are missing", {}, "required"),
    ("notification", "send_at is later", {"template_id": "t", "recipients": [], "send_at": "later"}, "enum"),
    ("notification", "the template id is missing", {"recipients": []}, "required"),
    ("notification", "a medium is fax", {"template_id": "t", "recipients": [], "notification_media": ["fax"]}, "enum"),
    ("notification", "a recipient's type is sms",
     {"template_id": "t", "recipients": [{"type": "sms", "id": "+15555550101"}]}, "enum"),
    ("group_pickup", "the user id holds a space", {"user_id": "a b"}, "pattern"),
    ("group_pickup_feature", "the type is queue", {"type": "queue"}, "enum"),
    ("intercept", "the device id is a number", {"device_id": 7}, "type"),
    ("intercept_feature", "the type is group", {"type": "group"}, "enum"),
    ("eavesdrop", "the approved user id is a path", {"approved_user_id": "../x"}, "pattern"),
    ("eavesdrop_feature", "the group id is a list", {"group_id": ["a"]}, "type"),
    ("page_group", "the endpoints are missing", {"audio": "one-way"}, "required"),
    ("page_group", "the audio is three-way",
     {"audio": "three-way", "endpoints": [{"id": USER, "endpoint_type": "user"}]}, "enum"),
    ("intercom", "barge_calls is a string", {"barge_calls": "yes"}, "type"),
    ("offnet", "the DID has punctuation", {"to_did": "555-1234"}, "pattern"),
    ("offnet", "a SIP header value breaks the line", {"custom_sip_headers": {"X-Note": "a\r\nInjected: 1"}}, "pattern"),
    ("conference", "the id holds a space", {"id": "a b"}, "pattern"),
    ("conference", "moderator is a string", {"moderator": "yes"}, "type"),
    ("conference_feature", "the id holds a slash", {"id": "../conf"}, "pattern"),
    ("conference_feature", "the entry tone is a number", {"play_entry_tone": 1}, "type"),
    ("park", "the action is unknown", {"action": "valet"}, "enum"),
    ("park", "the slot is not a number", {"slot": "1a"}, "pattern"),
    ("pivot", "the voice URL is missing", {"method": "GET"}, "required"),
    ("pivot", "the method is PUT", {"voice_url": "https://ivr.example.com/", "method": "PUT"}, "enum"),
    ("pivot", "the voice URL is not http", {"voice_url": "ftp://ivr.example.com/"}, "pattern"),
    ("pivot", "TwiML is asked for", {"voice_url": "https://ivr.example.com/", "req_format": "twiml"}, "enum"),
    ("play", "the media is missing", {"answer": True}, "required"),
    ("play", "answer is a string", {"id": "/a.wav", "answer": "yes"}, "type"),
    ("play", "the media reference breaks the line", {"id": "/a.wav\nevent-lock: true"}, "pattern"),
    ("prepend_cid", "the action is append", {"action": "append"}, "enum"),
    ("receive_fax", "the fax option is maybe", {"media": {"fax_option": "maybe"}}, "oneOf"),
    ("receive_fax", "the faxbox id has a slash", {"faxbox_id": "../fb"}, "pattern"),
    ("record_call", "the action is pause", {"action": "pause"}, "enum"),
    ("record_call", "the action is missing", {"format": "wav"}, "required"),
    ("record_call", "the format is ogg", {"action": "start", "format": "ogg"}, "enum"),
    ("resources", "emit_account_id is a string", {"emit_account_id": "yes"}, "type"),
    ("response", "the code is a success", {"code": 200}, "minimum"),
    ("ring_group", "the group has no endpoint", {"endpoints": []}, "minItems"),
    ("ring_group", "the endpoints are missing", {"strategy": "single"}, "required"),
    ("ring_group", "an endpoint is a queue", {"endpoints": [{"id": USER, "endpoint_type": "queue"}]}, "enum"),
    ("ring_group", "an endpoint has no id", {"endpoints": [{"endpoint_type": "user"}]}, "required"),
    ("ring_group", "the strategy is weighted_random",
     {"endpoints": [{"id": USER, "endpoint_type": "user"}], "strategy": "weighted_random"}, "enum"),
    ("say", "the text is missing", {"say_type": "number"}, "required"),
    ("say", "the type is colour", {"text": "red", "say_type": "colour"}, "enum"),
    ("set_cid", "the name is a number", {"caller_id_name": 42}, "type"),
    ("privacy", "the mode is anonymous", {"mode": "anonymous"}, "enum"),
    ("check_cid", "the regex is a number", {"regex": 5}, "type"),
    ("dynamic_cid", "the action is random", {"action": "random"}, "enum"),
    ("dynamic_cid", "the list id is a path", {"action": "list", "id": "../x"}, "pattern"),
    ("language", "the language is missing", {}, "required"),
    ("language", "the language is a sentence", {"language": "french please"}, "pattern"),
    ("webhook", "the uri is missing", {"http_verb": "post"}, "required"),
    ("webhook", "the uri is a file", {"uri": "file:///etc/passwd"}, "pattern"),
    ("webhook", "too many retries", {"uri": "http://x.test/", "retries": 50}, "maximum"),
    ("set_variables", "the variables are missing", {"export": True}, "required"),
    ("set_variables", "a variable name has a space", {"custom_channel_vars": {"bad name": "x"}}, "pattern"),
    ("sleep", "the unit is days", {"duration": 1, "unit": "days"}, "enum"),
    ("sleep", "the duration is negative", {"duration": -1}, "minimum"),
    ("temporal_route", "the timezone is Mars/Olympus", {"timezone": "Mars/Olympus", "rules": [BUSINESS_HOURS]},
     "format"),
    ("temporal_route", "a rule id has a slash", {"rules": ["../rules"]}, "pattern"),
    ("temporal_route", "a rule is a number", {"rules": [7]}, "type"),
    ("temporal_route", "the rule set id is a list", {"rule_set": ["holidays"]}, "type"),
    ("temporal_route", "a weekly rule has no weekdays",
     {"rules": [{"id": "r", "name": "Weekdays", "cycle": "weekly"}]}, "required"),
    ("temporal_route", "a weekday is funday", {"rules": [{**BUSINESS_HOURS, "wdays": ["funday"]}]}, "enum"),
    ("temporal_route", "a rule is keyed like the default child", {"rules": [{**BUSINESS_HOURS, "id": "_"}]}, "not"),
    ("temporal_route", "a rule field is misspelt", {"rules": [{**BUSINESS_HOURS, "weekdays": ["monday"]}]},
     "additionalProperties"),
    ("temporal_route", "the window ends after midnight", {"rules": [{**BUSINESS_HOURS, "time_window_stop": 90000}]},
     "maximum"),
    ("temporal_route", "the start date is month 13",
     {"rules": [{"id": "r", "name": "Once", "cycle": "date", "start_date": "2025-13-01"}]}, "format"),
    ("temporal_route", "a yearly rule has no month",
     {"rules": [{"id": "r", "name": "New Year", "cycle": "yearly", "days": [1]}]}, "required"),
    ("tts", "the text is missing", {"voice": "female"}, "required"),
    ("tts", "the engine is unknown", {"text": "Hi", "engine": "robot"}, "enum"),
    ("user", "the user id is missing", {"timeout": 20}, "required"),
    ("user", "the strategy is round_robin", {"id": USER, "strategy": "round_robin"}, "enum"),
    ("user", "the timeout is zero", {"id": USER, "timeout": 0}, "minimum"),
    ("voicemail", "the action is delete", {"action": "delete"}, "enum"),
    ("voicemail", "the message length is a string", {"id": VMBOX, "max_message_length": "500"}, "type"),
]


def test_every_module_schema_has_accepted_and_refused_examples_here() -> None:
    modules = {path.name.removesuffix(".schema.json") for path in MODULE_FILES}
    assert set(VALID) == modules
    assert {module for module, *_ in INVALID} == modules


@pytest.mark.parametrize(
    ("module", "data"),
    [(module, data) for module, examples in VALID.items() for data in examples],
    ids=[f"{module} example {n + 1}" for module, examples in VALID.items() for n in range(len(examples))],
)
def test_module_accepts_realistic_data(module: str, data: dict[str, Any]) -> None:
    assert [e.message for e in errors(f"{module}.schema.json", data)] == []


@pytest.mark.parametrize(
    ("module", "data", "keyword"),
    [(module, data, keyword) for module, _, data, keyword in INVALID],
    ids=[f"{module} refuses data where {why}" for module, why, *_ in INVALID],
)
def test_module_refuses_data_that_is_wrong(module: str, data: dict[str, Any], keyword: str) -> None:
    found = errors(f"{module}.schema.json", data)
    assert found, "accepted"
    assert keyword in keywords(found)


# --- stored documents ---------------------------------------------------------------------------

DOCUMENTS_VALID: list[tuple[str, dict[str, Any]]] = [
    ("account", {"id": "d62e78a7630949a10d48dc8a431758d7", "name": "Example Office", "realm": "office.example.com",
                 "timezone": "America/New_York", "language": "en-us", "parent_id": None}),
    ("user", {"id": USER, "first_name": "Alice", "last_name": "Moreno", "email": "alice@office.example.com",
              "mobile_number": "+15555550101", "priv_level": "admin", "timezone": "America/New_York"}),
    ("device", {"id": DEVICE, "owner_id": USER, "sip": {"username": "1001", "password": "secret-1001",
                                                        "invite_format": "username"}}),
    ("device", {"id": "d-ata", "sip": {"invite_format": "route", "route": "sip:1004@192.0.2.10:5060"}}),
    ("user", {"id": USER, "do_not_disturb": {"enabled": True},
              "hotdesk": {"enabled": True, "id": "1001", "require_pin": True, "pin": "2468",
                          "keep_logged_in_elsewhere": False}}),
    ("device", {"id": DEVICE, "do_not_disturb": {"enabled": False}, "hotdesk": {"users": {USER: {}}}}),
    ("vmbox", {"id": VMBOX, "owner_id": USER, "mailbox": "1001", "pin": "7391",
               "media": {"unavailable": "/media/alice-greeting.wav"}, "max_message_length": 300}),
    ("menu", {"id": "8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d", "name": "Main menu", "retries": 3, "timeout": 10000,
              "max_extension_length": 4, "hunt": True, "hunt_allow": "^1[0-9]{3}$", "record_pin": "1234",
              "allow_record_from_offnet": False, "suppress_media": False,
              "media": {"greeting": "/media/main-menu.wav", "invalid_media": True, "exit_media": False,
                        "transfer_media": "/media/connecting.wav"}}),
    ("temporal_rule", {"id": "1d69688903545f80118b38424c9825ac", "name": "Business hours", "cycle": "weekly",
                       "interval": 1, "wdays": ["monday", "tuesday", "wensday", "thursday", "friday"],
                       "time_window_start": 32400, "time_window_stop": 61200, "start_date": 62586115200}),
    ("temporal_rule", {"id": "christmas", "name": "Christmas", "cycle": "yearly", "month": 12, "days": [25],
                       "start_date": "2020-01-01", "flags": ["holiday"]}),
    ("temporal_rule_set", {"id": "holidays", "name": "Holidays", "temporal_rules": ["christmas", "new_year"]}),
    ("directory", {"id": "77dfb38ff2353624e35bf4df91acda94", "name": "SmartPBX Directory", "confirm_match": False,
                   "max_dtmf": 0, "min_dtmf": 3, "sort_by": "last_name", "search_fields": "both", "users": [],
                   "ui_metadata": {"origin": "voip", "ui": "monster-ui", "version": "3.23"}}),
    ("user", {"id": USER, "first_name": "Alice", "directories": {"77dfb38ff2353624e35bf4df91acda94": "cf-alice"}}),
]

DOCUMENTS_INVALID: list[tuple[str, str, dict[str, Any], str]] = [
    ("user", "a queue id is a path", {"id": "u1", "queues": ["../q"]}, "pattern"),
    ("queue", "the strategy is skills based", {"id": "q1", "name": "Q", "strategy": "skills_based"}, "enum"),
    ("queue", "the exit key is two keys", {"id": "q1", "name": "Q", "caller_exit_key": "##"}, "pattern"),
    ("account", "the name is missing", {"id": "a1"}, "required"),
    ("account", "the timezone is Mars/Olympus", {"id": "a1", "name": "A", "timezone": "Mars/Olympus"}, "format"),
    ("account", "the id has a slash", {"id": "a/1", "name": "A"}, "pattern"),
    ("account", "the id is longer than 64 characters", {"id": "a" * 65, "name": "A"}, "pattern"),
    ("user", "the email has no @", {"id": "u1", "email": "alice.example.com"}, "format"),
    ("user", "the mobile number is written locally", {"id": "u1", "mobile_number": "555-0101"}, "pattern"),
    ("user", "the privilege level is root", {"id": "u1", "priv_level": "root"}, "enum"),
    ("user", "the id is missing", {"first_name": "Alice"}, "required"),
    ("device", "a route device has no route", {"id": "d1", "sip": {"invite_format": "route"}}, "required"),
    ("device", "the route is not a SIP URI", {"id": "d1", "sip": {"invite_format": "route", "route": "192.0.2.10"}},
     "pattern"),
    ("device", "the invite format is unknown", {"id": "d1", "sip": {"invite_format": "dns"}}, "enum"),
    ("device", "enabled is a string", {"id": "d1", "enabled": "no"}, "type"),
    ("device", "a hot desk user id is a path", {"id": "d1", "hotdesk": {"users": {"../u": {}}}}, "pattern"),
    ("user", "the hot desk PIN has letters", {"id": "u1", "hotdesk": {"pin": "12ab"}}, "pattern"),
    ("user", "do not disturb is a string", {"id": "u1", "do_not_disturb": {"enabled": "yes"}}, "type"),
    ("vmbox", "the mailbox is missing", {"id": "v1", "pin": "1234"}, "required"),
    ("vmbox", "the mailbox has a letter", {"id": "v1", "mailbox": "10a1"}, "pattern"),
    ("vmbox", "the PIN is two digits", {"id": "v1", "mailbox": "1001", "pin": "12"}, "pattern"),
    ("vmbox", "the PIN is a number", {"id": "v1", "mailbox": "1001", "pin": 1234}, "type"),
    ("menu", "the name is missing", {"id": "m1", "retries": 3}, "required"),
    ("menu", "retries is eleven", {"id": "m1", "name": "M", "retries": 11}, "maximum"),
    ("menu", "the greeting breaks the line", {"id": "m1", "name": "M", "media": {"greeting": "/a.wav\nX: 1"}},
     "pattern"),
    ("menu", "hunt_deny needs backtracking", {"id": "m1", "name": "M", "hunt_deny": "^(1)\\1$"}, "format"),
    ("temporal_rule", "the cycle is missing", {"id": "r1", "name": "R"}, "required"),
    ("temporal_rule", "the cycle is hourly", {"id": "r1", "name": "R", "cycle": "hourly"}, "enum"),
    ("temporal_rule", "a weekday is funday", {"id": "r1", "name": "R", "cycle": "weekly", "wdays": ["funday"]},
     "enum"),
    ("temporal_rule", "the start date is month 13", {"id": "r1", "name": "R", "cycle": "date",
                                                     "start_date": "2025-13-01"}, "format"),
    ("temporal_rule_set", "the rules are empty", {"id": "s1", "name": "S", "temporal_rules": []}, "minItems"),
    ("temporal_rule_set", "a rule id is a number", {"id": "s1", "name": "S", "temporal_rules": [1]}, "type"),
    ("directory", "the name is missing", {"id": "dir1"}, "required"),
    ("directory", "min_dtmf is zero", {"id": "dir1", "name": "D", "min_dtmf": 0}, "minimum"),
    ("directory", "sort_by is extension", {"id": "dir1", "name": "D", "sort_by": "extension"}, "enum"),
    ("user", "a directory maps to a number", {"id": "u1", "directories": {"dir1": 5}}, "type"),
    ("user", "a directory id has a slash", {"id": "u1", "directories": {"dir/1": "cf1"}}, "pattern"),
]


@pytest.mark.parametrize(
    ("kind", "document"),
    DOCUMENTS_VALID,
    ids=[f"{kind} example {n + 1}" for n, (kind, _) in enumerate(DOCUMENTS_VALID)],
)
def test_document_schema_accepts_a_realistic_document(kind: str, document: dict[str, Any]) -> None:
    assert [e.message for e in errors(f"{kind}.json", document)] == []


@pytest.mark.parametrize(
    ("kind", "document", "keyword"),
    [(kind, document, keyword) for kind, _, document, keyword in DOCUMENTS_INVALID],
    ids=[f"{kind} refused where {why}" for kind, why, *_ in DOCUMENTS_INVALID],
)
def test_document_schema_refuses_a_wrong_document(kind: str, document: dict[str, Any], keyword: str) -> None:
    found = errors(f"{kind}.json", document)
    assert found, "accepted"
    assert keyword in keywords(found)


# --- bundles and the example flows --------------------------------------------------------------


def office() -> dict[str, Any]:
    return load(FLOWS / "office.json")


def test_the_office_bundle_validates_against_the_bundle_schema() -> None:
    assert [f"{e.json_path}: {e.message}" for e in errors("bundle.json", office())] == []


def test_every_node_of_the_office_bundle_has_data_its_module_schema_accepts() -> None:
    problems = []
    for callflow in office()["callflows"]:
        for where, node in nodes(callflow["flow"]):
            schema_id = f"{node['module']}.schema.json"
            assert schema_id in schemas(), f"{callflow['name']}: {where}: no schema for {node['module']}"
            problems += [f"{callflow['name']}: {where}: {e.message}" for e in errors(schema_id, node["data"])]
    assert problems == []


def test_the_office_bundle_passes_the_loaders_whole_check_without_warnings() -> None:
    report = check_bundle(office(), "flows/office.json")
    assert [str(e) for e in report.errors] == []
    assert report.warnings == []


def test_the_office_bundle_uses_kazoo_style_ids_everywhere() -> None:
    bundle = office()
    kinds = ("users", "devices", "vmboxes", "callflows")
    documents = [bundle["account"], *(doc for kind in kinds for doc in bundle[kind])]
    assert all(len(doc["id"]) == 32 and set(doc["id"]) <= set("0123456789abcdef") for doc in documents)


def test_the_office_main_number_is_the_kazoo_missed_call_alert_example_with_the_bundles_own_ids() -> None:
    kazoo = load(FLOWS / "missed_call_alert.json")
    main = next(cf for cf in office()["callflows"] if cf["numbers"] == kazoo["numbers"])

    def shape(flow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(node["module"], {k: v for k, v in node["data"].items() if k not in ("id", "recipients")})
                for _, node in nodes(flow)]

    assert shape(main["flow"]) == shape(kazoo["flow"])
    assert [r["type"] for r in main["flow"]["data"]["recipients"]] == ["user", "email"]


def test_the_kazoo_missed_call_alert_example_validates_as_a_callflow() -> None:
    kazoo = load(FLOWS / "missed_call_alert.json")
    assert errors("callflow.json", kazoo) == []
    for _, node in nodes(kazoo["flow"]):
        assert errors(f"{node['module']}.schema.json", node["data"]) == []


def test_a_bundle_needs_an_account() -> None:
    assert "required" in keywords(errors("bundle.json", {"users": []}))


def test_a_misspelt_bundle_section_is_an_error() -> None:
    bundle = {**office(), "vmbox": office()["vmboxes"]}
    assert "additionalProperties" in keywords(errors("bundle.json", bundle))


@pytest.mark.parametrize("kind", ["users", "devices", "vmboxes", "callflows"])
def test_every_document_of_a_bundle_must_carry_an_id(kind: str) -> None:
    bundle = office()
    del bundle[kind][0]["id"]
    assert "required" in keywords(errors("bundle.json", bundle))


def test_the_bundle_sections_default_to_empty_lists() -> None:
    sections = schemas()["bundle.json"]["properties"]
    assert {kind: sections[kind]["default"] for kind in ("users", "devices", "vmboxes", "callflows")} == {
        "users": [], "devices": [], "vmboxes": [], "callflows": []
    }
    assert errors("bundle.json", {"account": office()["account"]}) == []


def kazoo_office() -> dict[str, Any]:
    """The office bundle with a stored menu and temporal rules, and a callflow naming them."""
    bundle = office()
    bundle["menus"] = [{"id": "m-main", "name": "Main menu", "media": {"greeting": "/media/main.wav"}}]
    bundle["temporal_rules"] = [{"id": "r-xmas", "name": "Christmas", "cycle": "yearly", "month": 12, "days": [25]}]
    bundle["temporal_rules_sets"] = [{"id": "s-holidays", "name": "Holidays", "temporal_rules": ["r-xmas"]}]
    route = {"module": "temporal_route", "data": {"rules": ["r-xmas", "s-holidays"], "rule_set": "s-holidays"},
             "children": {"_": {"module": "menu", "data": {"id": "m-main"}, "children": {}}}}
    bundle["callflows"].append({"id": "cf-kazoo", "numbers": ["5000"], "flow": route})
    return bundle


def test_a_bundle_holds_the_menus_and_temporal_rules_its_callflows_name() -> None:
    assert [str(e) for e in check_bundle(kazoo_office(), "kazoo").errors] == []


def test_a_bundle_refuses_menus_rules_and_rule_sets_it_does_not_hold() -> None:
    bundle = kazoo_office()
    route = bundle["callflows"][-1]["flow"]
    route["data"] = {"rules": ["r-gone"], "rule_set": "s-gone"}
    route["children"]["_"]["data"]["id"] = "m-gone"
    bundle["temporal_rules_sets"][0]["temporal_rules"] = ["r-xmas", "r-lost"]
    index = len(bundle["callflows"]) - 1
    found = {e.path: e.reason for e in check_bundle(bundle, "kazoo").errors}
    assert found == {
        f"$.callflows[{index}].flow.data.rules[0]": "no temporal_rule 'r-gone' in the bundle",
        f"$.callflows[{index}].flow.data.rule_set": "no temporal_rules_set 's-gone' in the bundle",
        f"$.callflows[{index}].flow.children['_'].data.id": "no menu 'm-gone' in the bundle",
        "$.temporal_rules_sets[0].temporal_rules[1]": "no temporal_rule 'r-lost' in the bundle",
    }


def test_a_bundles_menus_and_temporal_rules_load_and_export_again(rds: Any) -> None:
    bundle = kazoo_office()
    counts = load_bundle(rds, bundle, "kazoo")
    assert (counts["menus"], counts["temporal_rules"], counts["temporal_rules_sets"]) == (1, 1, 1)
    exported = export_bundle(rds, bundle["account"]["id"])
    assert {kind: exported[kind] for kind in ("menus", "temporal_rules", "temporal_rules_sets")} == {
        kind: bundle[kind] for kind in ("menus", "temporal_rules", "temporal_rules_sets")}


def test_set_variables_names_its_variables_as_kazoos_ecallmgr_does() -> None:
    """cav_<name> and ecallmgr_<name>: never a name FreeSWITCH acts on (controller/esl/hooks.py),
    whatever the callflow wrote."""
    data = {"custom_application_vars": {"team": "sales", "vip": True},
            "custom_channel_vars": {"plain": 1, "api_hangup_hook": "system id", "Execute_On_Answer": "x"}}
    assert not check_callflow({"numbers": ["1"], "flow": {"module": "set_variables", "data": data}}, "t").errors
    assert set_variables.variables(data) == {"cav_team": "sales", "cav_vip": "true", "ecallmgr_plain": "1",
                                             "ecallmgr_api_hangup_hook": "system id", "ecallmgr_Execute_On_Answer": "x"}


def test_set_variables_without_variables_says_which_fields_it_needs() -> None:
    report = check_callflow({"numbers": ["1"], "flow": {"module": "set_variables", "data": {"export": True}}}, "t")
    assert [error.reason for error in report.errors] == ["needs 'custom_application_vars' or 'custom_channel_vars'"]


def test_a_bundle_names_a_missing_voicemail_box_as_a_vmbox() -> None:
    bundle = kazoo_office()
    bundle["callflows"].append({"id": "cf-vm", "numbers": ["5001"],
                                "flow": {"module": "voicemail", "data": {"id": "vm-gone"}, "children": {}}})
    found = [e.reason for e in check_bundle(bundle, "kazoo").errors]
    assert found == ["no vmbox 'vm-gone' in the bundle"]


def test_a_bundle_refuses_faxboxes_owners_and_hot_desk_users_it_does_not_hold() -> None:
    bundle = kazoo_office()
    bundle["faxboxes"] = [{"id": "fb-front", "name": "Front desk"}]
    fax = {"module": "receive_fax", "data": {"faxbox_id": "fb-front"}, "children": {}}
    bundle["callflows"].append({"id": "cf-fax", "numbers": ["5002"], "flow": fax})
    assert [str(e) for e in check_bundle(bundle, "kazoo").errors] == []
    fax["data"] = {"faxbox_id": "fb-other-account", "id": "fb-gone", "owner_id": "u-gone"}
    bundle["faxboxes"][0]["owner_id"] = "u-elsewhere"
    desk = {"module": "hotdesk", "data": {"action": "login", "id": "u-gone"}, "children": {}}
    bundle["callflows"].append({"id": "cf-desk", "numbers": ["5003"], "flow": desk})
    found = {e.path: e.reason for e in check_bundle(bundle, "kazoo").errors}
    fax_at, desk_at = len(bundle["callflows"]) - 2, len(bundle["callflows"]) - 1
    assert found == {
        "$.faxboxes[0].owner_id": "no user 'u-elsewhere' in the bundle",
        f"$.callflows[{fax_at}].flow.data.faxbox_id": "no faxbox 'fb-other-account' in the bundle",
        f"$.callflows[{fax_at}].flow.data.id": "no faxbox 'fb-gone' in the bundle",
        f"$.callflows[{fax_at}].flow.data.owner_id": "no user 'u-gone' in the bundle",
        f"$.callflows[{desk_at}].flow.data.id": "no user 'u-gone' in the bundle",
    }
