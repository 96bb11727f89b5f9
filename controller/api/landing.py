"""The answer at `/` and `/v2/` (no token needed): what the API is, where its OpenAPI document and
docs are, and how to get a token — for a person who follows the URL `controller run` prints. A
browser (asking for HTML first) gets it as a small page, anything else as JSON in the envelope."""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, request

from controller.api.envelope import reply

bp = Blueprint("landing", __name__)

PATHS = ("/", "/v2", "/v2/")
ABOUT = {
    "name": "controller HTTP API",
    "about": "The HTTP API of the FreeSWITCH call controller, in Kazoo Crossbar's shapes: accounts, users, "
             "devices, voicemail boxes and messages, groups, menus, temporal rules and rule sets, media, callflows "
             "and notification templates, under /v2/.",
    "openapi": "/v2/openapi.json",
    "docs": "README.md of the controller, section HTTP API",
    "auth": "send the header X-Auth-Token with a token made by `controller tokens create --account ACCOUNT_ID` "
            "(--admin to write, --super for every account), or by a login: PUT /v2/user_auth (a user's "
            "credentials) or PUT /v2/api_auth (an account's API key)",
    "start": "/v2/accounts",
    "health": "/healthz",
    "metrics": "/metrics",
}


def blueprints() -> list[Blueprint]:
    return [bp]


@bp.get("/")
@bp.get("/v2/")
def landing() -> Response:
    if request.headers.get("Accept") and request.accept_mimetypes.best_match(
            ["application/json", "text/html"]) == "text/html":
        return Response(_page(ABOUT), mimetype="text/html")
    return reply(ABOUT)


def _page(about: dict[str, Any]) -> str:
    def link(path: str) -> str:
        return f'<a href="{html.escape(path)}"><code>{html.escape(path)}</code></a>'

    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>controller HTTP API</title></head><body>\n"
        f"<h1>controller HTTP API</h1>\n<p>{html.escape(about['about'])}</p>\n<ul>\n"
        f"<li>OpenAPI document: {link(about['openapi'])}</li>\n"
        f"<li>Documentation: {html.escape(about['docs'])}</li>\n"
        f"<li>Authentication: {html.escape(about['auth'])}</li>\n"
        f"<li>Start with {link(about['start'])}; health {link(about['health'])}, "
        f"metrics {link(about['metrics'])}</li>\n</ul>\n</body></html>\n"
    )
