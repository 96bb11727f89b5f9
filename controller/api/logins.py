"""Kazoo's logins for a token, without one: `PUT /v2/user_auth` (Crossbar's cb_user_auth: a user's
`credentials`, the md5 or sha1 hex digest of `username:password`, with the account's
`account_name`, `account_realm` or a `phone_number` of it) and `PUT /v2/api_auth` (cb_api_auth:
an account's `api_key`). Each answers 201 with a new token in `auth_token` (the envelope's, as
Crossbar's) that expires after an hour (Kazoo's `token_auth_expiry_s`), and what it reaches in
`data`. `GET /v2/accounts/{id}/api_key` says whether the account has an API key, `PUT` makes one
(or imports a Kazoo account's) and shows it, once.

Where Kazoo's scheme is weak it is kept safe here:
- what a login sends is a password equivalent: it is kept only as a salted scrypt key
  (store/logins.py), derived in a thread so that the loop that answers requests never waits
  on it, at most two at a time;
- failed logins are counted per client address (10 in 15 minutes) and, for user_auth, per
  account (50 in 15 minutes); past either, logins are refused with 429 before anything is
  checked, `Retry-After` saying when to try again;
- every failure (no such account, user or key, a wrong password, a disabled user or account) is
  the same 401 after the same work, so nothing tells a guesser which part was wrong;
- a user's token reaches the user's account (and its descendants, as every token does), writes
  only for a user with `priv_level: admin`, and is never a super admin's; an API key's token is
  the account's admin token. A user's tokens are revoked when the user is deleted or given new
  credentials.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
from flask import Blueprint, Response, current_app, g, request
from gevent.lock import BoundedSemaphore

from controller.api.auth import API_AUTH, USER_AUTH, reachable, require_write
from controller.api.body import data_of, json_body, request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, invalid
from controller.store import codec, keys
from controller.store.logins import API_KEY, METHODS, Logins, derive

T = TypeVar("T")

LIFETIME = 3600  # seconds a login's token lives (Kazoo's token_auth_expiry_s)
WINDOW = 900  # seconds a count of failed logins lasts
ADDRESS_LIMIT = 10  # failed logins from one client address within WINDOW
ACCOUNT_LIMIT = 50  # failed user logins into one account within WINDOW
CANDIDATES = 3  # accounts one login may try (a name several accounts share)
DERIVATIONS = 2  # scrypt derivations at a time

bp = Blueprint("logins", __name__)


def blueprints() -> list[Blueprint]:
    return [bp]


def offload(work: Callable[..., T], *args: Any) -> T:
    """Run CPU-heavy `work` (scrypt, which releases the GIL) in gevent's thread pool, a few at
    a time, while the loop goes on answering requests."""
    gate = current_app.extensions.setdefault("controller.derivations", BoundedSemaphore(DERIVATIONS))
    if not gate.acquire(timeout=10):
        raise ApiError(503, "service unavailable", {"login": {"busy": "too many logins at once; try again later"}})
    try:
        return gevent.get_hub().threadpool.apply(work, args)
    finally:
        gate.release()


def _refused() -> ApiError:
    return ApiError(401, "invalid credentials", {"credentials": {"invalid": "no match for these credentials"}})


def _throttled(scopes: list[str], limits: list[int]) -> None:
    """429 while any scope is past its limit of failed logins."""
    for (count, ttl), limit in zip(Logins(ctx().services.rds).failures(scopes), limits, strict=True):
        if count >= limit:
            wait = ttl or WINDOW
            raise ApiError(429, "too many requests", {"login": {
                "throttled": f"too many failed logins; try again in {wait} s"}}, headers={"Retry-After": str(wait)})


def _address() -> str:
    return f"address:{request.remote_addr or 'unknown'}"


@bp.put(USER_AUTH)
def user_auth() -> Response:
    data = request_data()
    credentials, method = data.get("credentials"), data.get("method", "md5")
    if not isinstance(credentials, str) or not 1 <= len(credentials) <= 64:
        raise invalid("credentials", "required", "credentials: the md5 hex digest of username:password")
    if method not in METHODS:
        raise invalid("method", "enum", "method is md5 or sha")
    accounts = _candidates(data)
    scopes = [_address(), *(f"account:{aid}" for aid in accounts)]
    _throttled(scopes, [ADDRESS_LIMIT] + [ACCOUNT_LIMIT] * len(accounts))
    found = _user(accounts, method, credentials)
    if found is None:
        Logins(ctx().services.rds).count_failure(scopes, WINDOW)
        raise _refused()
    aid, user = found
    secret, token = ctx().tokens.create(aid, admin=user.get("priv_level") == "admin", lifetime=LIFETIME,
                                        owner_id=str(user["id"]), method="cb_user_auth")
    ctx().tokens.prune()
    g.auth_secret = secret
    return reply(_granted(aid, token.expires, owner=user), 201)


@bp.put(API_AUTH)
def api_auth() -> Response:
    key = request_data().get("api_key")
    if not isinstance(key, str) or not key:
        raise invalid("api_key", "required", "api_key: the account's API key (64 hex digits)")
    _throttled([_address()], [ADDRESS_LIMIT])
    aid = Logins(ctx().services.rds).account_for_api_key(key)
    if aid is None or not _enabled(_account(aid)):
        Logins(ctx().services.rds).count_failure([_address()], WINDOW)
        raise _refused()
    secret, token = ctx().tokens.create(aid, admin=True, lifetime=LIFETIME, method="cb_api_auth")
    ctx().tokens.prune()
    g.auth_secret = secret
    return reply(_granted(aid, token.expires), 201)


@bp.get("/v2/accounts/<aid>/api_key")
def get_api_key(aid: str) -> Response:
    reachable(aid)
    record = Logins(ctx().services.rds).api_key_record(aid)
    return reply({"api_key": None, "exists": record is not None, "created": (record or {}).get("created"),
                  "about": "an API key is shown once, when PUT makes it"})


@bp.put("/v2/accounts/<aid>/api_key")
def put_api_key(aid: str) -> Response:
    require_write()
    reachable(aid)
    given = data_of(json_body(required=False)).get("api_key")
    if given is not None and not (isinstance(given, str) and API_KEY.fullmatch(given)):
        raise invalid("api_key", "pattern", "an API key to import is 64 hex digits")
    return reply({"api_key": Logins(ctx().services.rds).new_api_key(aid, given)}, 201)


def _user(accounts: list[str], method: str, credentials: str) -> tuple[str, dict[str, Any]] | None:
    """The enabled user of an enabled account whose credentials these are. The same derivations
    run whether or not an account was found, so that the time taken tells nothing."""
    logins = Logins(ctx().services.rds)
    for aid in accounts or ["-"]:
        derived = offload(derive, aid, method, credentials)
        user_id = logins.user_for(aid, method, derived) if accounts else None
        user = ctx().services.users.find(aid, user_id) if user_id else None
        if user and _enabled(user) and _enabled(_account(aid)):
            return aid, user
    return None


def _account(aid: str) -> dict[str, Any] | None:
    found = codec.load(ctx().services.rds.get(keys.account(aid)))
    return dict(found) if isinstance(found, dict) else None


def _enabled(doc: dict[str, Any] | None) -> bool:
    return doc is not None and doc.get("enabled", True) is not False


def _normalized(name: str) -> str:
    """Kazoo's kzd_accounts:normalize_name: lowercase letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _candidates(data: dict[str, Any]) -> list[str]:
    """The accounts a login names: by a phone number of theirs, their realm or their name."""
    number, realm = data.get("phone_number"), data.get("account_realm") or data.get("realm")
    name = data.get("account_name")
    given = [(f, v) for f, v in (("phone_number", number), ("account_realm", realm), ("account_name", name)) if v]
    if not given:
        raise invalid("account_name", "required", "name the account: account_name, account_realm or phone_number")
    field, value = given[0]
    if not isinstance(value, str) or len(value) > 256:
        raise invalid(field, "type", f"{field} is a string of at most 256 characters")
    rds = ctx().services.rds
    if field == "phone_number":
        return sorted(str(a) for a in rds.smembers(keys.number_accounts(value)))[:CANDIDATES]
    ids = ctx().services.accounts.ids()
    docs = [codec.load(raw) for raw in rds.mget([keys.account(aid) for aid in ids])] if ids else []
    if field == "account_realm":
        return [aid for aid, doc in zip(ids, docs, strict=True)
                if doc and str(doc.get("realm", "")).lower() == value.lower()][:CANDIDATES]
    wanted = _normalized(value)
    return [aid for aid, doc in zip(ids, docs, strict=True)
            if doc and wanted and _normalized(str(doc.get("name", ""))) == wanted][:CANDIDATES]


def _granted(aid: str, expires: float, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a login answers in `data` (Crossbar's response_auth, without Monster's apps)."""
    account = _account(aid) or {}
    data: dict[str, Any] = {"account_id": aid, "account_name": account.get("name", ""),
                            "is_reseller": bool(ctx().services.accounts.children(aid)),
                            "language": (owner or {}).get("language") or account.get("language") or "en-us",
                            "apps": [], "method": "cb_user_auth" if owner else "cb_api_auth",
                            "expires": int(expires), "expires_in": max(0, int(expires - time.time()))}
    if owner is not None:
        data["owner_id"] = owner["id"]
        data["priv_level"] = owner.get("priv_level", "user")
    return data
