"""`/v2/accounts`: the accounts a token reaches, create (a child of the token's account by
default), read, replace, merge, delete (an account with children is refused: 409; the deleted
account's tokens are revoked, its media files removed), and `/children`. A token never moves or deletes its own account,
and an account never moves under itself."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable, reachable_ids, require_write, token
from controller.api.body import merge, request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, field_errors, invalid
from controller.api.paging import paged
from controller.errors import ConflictError, DocumentError
from controller.store import codec, keys
from controller.store.documents import schema_errors
from controller.store.logins import Logins
from controller.store.media import MediaFiles, media_root

bp = Blueprint("accounts", __name__, url_prefix="/v2/accounts")


def blueprints() -> list[Blueprint]:
    return [bp]


def _docs(ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    raw = ctx().services.rds.mget([keys.account(aid) for aid in ids])
    return [codec.load(r) for r in raw if r is not None]


@bp.get("")
def list_accounts() -> Response:
    return paged(_docs(reachable_ids()))


@bp.put("")
def create_account() -> Response:
    require_write()
    data = request_data()
    if "id" in data and not token().super:
        # account ids are global: letting a customer pick one would tell it which ids exist elsewhere
        raise invalid("id", "generated", "account ids are generated (only a super admin token chooses one)")
    doc = {**data, "id": data.get("id") or uuid.uuid4().hex}
    if "parent_id" not in doc and not token().super:
        doc["parent_id"] = token().account_id
    if doc.get("parent_id") is None and not token().super:
        raise invalid("parent_id", "required", "only a super admin token creates top-level accounts")
    if isinstance(doc.get("parent_id"), str):
        reachable(doc["parent_id"])
    return reply(_save(doc, create=True), 201)


@bp.get("/<aid>")
def get_account(aid: str) -> Response:
    return reply(reachable(aid))


@bp.post("/<aid>")
def replace_account(aid: str) -> Response:
    return _update(aid, lambda old, data: data)


@bp.patch("/<aid>")
def patch_account(aid: str) -> Response:
    return _update(aid, merge)


@bp.delete("/<aid>")
def delete_account(aid: str) -> Response:
    require_write()
    account = reachable(aid)
    if aid == token().account_id and not token().super:
        raise ApiError(403, "forbidden", {"account": {"own": "a token cannot delete its own account"}})
    try:
        ctx().services.accounts.delete(aid)
    except ConflictError:
        raise ApiError(409, "conflict", {"account": {"children": "delete the account's children first"}}) from None
    ctx().tokens.revoke_account(aid)
    Logins(ctx().services.rds).forget_account(aid)
    MediaFiles(media_root(ctx().services.settings)).remove_account(aid)  # its media documents' audio
    return reply(account)


@bp.get("/<aid>/children")
def list_children(aid: str) -> Response:
    reachable(aid)
    return paged(_docs(ctx().services.accounts.children(aid)))


def _update(aid: str, combine: Any) -> Response:
    require_write()
    old = reachable(aid)
    doc = {**combine(old, request_data()), "id": aid}
    parent = doc.get("parent_id")
    if parent != old.get("parent_id"):
        _check_move(aid, parent)
    return reply(_save(doc))


def _check_move(aid: str, parent: Any) -> None:
    if aid == token().account_id and not token().super:
        raise ApiError(403, "forbidden", {"parent_id": {"own": "a token cannot move its own account"}})
    if parent is None:
        if not token().super:
            raise invalid("parent_id", "required", "only a super admin token makes an account top-level")
        return
    if not isinstance(parent, str):
        return  # the schema reports the type
    reachable(parent)
    if parent == aid or parent in ctx().services.accounts.descendants(aid):
        raise invalid("parent_id", "cycle", "an account cannot move under itself or its descendants")


def _save(doc: dict[str, Any], create: bool = False) -> dict[str, Any]:
    problems = field_errors(schema_errors("accounts", doc))
    if problems:
        raise ApiError(400, "validation failed", problems)
    accounts = ctx().services.accounts
    try:
        return accounts.create(doc) if create else accounts.save(doc)
    except ConflictError:
        raise ApiError(409, "conflict", {"id": {"unique": f"account {doc['id']!r} already exists"}}) from None
    except DocumentError as exc:
        raise invalid("parent_id", "exists", exc.reason) from None
