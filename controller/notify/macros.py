"""The values a template sees (Kazoo teletype's macros), built from a job at send time.

Call data is caller text: each of its strings is made one line (`one_line`: CR and LF become
spaces) before any template sees it, so that in a text/plain body a caller ID name cannot start a
line of its own (`Bcc: ...`) and in a header it cannot start a header. The address fields (From,
Reply-To) see `address_macros` only: the account and the system, never call data.
"""

from __future__ import annotations

import datetime
import functools
import math
import socket
import zoneinfo
from typing import Any

from controller.esl.safety import one_line
from controller.notify.addresses import address_inert
from controller.notify.fax_macros import fax_macros

REASONS = {
    "ALLOTTED_TIMEOUT": "nobody answered",
    "NO_ANSWER": "nobody answered",
    "USER_BUSY": "the line was busy",
    "NORMAL_TEMPORARY_FAILURE": "the phone could not be reached",
    "NORMAL_CLEARING": "the caller hung up before anyone answered",
    "ORIGINATOR_CANCEL": "the caller hung up before anyone answered",
}


def _when(timestamp: Any, timezone: str) -> dict[str, str]:
    """A time as UTC and local text. The job schema keeps times between 1970 and 2106; anything
    else that slips through (NaN from a foreign producer) reads as 1970 rather than failing."""
    seconds = timestamp if isinstance(timestamp, (int, float)) and math.isfinite(timestamp) else 0
    try:
        moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        moment = datetime.datetime.fromtimestamp(0, tz=datetime.UTC)
    try:
        local = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OverflowError):
        local = moment
    return {"utc": moment.strftime("%Y-%m-%d %H:%M:%S UTC"), "local": local.strftime("%Y-%m-%d %H:%M:%S %Z")}


def _name_number(name: str, number: str) -> str:
    if name and number and name != number:
        return f"{name} ({number})"
    return name or number or "unknown"


def minutes_seconds(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _voicemail(
    voicemail: dict[str, Any], timezone: str, file_name: str, media_url: str, call_started: Any
) -> dict[str, Any]:
    """voicemail_to_email and voicemail_full: the box, the message, its recording."""
    length = max(0, int(voicemail.get("length") or 0))
    mailbox, limit = str(voicemail.get("mailbox") or ""), int(voicemail.get("max_messages") or 0)
    box_id, box_name = voicemail.get("box_id", ""), voicemail.get("box_name", "")
    message_id = voicemail.get("message_id", "")
    new, saved = int(voicemail.get("new_count") or 0), int(voicemail.get("saved_count") or 0)
    return {
        "box_id": box_id, "mailbox": mailbox, "box_name": box_name,
        "message_id": message_id, "length": minutes_seconds(length),
        "length_seconds": length, "date": _when(voicemail.get("timestamp") or call_started, timezone),
        "new_count": new, "saved_count": saved,
        "max_messages": limit, "attached": bool(file_name), "file_name": file_name, "media_url": media_url,
        "box": mailbox, "max_message_count": limit,  # the names older templates used
        **_teletype_names(box_id, box_name, mailbox, message_id, new + saved),
    }


def _teletype_names(box_id: Any, box_name: Any, mailbox: str, message_id: Any, count: int) -> dict[str, Any]:
    """The same values under the names of Kazoo teletype's voicemail templates, so that a template
    brought from Kazoo renders them: `vmbox_id`, `vmbox_name`, `vmbox_number` and `msg_id`
    (voicemail_to_email), `id`, `number` and `message_count` (voicemail_full)."""
    return {"vmbox_id": box_id, "vmbox_name": box_name, "vmbox_number": mailbox, "msg_id": message_id,
            "id": box_id, "number": mailbox, "message_count": count}


def macros(
    job: dict[str, Any], account: dict[str, Any], user: dict[str, Any] | None, *, file_name: str = "",
    media_url: str = "",
) -> dict[str, Any]:
    """`file_name`: the recording attached to the email (empty when none); `media_url`: its link."""
    call = {key: one_line(value) if isinstance(value, str) else value for key, value in (job.get("call") or {}).items()}
    timezone = str((user or {}).get("timezone") or account.get("timezone") or "UTC")
    name, number = str(call.get("caller_id_name") or ""), str(call.get("caller_id_number") or "")
    callee_name, callee_number = str(call.get("callee_id_name") or ""), str(call.get("callee_id_number") or "")
    cause = str(call.get("hangup_cause") or call.get("disposition") or "")
    voicemail = (job.get("data") or {}).get("voicemail") or {}
    fax = (job.get("data") or {}).get("fax") or {}
    return {
        "call_id": call.get("call_id", ""),
        "caller_id": {"name": name, "number": number, "name_number": _name_number(name, number)},
        "callee_id": {"name": callee_name, "number": callee_number,
                      "name_number": _name_number(callee_name, callee_number)},
        "date_called": _when(call.get("started_at"), timezone),
        "from": {"user": call.get("from_user", ""), "realm": call.get("from_realm", "")},
        "to": {"user": call.get("to_user", ""), "realm": call.get("to_realm", "")},
        "missed_call": {"reason": REASONS.get(cause, "nobody answered" if not call.get("bridged") else "")},
        "call": {"bridged": bool(call.get("bridged")), "message_left": bool(call.get("message_left")),
                 "hangup_cause": cause},
        "comments": job.get("comments", ""),
        "account": {"id": account.get("id", job.get("account_id")), "name": account.get("name", ""),
                    "realm": account.get("realm", ""), "timezone": account.get("timezone", "UTC")},
        "user": dict(user or {}),
        "system": {"hostname": socket.gethostname()},
        "databag": (job.get("data") or {}).get("databag", {}),
        "voicemail": _voicemail(voicemail, timezone, file_name, media_url, call.get("started_at")) if voicemail else {},
        **(fax_macros(fax, _when(fax.get("timestamp") or call.get("started_at"), timezone), file_name) if fax else {}),
    }


def address_macros(account: dict[str, Any]) -> dict[str, Any]:
    """What From and Reply-To may use: the account's values (each `address_inert`) and the
    system's host name. Call data is not there, so no caller can choose who a mail is from."""
    values = _address_values(str(account.get("id") or ""), str(account.get("name") or ""),
                             str(account.get("realm") or ""), socket.gethostname())
    return {"account": dict(values[0]), "system": dict(values[1])}


@functools.lru_cache(maxsize=1024)
def _address_values(ident: str, name: str, realm: str, hostname: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """The inert values of one account (cached: translating them costs more than the rest of the
    address fields' render, and an account's values rarely change)."""
    account = (("id", address_inert(ident)), ("name", address_inert(name)), ("realm", address_inert(realm)))
    return account, (("hostname", address_inert(hostname)),)
