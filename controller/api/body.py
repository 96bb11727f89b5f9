"""Reading request bodies: Crossbar's `{"data": {...}}` JSON envelope (malformed JSON is a 400
that says where), and merging for PATCH."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from controller.api.errors import ApiError, invalid
from controller.store import codec


def json_body(required: bool = True) -> dict[str, Any]:
    """The parsed body; an empty body is `{}` when not required."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise invalid("data", "required", "a JSON body {\"data\": {...}} is required")
        return {}
    mimetype = request.mimetype
    if mimetype and mimetype not in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        raise ApiError(415, "unsupported media type", {"Content-Type": {"enum": "send application/json"}})
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ApiError(400, "invalid json", {"body": {"depth": "the JSON document is nested too deeply"}}) from None
    except UnicodeDecodeError:
        raise ApiError(400, "invalid json", {"body": {"encoding": "the body is not UTF-8"}}) from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise ApiError(400, "invalid json", {"body": {"json": f"malformed JSON at {where}"}}) from None
    if not isinstance(body, dict):
        raise invalid("body", "type", "the body must be a JSON object")
    problem = codec.plain_problem(body)
    if problem is not None:
        raise ApiError(400, "invalid json", {"body": {"content": problem}})
    return body


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (Python's parser accepts them; nothing else would read them)."""
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise invalid("data", "type", "data must be a JSON object")
    return data


def request_data() -> dict[str, Any]:
    return data_of(json_body())


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """PATCH: objects merge recursively, anything else replaces; null removes a key."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged
