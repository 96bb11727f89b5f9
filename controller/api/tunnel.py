"""Crossbar's verb tunnelling: a client that can only send GET and POST (an HTML form, some HTTP
libraries and proxies) names the method it means in the query string, `?verb=PUT`, or in the JSON
request envelope of a POST, `{"data": {...}, "verb": "delete"}` (any case). The request is then
routed and answered as that method, with the same token checks.

Only GET and POST are tunnelled, only to PUT, POST, PATCH or DELETE (a verb naming the method the
request came with changes nothing); any other `verb` is a 400, which the app answers in its
envelope (`UNKNOWN` marks the request for it). The envelope's `verb` is looked for only in a JSON
body of a known length within the API's body limit, so that reading it never holds more than a
request may send.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
TUNNELLED = frozenset({"GET", "POST"})
VERBS = frozenset({"PUT", "POST", "PATCH", "DELETE"})
UNKNOWN = "controller.unknown_verb"  # environ key: the verb asked for that cannot be tunnelled
FROM = "controller.tunnelled_from"  # environ key: the method the request came with


class VerbTunnel:
    """WSGI middleware in front of the Flask app: rewrites REQUEST_METHOD before routing."""

    def __init__(self, app: WSGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if method in TUNNELLED:
            verb = (_query_verb(environ) or (self._envelope_verb(environ) if method == "POST" else "")).upper()
            if verb in VERBS and verb != method:
                environ[FROM], environ["REQUEST_METHOD"] = method, verb
            elif verb and verb != method:
                environ[UNKNOWN] = verb[:16]
        return self.app(environ, start)

    def _envelope_verb(self, environ: dict[str, Any]) -> str:
        """The envelope's `verb` of a JSON POST; the body is read once and put back."""
        if not str(environ.get("CONTENT_TYPE", "")).startswith("application/json"):
            return ""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return ""
        if not 0 < length <= self.max_body:
            return ""
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        if b'"verb"' not in raw:
            return ""
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return ""  # the route says what is wrong with it
        verb = body.get("verb") if isinstance(body, dict) else None
        return verb if isinstance(verb, str) else ""


def _query_verb(environ: dict[str, Any]) -> str:
    query = environ.get("QUERY_STRING", "")
    if "verb=" not in query:
        return ""
    values = parse_qs(query).get("verb") or [""]
    return values[0]
