"""Who may do what: every request but the OpenAPI document, the landing answer (`/`, `/v2/`) and
the logins that make a token (`/v2/user_auth`, `/v2/api_auth`) carries `X-Auth-Token`; a token
reaches its own account and that account's descendants (a super admin token reaches every
account); writes need an admin token; system notification templates need a super admin token.

An account the token cannot reach is answered 403 whether or not it exists, with the same body:
nothing tells a caller which foreign accounts exist.
"""

from __future__ import annotations

from typing import Any

from flask import g, request

from controller.api import landing
from controller.api.context import ctx
from controller.api.errors import ApiError, forbidden, not_found
from controller.errors import NotFoundError
from controller.store.tokens import Token

USER_AUTH, API_AUTH = "/v2/user_auth", "/v2/api_auth"  # logins for a token (logins.py)
PUBLIC = frozenset({"/v2/openapi.json", *landing.PATHS, USER_AUTH, API_AUTH})


def authenticate() -> None:
    """Flask `before_request` hook."""
    if request.path in PUBLIC:
        return
    secret = request.headers.get("X-Auth-Token", "")
    token = ctx().tokens.lookup(secret) if secret else None
    if token is None:
        raise ApiError(401, "invalid credentials", {"X-Auth-Token": {
            "required": "a valid token is required: `controller tokens create --account ACCOUNT_ID` makes one, "
                        "as do PUT /v2/user_auth and PUT /v2/api_auth (GET / says more)"}})
    g.token = token
    g.auth_secret = secret


def token() -> Token:
    current: Token = g.token
    return current


def require_write() -> None:
    if not token().can_write:
        raise ApiError(403, "forbidden", {"token": {"admin": "this token may only read"}})


def require_super() -> None:
    if not token().super:
        raise ApiError(403, "forbidden", {"token": {"super": "only a super admin token may change this"}})


def reachable(aid: str) -> dict[str, Any]:
    """The account document when the token reaches it; otherwise 403 (404 only for a super admin,
    who reaches everything that exists)."""
    accounts = ctx().services.accounts
    current = token()
    try:
        account = accounts.get(aid)
    except NotFoundError:
        if current.super:
            raise not_found("account", aid) from None
        raise forbidden() from None
    if current.super or aid == current.account_id or current.account_id in accounts.parents_of(account):
        return account
    raise forbidden()


def reachable_ids() -> list[str]:
    """Every account id the token reaches, its own first."""
    accounts = ctx().services.accounts
    current = token()
    if current.super:
        return accounts.ids()
    if not accounts.exists(current.account_id):
        return []
    return [current.account_id, *accounts.descendants(current.account_id)]
