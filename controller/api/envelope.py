"""The envelope of every answer (Crossbar's): `data`, `status`, `request_id`, `revision` (a digest
of the data, so a client can tell whether anything changed), `auth_token`, `timestamp`, `version`,
`node`; errors add `error` (the HTTP code) and `message`."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import socket
from typing import Any

from flask import Response, current_app, g

import controller


def _revision(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@functools.cache
def node_id() -> str:
    """This host as the envelope's `node` names it (a digest: the host name itself is not told)."""
    return hashlib.sha1(socket.gethostname().encode("utf-8")).hexdigest()[:16]


def envelope(data: Any, *, request_id: str, auth_token: str, node: str) -> dict[str, Any]:
    return {
        "data": data,
        "request_id": request_id,
        "revision": _revision(data),
        "auth_token": auth_token,
        "timestamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": controller.__version__,
        "node": node,
    }


def error_document(status: int, message: str, data: dict[str, Any], *, request_id: str,
                   auth_token: str = "") -> dict[str, Any]:
    """An error in the envelope, for what answers outside the Flask app (the operations routes,
    the HTTP server's own refusals)."""
    return {**envelope(data, request_id=request_id, auth_token=auth_token, node=node_id()),
            "status": "error", "error": str(status), "message": message}


def _base(data: Any) -> dict[str, Any]:
    return envelope(data, request_id=g.get("request_id", ""), auth_token=g.get("auth_secret", ""),
                    node=current_app.config["CONTROLLER_NODE"])


def _response(body: dict[str, Any], status: int) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(text, status=status, mimetype="application/json")
    response.headers["X-Request-ID"] = str(body["request_id"])
    return response


def reply(data: Any, status: int = 200, **extra: Any) -> Response:
    """A success; `extra` adds top-level keys (paging: `page_size`, `start_key`, `next_start_key`)."""
    return _response({**_base(data), "status": "success", **extra}, status)


def error_reply(status: int, message: str, data: dict[str, Any]) -> Response:
    return _response({**_base(data), "status": "error", "error": str(status), "message": message}, status)
