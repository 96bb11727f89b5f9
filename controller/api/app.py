"""The app factory: `create_app(services)` builds the Flask app with one blueprint per resource;
settings come from `services.settings` (no module-level state). Served by `controller api`."""

from __future__ import annotations

import logging
import re
import socket
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from controller.api import (
    accounts,
    callflows,
    cdrs,
    channels,
    conference_participants,
    customer_update,
    documents,
    landing,
    logins,
    media,
    messages,
    notification_accounts,
    notification_system,
    openapi,
    parked_calls,
    preview,
    queues,
    smtplog,
)
from controller.api.auth import authenticate
from controller.api.context import ApiContext
from controller.api.envelope import error_reply, node_id
from controller.api.errors import MESSAGES, ApiError
from controller.api.tunnel import UNKNOWN, VerbTunnel
from controller.notify.smtplog import SmtpLog
from controller.notify.templates import Templates
from controller.services import Services
from controller.store.tokens import Tokens
from controller.workers.pool import WorkerPool

log = logging.getLogger(__name__)


def create_app(services: Services, workers: WorkerPool | None = None) -> Flask:
    """`workers`: the processes that render templates and validate callflows (a pool of its own,
    whose workers start at the first job, when none is given); `close_app` stops them."""
    app = Flask("controller.api", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = services.settings.api_max_body
    node = socket.gethostname()
    app.config["CONTROLLER_NODE"] = node_id()
    app.wsgi_app = VerbTunnel(app.wsgi_app, services.settings.api_max_body)  # type: ignore[method-assign, assignment]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["controller"] = ApiContext(
        services=services, tokens=Tokens(services.rds), templates=Templates(services.rds),
        smtplog=SmtpLog(services.rds), workers=WorkerPool() if workers is None else workers, instance=f"api:{node}",
    )
    app.before_request(_start)
    app.before_request(_check_verb)
    app.before_request(_check_identifiers)
    app.before_request(_check_accept)
    app.before_request(authenticate)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    for module in (accounts, documents, media, messages, callflows, notification_system, notification_accounts, preview,
                   smtplog, customer_update, openapi, landing, logins, channels, cdrs, parked_calls,
                   conference_participants, queues):
        for blueprint in module.blueprints():
            app.register_blueprint(blueprint)
    return app


def close_app(app: Flask) -> None:
    """Stop what the app started: its workers."""
    context: ApiContext = app.extensions["controller"]
    context.workers.close()


def _start() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if given.isprintable() and 0 < len(given) <= 64 else uuid.uuid4().hex
    token = request.headers.get("X-Auth-Token", "")
    # Crossbar's envelope echoes the request's token, in errors too (before or without checking it).
    g.auth_secret = token if token.isprintable() and len(token) <= 256 else ""


def _check_verb() -> None:
    """`?verb=` (or the envelope's `verb`) naming a method that cannot be tunnelled (tunnel.py)."""
    asked = request.environ.get(UNKNOWN)
    if asked:
        raise ApiError(400, "invalid request", {"verb": {"enum": f"{asked!r}: verb takes PUT, POST, PATCH or DELETE"}})


# What every identifier in a path may hold (the documents' own id patterns are narrower): none of
# Redis keys' separators (`:`), no whitespace, nothing to decode. Checked before any handler
# builds a key from it.
IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def _check_identifiers() -> None:
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and not IDENTIFIER.fullmatch(value):
            raise ApiError(400, "invalid identifier", {name: {"pattern": "1 to 128 letters, digits, '_', '.' or '-'"}})


ANSWER_TYPES = ["application/json", "text/html", "text/plain"]
# The routes that answer in audio too (media and voicemail recordings).
AUDIO_ENDPOINTS = media.AUDIO_ENDPOINTS | messages.AUDIO_ENDPOINTS


def _check_accept() -> None:
    """An `Accept` that takes none of the types the API answers in is refused with 406, before
    anything runs (a route that answers in another type than JSON, a notification body, says so
    itself; `?accept=` is the route's to read)."""
    asked = request.headers.get("Accept") and "accept" not in request.args
    audio = request.endpoint in AUDIO_ENDPOINTS
    types = ANSWER_TYPES + media.AUDIO_TYPES if audio else ANSWER_TYPES
    if asked and request.accept_mimetypes.best_match(types) is None:
        what = "application/json, audio/wav or audio/mpeg" if audio else "application/json, text/html or text/plain"
        raise ApiError(406, "not acceptable", {"accept": {"enum": f"ask for {what}"}})


def _api_error(error: ApiError) -> Response:
    response = error_reply(error.status, error.message, error.data)
    response.headers.update(error.headers)
    return response


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    data = {}
    allowed = sorted(error.valid_methods or []) if isinstance(error, MethodNotAllowed) else []
    if isinstance(error, RequestEntityTooLarge):
        limit = request.max_content_length
        data = {"body": {"maxLength": f"the body is larger than {limit} bytes (CONTROLLER_API_MAX_BODY)"}}
    elif allowed:
        data = {"method": {"enum": f"{request.method} is not served here; {', '.join(allowed)} are"}}
    response = error_reply(status, MESSAGES.get(status, error.name.lower()), data)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("request %s %s failed", request.method, request.path)
    return error_reply(500, "internal error", {})
