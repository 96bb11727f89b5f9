"""`controller flows ...` as a user runs it: a subprocess, real files, a real Redis."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from controller.store import keys

FLOWS = Path(__file__).resolve().parent.parent / "flows"


def controller(*args: str, redis_url: str = "redis://127.0.0.1:1/0") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CONTROLLER_REDIS_URL=redis_url)
    env.pop("CONTROLLER_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_check_accepts_the_kazoo_doc_example(tmp_path: Path) -> None:
    doc = {"numbers": ["+15554441111"], "flow": {"module": "answer", "data": {}, "children": {}}}
    result = controller("flows", "check", str(write(tmp_path / "cf.json", doc)))
    assert result.returncode == 0, result.stderr
    assert "cf.json: callflow: valid" in result.stdout


def test_check_reports_malformed_json_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "numbers": ["1000"],\n  "flow": {"module": "answer",, "data": {}}\n}\n')
    result = controller("flows", "check", str(path))
    assert result.returncode == 1
    assert f"{path}: $: malformed JSON at line 3 column" in result.stderr


def test_check_reports_schema_violation_with_json_path(tmp_path: Path) -> None:
    doc = {"numbers": ["1" * 37], "flow": {"module": "answer", "data": {}, "children": {"_": {"data": {}}}}}
    result = controller("flows", "check", str(write(tmp_path / "cf.json", doc)))
    assert result.returncode == 1
    assert "$.numbers[0]:" in result.stderr
    assert "$.flow.children['_']: 'module' is a required property" in result.stderr


def test_check_refuses_a_misspelt_module_and_names_the_closest(tmp_path: Path) -> None:
    """A typo would load and be skipped at every call: the alert would never fire."""
    doc = {"numbers": ["100"], "flow": {"module": "missed_call_alret", "data": {},
                                       "children": {"_": {"module": "frobnicate", "data": {}}}}}
    result = controller("flows", "check", str(write(tmp_path / "cf.json", doc)))
    assert result.returncode == 1
    assert "$.flow.module: unknown module 'missed_call_alret' (did you mean 'missed_call_alert'?)" in result.stderr
    assert "$.flow.children['_'].module: unknown module 'frobnicate'\n" in result.stderr


def test_check_refuses_a_flow_nested_too_deep_in_one_line(tmp_path: Path) -> None:
    flow: dict[str, Any] = {"module": "answer", "data": {}}
    for _ in range(200):
        flow = {"module": "answer", "data": {}, "children": {"_": flow}}
    result = controller("flows", "check", str(write(tmp_path / "deep.json", {"numbers": ["9"], "flow": flow})))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "nested deeper than 128 levels" in result.stderr and len(result.stderr) < 1000


def test_check_refuses_a_callflow_without_number_or_pattern(tmp_path: Path) -> None:
    doc = {"flow": {"module": "answer", "data": {}}}
    result = controller("flows", "check", str(write(tmp_path / "cf.json", doc)))
    assert result.returncode == 1
    assert "$: a callflow needs at least one number or pattern" in result.stderr


def test_check_refuses_a_backtracking_pattern(tmp_path: Path) -> None:
    doc = {"patterns": [r"^(\d+)\1$"], "flow": {"module": "answer", "data": {}}}
    result = controller("flows", "check", str(write(tmp_path / "cf.json", doc)))
    assert result.returncode == 1
    assert "$.patterns[0]: not a valid RE2 expression" in result.stderr


def test_check_fails_when_any_file_is_invalid(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", {"numbers": ["1"], "flow": {"module": "answer", "data": {}}})
    bad = write(tmp_path / "bad.json", {"numbers": [], "flow": {"module": "answer", "data": {}}})
    result = controller("flows", "check", str(good), str(bad))
    assert result.returncode == 1
    assert f"{good}: callflow: valid" in result.stdout
    assert f"{bad}: callflow: 1 error(s)" in result.stdout


@pytest.mark.skipif(not (FLOWS / "office.json").exists(), reason="example bundle not present")
def test_example_bundle_loads_exports_and_matches(tmp_path: Path, redis_url: str, rds: Any) -> None:
    result = controller("flows", "load", str(FLOWS / "office.json"), redis_url=redis_url)
    assert result.returncode == 0, result.stderr
    account = json.loads((FLOWS / "office.json").read_text())["account"]["id"]
    exported = controller("flows", "export", account, redis_url=redis_url)
    assert exported.returncode == 0, exported.stderr
    again = write(tmp_path / "again.json", json.loads(exported.stdout))
    reloaded = controller("flows", "load", str(again), redis_url=redis_url)
    assert reloaded.returncode == 0, reloaded.stderr
    matched = controller("flows", "match", "+15554441111", redis_url=redis_url)
    assert matched.returncode == 0, matched.stderr
    assert "exact number '+15554441111'" in matched.stdout


def test_a_bundle_taking_another_accounts_number_is_refused_and_changes_nothing(
        tmp_path: Path, redis_url: str, rds: Any) -> None:
    assert controller("flows", "load", str(FLOWS / "office.json"), redis_url=redis_url).returncode == 0
    office = json.loads((FLOWS / "office.json").read_text())
    taken = office["callflows"][0]["numbers"][0]
    intruder = {"account": {"id": "intruder", "name": "Intruder", "realm": "intruder.test"},
                "callflows": [{"id": "grab", "numbers": [taken], "flow": {"module": "hangup", "data": {}}}]}
    result = controller("flows", "load", str(write(tmp_path / "intruder.json", intruder)), redis_url=redis_url)
    assert result.returncode != 0
    assert f"number {taken!r} is already used by another account" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and office["account"]["id"] not in result.stdout + result.stderr
    assert not rds.exists(keys.account("intruder"))


def test_an_unreachable_redis_is_one_clear_line_not_a_traceback() -> None:
    result = controller("flows", "match", "+15554441111", redis_url="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in result.stderr
    assert "Traceback" not in result.stderr


def test_match_says_when_a_no_match_callflow_turns_an_outside_caller_away(
        tmp_path: Path, redis_url: str, rds: Any) -> None:
    office = json.loads((FLOWS / "office.json").read_text())
    outbound = next(c for c in office["callflows"] if "no_match" in (c.get("numbers") or []))
    outbound["numbers"] = ["no_match", "+15554449999"]
    loaded = controller("flows", "load", str(write(tmp_path / "office.json", office)), redis_url=redis_url)
    assert loaded.returncode == 0, loaded.stderr
    outside = controller("flows", "match", "+15554449999", redis_url=redis_url)
    assert outside.returncode == 1
    assert f"callflow {outbound['id']} holds no_match: it routes only the account's own phones" in outside.stderr
    phone = next(d for d in office["devices"] if d["sip"].get("username") == "1001")
    inside = controller("flows", "match", "+15554449999", "--caller", phone["id"], redis_url=redis_url)
    assert inside.returncode == 0, inside.stderr
    assert f"callflow: {outbound['id']}" in inside.stdout
