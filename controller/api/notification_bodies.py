"""A template's bodies over HTTP (Kazoo's template formats).

Reading: `Accept: text/html` or `text/plain` (or `?accept=`, for clients that cannot set the
header) returns that body as it is; JSON (no Accept, `application/json`, `*/*`) returns the
document; anything else is 406. Writing: `Content-Type: text/html` or `text/plain` with the body
as it is, or a multipart form whose `content` part is the file (what `curl -F content=@file.html`
sends, even when `-H 'Content-Type: text/html'` hides the multipart boundary).
"""

from __future__ import annotations

import io
from typing import Any

from flask import Response, request
from werkzeug.formparser import MultiPartParser

from controller.api.errors import ApiError, invalid
from controller.notify.templates import Template

BODY_TYPES = ("text/html", "text/plain")
JSON_TYPES = ("application/json", "*/*", "application/*")


def wanted() -> str | None:
    """The body asked for (`text/html` or `text/plain`), None for the JSON document; 406 else."""
    asked = request.args.get("accept")
    if asked is not None:
        asked = asked.split(";")[0].strip().lower()
        if asked in BODY_TYPES:
            return asked
        if asked in JSON_TYPES:
            return None
        raise _not_acceptable()
    if not request.headers.get("Accept"):
        return None
    best = request.accept_mimetypes.best_match(["application/json", *BODY_TYPES])
    if best is None:
        raise _not_acceptable()
    return None if best == "application/json" else best


def _not_acceptable() -> ApiError:
    return ApiError(406, "not acceptable", {"accept": {"enum": "ask for application/json, text/html or text/plain"}})


def body_response(template: Template, kind: str) -> Response:
    body = template.html if kind == "text/html" else template.text
    return Response(body, mimetype=kind, headers={"Content-Type": f"{kind}; charset=utf-8"})


def is_upload() -> bool:
    return request.mimetype in BODY_TYPES or request.mimetype == "multipart/form-data"


def uploaded() -> tuple[str, str]:
    """The uploaded body: (`text/html` or `text/plain`, its text)."""
    if request.mimetype == "multipart/form-data":
        part = request.files.get("content")
        if part is None:
            raise invalid("content", "required", "send the template as the form field `content`")
        return _part_type(part.mimetype), _decode(part.read())
    raw = request.get_data(cache=True)
    hidden = _hidden_multipart(raw)
    if hidden is not None:
        return request.mimetype, hidden
    return request.mimetype, _decode(raw)


def _part_type(mimetype: str) -> str:
    if mimetype not in BODY_TYPES:
        raise ApiError(415, "unsupported media type", {"content": {"enum": "the file must be text/html or text/plain"}})
    return mimetype


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("content", "encoding", "the template must be UTF-8 text") from None


def _hidden_multipart(raw: bytes) -> str | None:
    """curl -H 'Content-Type: text/html' -F content=@file sends a multipart body under a text
    type; find the `content` part by the boundary on the body's first line."""
    first, _, _ = raw.partition(b"\r\n")
    if not first.startswith(b"--") or b'name="content"' not in raw[:2048]:
        return None
    boundary = first[2:]
    parser = MultiPartParser(max_form_memory_size=request.max_content_length)
    try:
        _, files = parser.parse(io.BytesIO(raw), boundary, len(raw))
    except ValueError:
        return None
    try:
        part: Any = files.get("content")
        return None if part is None else _decode(part.read())
    finally:
        for storage in files.values():
            storage.close()
