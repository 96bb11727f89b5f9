"""The vmbox fields the voicemail menus write and read, and the voicemail job's after-notify
action, as their schemas take them (Kazoo's vmboxes schema)."""

from typing import Any

import pytest

from controller.notify.job import job_errors, make_job
from controller.store.documents import schema_errors

BOX = {"id": "vm-1", "mailbox": "1001"}


@pytest.mark.parametrize("fields", [
    {"media": {"unavailable": "/v/unavailable-1.wav", "temporary_unavailable": "/v/temporary_unavailable-2.wav"}},
    {"media": {"name": "/v/name-3.wav"}},
    {"delete_after_notify": True, "save_after_notify": False},
    {"operator_number": "0"},
    {"operator_number": 2000},
    {"pin": "123456"},
])
def test_a_box_takes_what_the_menus_write(fields: dict[str, Any]) -> None:
    assert schema_errors("vmboxes", {**BOX, **fields}) == []


@pytest.mark.parametrize(("fields", "why"), [
    ({"media": {"temporary_unavailable": "/v/a.wav\nX: 1"}}, "pattern"),
    ({"media": {"name": ""}}, "minLength"),
    ({"save_after_notify": "yes"}, "type"),
    ({"operator_number": "0; rm"}, "pattern"),
    ({"pin": "12a4"}, "pattern"),  # a PIN typed with * is refused
    ({"pin": "123"}, "pattern"),  # shorter than Kazoo's four digits
])
def test_a_box_refuses_what_a_pin_or_greeting_must_not_be(fields: dict[str, Any], why: str) -> None:
    assert why in [error.validator for error in schema_errors("vmboxes", {**BOX, **fields})]


def job(**voicemail: Any) -> dict[str, Any]:
    about = {"box_id": "vm-1", "mailbox": "1001", "message_id": "m1", **voicemail}
    return make_job("voicemail_to_email", "acct", {"call_id": "c1"}, instance="fs", data={"voicemail": about})


def test_a_voicemail_job_names_its_after_notify_action() -> None:
    assert job_errors(job(after_notify="delete")) == []
    assert job_errors(job(after_notify="save")) == []
    assert job_errors(job(after_notify="purge")) != []
