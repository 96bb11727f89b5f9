"""Errors of the API and how they are answered.

ApiError carries the HTTP status, a short message (Crossbar's `message`) and the per-field detail
(`data: {field: {rule: message}}`). Every error, including Flask's own (unknown route, wrong
method, body too large), leaves in the envelope with `status: error` and `error: "<code>"`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jsonschema.exceptions import ValidationError

from controller.errors import DocumentError

MESSAGES = {
    400: "invalid request", 401: "invalid credentials", 403: "forbidden", 404: "bad identifier",
    405: "method not allowed", 406: "not acceptable", 409: "conflict", 413: "request entity too large",
    415: "unsupported media type", 429: "too many requests", 500: "internal error", 503: "service unavailable",
}


class ApiError(Exception):
    """`headers`: sent with the answer (a 429's Retry-After)."""

    def __init__(self, status: int, message: str | None = None, data: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or MESSAGES.get(status, "error"))
        self.status = status
        self.message = message or MESSAGES.get(status, "error")
        self.data = data or {}
        self.headers = headers or {}


def invalid(field: str, rule: str, message: str) -> ApiError:
    return ApiError(400, "validation failed", {field: {rule: message}})


def busy(reason: str) -> ApiError:
    """The API's workers could not take the work now (controller/workers/pool.py)."""
    return ApiError(503, "service unavailable", {"workers": {"busy": f"{reason}; try again later"}})


def forbidden() -> ApiError:
    """The one answer for an account the token cannot reach, whether or not it exists."""
    return ApiError(403, "forbidden", {"account": {"access": "this token cannot reach that account"}})


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, "bad identifier", {"id": {"not_found": f"no {kind} {ident!r}"}})


def _dotted(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts)


def field_errors(errors: Iterable[ValidationError]) -> dict[str, dict[str, str]]:
    """jsonschema errors as Crossbar's `{field: {rule: message}}` (dotted field paths)."""
    found: dict[str, dict[str, str]] = {}
    for error in errors:
        path = list(error.absolute_path)
        if error.validator == "required":
            missing = re.match(r"'(.*)' is a required property", error.message)
            fields = [[*path, missing.group(1) if missing else "?"]]
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            fields = [[*path, key] for key in error.instance if key not in allowed] or [path]
        else:
            fields = [path]
        for field in fields:
            found.setdefault(_dotted(field) or "document", {})[str(error.validator)] = error.message
    return found


_RULES = (
    ("is a required property", "required"), ("is not of type", "type"),
    ("Additional properties", "additionalProperties"),
    ("is not one of", "enum"), ("does not match", "pattern"), ("is too long", "maxLength"),
    ("is too short", "minLength"), ("should be non-empty", "minLength"), ("already used", "unique"),
    ("is not a", "format"), ("needs", "required"),
)


def _rule_of(reason: str) -> str:
    return next((rule for text, rule in _RULES if text in reason), "invalid")


def document_errors(errors: Iterable[DocumentError]) -> dict[str, dict[str, str]]:
    """Callflow validation errors (JSON paths such as `$.flow.children['1'].data.id`) as fields
    (`flow.children.1.data.id`)."""
    found: dict[str, dict[str, str]] = {}
    for error in errors:
        field = re.sub(r"\['((?:[^'\\]|\\.)*)'\]", r".\1", error.path)
        field = re.sub(r"\[(\d+)\]", r".\1", field).removeprefix("$").lstrip(".")
        rule = _rule_of(error.reason)
        missing = re.match(r"'(.*)' is a required property", error.reason)
        if missing:
            field = f"{field}.{missing.group(1)}".lstrip(".")
        found.setdefault(field or "numbers", {})[rule] = error.reason
    return found
