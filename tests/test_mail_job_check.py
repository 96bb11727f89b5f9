"""The mail sender's fast job check (fastjsonschema) and jsonschema give the same verdict on valid
jobs and on every kind of broken one, and the reasons come from jsonschema."""

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from controller.notify.job import SCHEMA_PATH, _check, job_errors, make_job

CALL = {"call_id": "c-1", "caller_id_name": "Carol", "caller_id_number": "+15557770000", "callee_id_name": "",
        "callee_id_number": "", "from_user": "+15557770000", "from_realm": "a.test", "to_user": "1001",
        "to_realm": "b.test", "dialed_number": "1001", "callflow_id": None, "started_at": 1795440000.0,
        "answered_at": None, "ended_at": 1795440030.5, "hangup_cause": "NO_ANSWER", "disposition": None,
        "bridged": False, "message_left": True, "is_internal": False}
VOICEMAIL = {"box_id": "vm-1", "mailbox": "1001", "box_name": "Ann", "message_id": "m-1", "length": 12,
             "timestamp": 1795440020.0, "media_path": "/var/lib/freeswitch/m-1.wav", "new_count": 1,
             "saved_count": 0, "max_messages": 100}


def valid() -> dict[str, Any]:
    return make_job("voicemail_to_email", "acct", dict(CALL), instance="fs", comments="hi",
                    recipients=[{"type": "user", "id": "u-1"}, {"type": "email", "id": ["a@b.test"]}],
                    data={"voicemail": dict(VOICEMAIL), "databag": {"k": "v"}})


def mutated(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """The valid job with one value replaced (or removed, for `...`)."""
    job = copy.deepcopy(valid())
    target = job
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return job


BROKEN = [
    (("version",), 2), (("id",), ""), (("id",), "x" * 65), (("type",), "fax"), (("account_id",), ...),
    (("idempotency_key",), "ABC"), (("idempotency_key",), "0" * 63), (("created_at",), "now"),
    (("call",), []), (("call", "bridged"), "no"), (("call", "answered_at"), "soon"), (("call", "call_id"), 5),
    (("recipients",), {}), (("recipients", 0), {"type": "user"}), (("recipients", 0, "type"), "group"),
    (("recipients", 0, "id"), 7), (("recipients", 1, "id"), ["ok", 3]), (("recipients", 0, "extra"), 1),
    (("media",), []), (("media",), ["fax"]), (("comments",), 3), (("data",), "x"),
    (("data", "voicemail", "mailbox"), ...), (("data", "voicemail", "length"), -1),
    (("data", "voicemail", "length"), 1.5), (("data", "voicemail", "new_count"), "3"),
    (("data", "voicemail", "timestamp"), None), (("data", "databag"), []), (("template_id",), "t" * 129),
]


def jsonschema_says_valid(job: Any) -> bool:
    return bool(Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).is_valid(job))


def fast_says_valid(job: Any) -> bool:
    try:
        _check()(job)
    except Exception:
        return False
    return True


def test_a_valid_job_passes_both_checks() -> None:
    job = valid()
    assert fast_says_valid(job) and jsonschema_says_valid(job) and job_errors(job) == []
    del job["call"], job["data"], job["comments"]
    assert fast_says_valid(job) and jsonschema_says_valid(job)


@pytest.mark.parametrize(("path", "value"), BROKEN, ids=[".".join(map(str, p)) + "=" + repr(v) for p, v in BROKEN])
def test_every_kind_of_broken_job_is_refused_by_both_with_jsonschemas_reason(path: tuple[Any, ...], value: Any) -> None:
    job = mutated(path, value)
    assert not jsonschema_says_valid(job) and not fast_says_valid(job)
    [reason, *_] = job_errors(job)
    assert reason.startswith("$") and ": " in reason


def test_a_document_that_is_not_an_object_is_refused() -> None:
    assert job_errors([]) and job_errors("job") and job_errors(None)
