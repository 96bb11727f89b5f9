"""Sample values for rendering a template before it is saved (validation and `preview`): the
account's own data and one of its users, with a made-up call, voicemail message and databag, built
by the same `macros()` the mail sender uses."""

from __future__ import annotations

import time
from typing import Any

from controller.notify.macros import macros

SAMPLE_CALL: dict[str, Any] = {
    "call_id": "preview-0000", "caller_id_name": "Sample Caller", "caller_id_number": "+15555550100",
    "callee_id_name": "Reception", "callee_id_number": "+15555550199", "from_user": "+15555550100",
    "from_realm": "example.com", "to_user": "+15555550199", "to_realm": "example.com",
    "hangup_cause": "NO_ANSWER", "bridged": False, "message_left": False,
}
SAMPLE_DATA: dict[str, Any] = {
    "databag": {"field1": "value1", "field2": {"subfield1": "subvalue1", "subfield2": "subvalue2"}},
    "voicemail": {"box_id": "sample-box", "mailbox": "1000", "box_name": "Sample Box", "message_id": "sample",
                  "length": 42, "new_count": 1, "saved_count": 0, "max_messages": 100},
    "fax": {"fax_id": "sample-fax", "box_id": "sample-faxbox", "box_name": "Sample Faxbox", "success": True,
            "result_code": 0, "result_text": "OK", "transferred_pages": 2, "total_pages": 2,
            "remote_station_id": "+15555550100", "transfer_rate": 14400, "ecm_used": True, "t38": False},
}
SAMPLE_USER: dict[str, Any] = {"id": "sample-user", "first_name": "Sample", "last_name": "User",
                               "email": "sample.user@example.com", "username": "sample.user", "timezone": "UTC"}


def sample_call() -> dict[str, Any]:
    now = time.time()
    return {**SAMPLE_CALL, "started_at": now - 30, "ended_at": now}


def sample_user(users: list[dict[str, Any]]) -> dict[str, Any]:
    """An admin of the account, else any user with an email, else a made-up one."""
    with_email = [u for u in users if u.get("email")]
    admins = [u for u in with_email if u.get("priv_level") == "admin"]
    return (admins or with_email or [SAMPLE_USER])[0]


def sample_macros(account: dict[str, Any], users: list[dict[str, Any]]) -> dict[str, Any]:
    job = {"account_id": account.get("id", ""), "call": sample_call(), "data": SAMPLE_DATA,
           "comments": "Sample comments"}
    return macros(job, account, sample_user(users))
