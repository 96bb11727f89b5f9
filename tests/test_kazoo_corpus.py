"""Kazoo's own callflow examples carry over: every fenced example of Kazoo's
applications/callflow/doc/*.md (but shell commands) and the example callflow of the seed
documents, kept as written in tests/fixtures/kazoo_callflow_examples.json.

Each one is, as the tables below say, a callflow (or a flow node: one is run as the flow of a
callflow of its own) that validates unchanged and then runs through the real server with the
simulator as FreeSWITCH without a module failing; or refused, with the reason the controller
gives; or something other than a callflow (a device's field, a module's data, an account's
field), which the table says too. An example added to the file without a line in the table
fails the test.
"""

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import redis

from controller.callflows import schema
from controller.callflows.validate import check_callflow
from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import run_call
from controller.store.bundle import load_bundle
from tests.office import ACCOUNT, bundle

CORPUS = json.loads((Path(__file__).parent / "fixtures" / "kazoo_callflow_examples.json").read_text())
EXAMPLES = {example["source"]: example["text"] for example in CORPUS["examples"]}
DOC = "applications/callflow/doc/"

NODE_NUMBER = "+15557650000"  # the number of the callflow a node example is run in
# Valid: what to dial to reach it, and whether the caller is one of the account's phones.
VALID: dict[str, tuple[str, bool]] = {
    DOC + "missed_call_alert.md#1": ("+15554441111", False),
    DOC + "notification.md#1": ("+15554441111", False),
    DOC + "resources.md#1": (NODE_NUMBER, True),
    DOC + "resources.md#2": (NODE_NUMBER, True),
    DOC + "resources.md#3": (NODE_NUMBER, True),
    DOC + "resources.md#4": (NODE_NUMBER, True),
    DOC + "resources.md#5": (NODE_NUMBER, True),
    DOC + "voicemail.md#2": ("*98", False),
    DOC + "voicemail.md#3": ("*98100", False),
    "seeds/001_510577018caab489.txt#1": ("+15554441111", False),
    DOC + "dynamic_cid.md#4": (NODE_NUMBER, True),
    DOC + "webhook.md#1": (NODE_NUMBER, False),
    DOC + "webhook.md#2": ("+10005559999", False),
    DOC + "group_pickup_feature.md#1": ("*71002", True),
    DOC + "group_pickup_feature.md#2": ("*981005", True),
}

NOT_JSON = "not JSON"
PLACEHOLDER = "does not match"  # a {PLACEHOLDER} where an id or URL goes fails its pattern
# Refused: the reason the controller gives, and why.
REFUSED: dict[str, tuple[str, str]] = {
    DOC + "README.md#1": (NOT_JSON, "the shape of a node, with {flow} standing for a child"),
    DOC + "README.md#2": (PLACEHOLDER, "ids written as {USER_ID} and {VM_BOX}: no document has such an id"),
    DOC + "README.md#3": (NOT_JSON, "its last closing brace is missing"),
    DOC + "audio_macro.md#1": (NOT_JSON, "trailing commas; and audio_macro is not a module here"),
    DOC + "branch_bnumber.md#1": (NOT_JSON, "{...} stands for the children"),
    DOC + "branch_bnumber.md#2": (NOT_JSON, "{...} stands for data"),
    DOC + "cf_branch_variable.md#1": (NOT_JSON, "... around a fragment"),
    DOC + "cf_branch_variable.md#2": (NOT_JSON, "... around a fragment"),
    DOC + "check_cid.md#1": (NOT_JSON, "{...} stands for the children"),
    DOC + "check_cid.md#2": (NOT_JSON, "// comments stand for the children"),
    DOC + "conference_feature.md#1": (NOT_JSON, "{normal conference settings} stands for data"),
    DOC + "custom_sip_headers.md#2": (NOT_JSON, "typographic quotes around in"),
    DOC + "custom_sip_headers.md#3": (NOT_JSON, "a header written without its object"),
    DOC + "fax_detect.md#1": (NOT_JSON, "DURATION stands for a number"),
    DOC + "group_pickup.md#1": (PLACEHOLDER, "ids written as {SALES_GROUP_ID}: no document has such an id"),
    DOC + "lookupcidname.md#1": (NOT_JSON, "[...] stands for the lists"),
    DOC + "park.md#2": (NOT_JSON, "... stands for the callflow's other fields"),
    DOC + "pivot.md#1": (PLACEHOLDER, "voice_url is {SERVER_URL}, not a URL"),
    DOC + "prepend_cid.md#1": (NOT_JSON, "{PREFIX_NAME} and {PREFIX_NUMBER} stand for strings"),
    DOC + "route_to_cid.md#1": ("unknown module 'route_to_cid'", "route_to_cid is not a module here"),
    DOC + "voicemail.md#1": (NOT_JSON, "one closing brace too many"),
}

# Neither a callflow nor a node: what it is instead.
OTHER: dict[str, str] = {
    DOC + "custom_sip_headers.md#1": "a device's custom_sip_headers field",
    DOC + "dynamic_cid.md#1": "the patterns field of a callflow, alone",
    DOC + "dynamic_cid.md#2": "an entry of dynamic_cid's lists",
    DOC + "dynamic_cid.md#3": "an entry of dynamic_cid's lists",
    DOC + "park.md#1": "park's data, alone",
    DOC + "preflow.md#1": "the preflow field of an account (see test_the_preflow_example_is_an_account_field)",
}


# The documents the valid examples name (Kazoo's ids as the examples write them): a user with a
# phone and a voicemail box, and a user to notify.
NAMED_USER = "3e3f1217bee3ba0aa7496ca61fb4ae8f"
NAMED: dict[str, list[dict[str, Any]]] = {
    "users": [{"id": NAMED_USER, "first_name": "Named", "last_name": "User", "email": "named@office.test"},
              {"id": "bdc3a4b7e3a5405a9aa8a0f9c6b76997", "first_name": "Notified", "email": "notified@office.test"}],
    "devices": [{"id": "d-named", "owner_id": NAMED_USER, "sip": {"username": "1005"}},
                {"id": "front_desk_device_id", "owner_id": NAMED_USER, "sip": {"username": "1006"}}],
    "vmboxes": [{"id": "f3f32d9692652565e155e931a54ab0a8", "owner_id": NAMED_USER, "mailbox": "3000", "pin": "1234"},
                {"id": "front_desk_voicemail_box_id", "owner_id": NAMED_USER, "mailbox": "3001", "pin": "1234"}],
}


def load_with_named_documents(rds: redis.Redis, callflow: dict[str, Any]) -> None:
    doc = bundle([callflow])
    for section, documents in NAMED.items():
        doc[section] = [*doc[section], *documents]
    load_bundle(rds, doc, "the Kazoo corpus")


def read(text: str) -> Any:
    """The example's JSON; a fragment of members (`"flow": {...}`) is read as the object it
    belongs to. None when it is not JSON."""
    for candidate in (text, "{" + text + "}"):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return None


def as_callflow(doc: Any) -> dict[str, Any] | None:
    """The callflow an example is: itself, or the callflow around a node or a `"flow"` fragment
    (on NODE_NUMBER); None when it is neither."""
    if not isinstance(doc, dict):
        return None
    if set(doc) == {"flow"} and isinstance(doc["flow"], dict) and "numbers" not in doc:
        doc = doc["flow"]
    if "module" in doc:
        return {"id": "corpus", "numbers": [NODE_NUMBER], "flow": doc}
    if "flow" in doc:
        return {"id": "corpus", **doc}
    return None


def test_every_example_has_a_line_in_the_tables() -> None:
    listed = set(VALID) | set(REFUSED) | set(OTHER)
    assert set(EXAMPLES) == listed
    assert len(EXAMPLES) == len(CORPUS["examples"])


@pytest.mark.parametrize("source", sorted(REFUSED))
def test_a_refused_example_is_refused_for_the_reason_given(source: str) -> None:
    reason, _why = REFUSED[source]
    doc = read(EXAMPLES[source])
    if reason == NOT_JSON:
        assert doc is None
        return
    callflow = as_callflow(doc)
    assert callflow is not None
    report = check_callflow(callflow, source)
    assert report.errors and any(reason in error.reason for error in report.errors), report.errors


@pytest.mark.parametrize("source", sorted(OTHER))
def test_an_example_that_is_no_callflow_is_json_but_neither_a_callflow_nor_a_node(source: str) -> None:
    doc = read(EXAMPLES[source])
    assert doc is not None and as_callflow(doc) is None


def test_the_preflow_example_is_an_account_field() -> None:
    fragment = read(EXAMPLES[DOC + "preflow.md#1"])
    assert set(fragment) == {"preflow"}
    assert schema.errors("account.json", {"id": "a1", "name": "Office", **fragment}) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("source", sorted(VALID))
def test_a_valid_example_validates_unchanged_and_runs_without_a_module_failing(
    source: str, rds: redis.Redis, esl_server: OutboundServer, caplog: pytest.LogCaptureFixture,
) -> None:
    doc = read(EXAMPLES[source])
    callflow = as_callflow(doc)
    assert callflow is not None
    assert check_callflow(doc if "flow" in doc else callflow, source).errors == []  # as written
    load_with_named_documents(rds, callflow)
    number, internal = VALID[source]
    scenario = Scenario(destination=number, account_id=ACCOUNT, internal_user="1001" if internal else None,
                        bridges=(BridgeOutcome("no_answer", timeout=0.01),) * 3, time_scale=0.001,
                        hangup_after=5.0)
    with caplog.at_level(logging.WARNING):
        record = run_call(esl_server.address, scenario, timeout=20)
    assert record.hangup_cause != "UNALLOCATED_NUMBER", "the call reached no callflow"
    assert record.apps
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
