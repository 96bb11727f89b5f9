"""Notification jobs: the versioned JSON document a call leaves for the mail sender.

The format (version 1) is `notify/job.schema.json`, documented in README.md so another mail
sender could consume the queue. The idempotency key is derived from the FreeSWITCH instance, the
call, the notification type and the template: the same notification of the same call always gets
the same key, so whoever enqueues it twice (the call's own process and the inbound watcher) or
delivers it twice (a worker that died after sending) is detected.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("job.schema.json")


def idempotency_key(instance: str, call_id: str, kind: str, template_id: str) -> str:
    """sha256 of the four parts; stable across processes and restarts."""
    raw = "\x1f".join((instance, call_id, kind, template_id)).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def make_job(
    kind: str,
    account_id: str,
    call: dict[str, Any],
    *,
    instance: str,
    template_id: str | None = None,
    recipients: list[dict[str, Any]] | None = None,
    media: list[str] | None = None,
    comments: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    template = template_id or kind
    job: dict[str, Any] = {
        "version": VERSION,
        "id": uuid.uuid4().hex,
        "type": kind,
        "account_id": account_id,
        "template_id": template,
        "idempotency_key": idempotency_key(instance, str(call.get("call_id", "")), kind, template),
        "created_at": time.time(),
        "call": call,
        "recipients": recipients or [],
        "media": media or ["email"],
    }
    if comments:
        job["comments"] = comments
    if data:
        job["data"] = data
    return job


@functools.cache
def _schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_schema())


@functools.cache
def _check() -> Callable[[Any], Any]:
    """The same schema compiled to Python by fastjsonschema: about 30 us a job where jsonschema
    takes 200 to 400 (every mail sender validates every job). It decides that a job is valid;
    jsonschema explains why one is not (the error paths and messages the dead letters carry)."""
    return fastjsonschema.compile(_schema())


def job_errors(job: Any) -> list[str]:
    """Why a job document breaks its schema (empty when it is valid)."""
    try:
        _check()(job)
    except fastjsonschema.JsonSchemaException:
        return [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(job)]
    return []
