"""`POST /v2/accounts/{id}/notifications/customer_update/message`: a reseller's message to its
customers (Kazoo's customer_update).

Who: every descendant account of `{id}`, or only `recipient_id` (the account itself or one of its
descendants); in each, `user_type` `admins_only` (the default), `all_users`, or one user id (with
`recipient_id` only). What: the `customer_update` template as each account sees it, another
template by `template_id`, or a message given inline (any template field, `html` base64, `plain`,
or the body uploaded as `text/html` / `text/plain` / a multipart `content` file), checked in the
sandbox first. `databag` is handed to the template as `{{ databag... }}`.

One `customer_update` job per account goes onto the notification queue (the job format does not
change: an inline message is stored as an unlisted template of `{id}`, which every recipient
account finds through its parents, for as long as a job may wait)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, Response, request

from controller.api.auth import reachable, require_write
from controller.api.body import data_of, json_body
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, forbidden, invalid
from controller.api.notification_bodies import BODY_TYPES, uploaded
from controller.api.notification_docs import FIELDS_SCHEMA, bodies, check_fields, check_id, check_renders
from controller.api.preview import TRANSIENT_TTL
from controller.notify.job import make_job

bp = Blueprint("customer_update", __name__, url_prefix="/v2/accounts/<aid>/notifications/customer_update")
CONTROLS = ("recipient_id", "user_type", "template_id", "databag")
TEMPLATE_FIELDS = frozenset(FIELDS_SCHEMA["properties"]) - {"id", "macros", "templates", "account_overridden",
                                                            "account_defined"}


def blueprints() -> list[Blueprint]:
    return [bp]


@bp.post("/message")
def send_message(aid: str) -> Response:
    require_write()
    account = reachable(aid)
    data, upload = _request()
    unknown = sorted(set(data) - set(CONTROLS) - set(FIELDS_SCHEMA["properties"]))
    if unknown:
        raise ApiError(400, "validation failed", {k: {"additionalProperties": "not a customer_update field"}
                                                   for k in unknown})
    targets = _targets(aid, data.get("recipient_id"))
    user_type = _user_type(data)
    databag = data.get("databag", {})
    if not isinstance(databag, dict):
        raise invalid("databag", "type", "databag must be a JSON object")
    message_id = uuid.uuid4().hex
    template_id = _template(aid, account, data, upload, message_id)
    outcome = {target: _enqueue(target, template_id, user_type, databag, message_id) for target in targets}
    return reply({"message_id": message_id, "template_id": template_id, "accounts": outcome}, 202)


def _request() -> tuple[dict[str, Any], tuple[str, str] | None]:
    """The JSON data (Kazoo's examples send it as text/plain too) and/or an uploaded body."""
    raw = request.get_data(cache=True)
    if request.mimetype == "multipart/form-data" or (request.mimetype in BODY_TYPES and not _is_json(raw)):
        return {}, uploaded()
    return data_of(json_body(required=False)), None


def _is_json(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


def _targets(aid: str, recipient: Any) -> list[str]:
    descendants = ctx().services.accounts.descendants(aid)
    if recipient is None:
        return descendants
    if recipient != aid and recipient not in descendants:
        raise forbidden()
    return [str(recipient)]


def _user_type(data: dict[str, Any]) -> str:
    user_type = data.get("user_type", "admins_only")
    if not isinstance(user_type, str) or not user_type:
        raise invalid("user_type", "type", "user_type is all_users, admins_only or a user id")
    if user_type not in ("all_users", "admins_only"):
        recipient = data.get("recipient_id")
        if recipient is None:
            raise invalid("user_type", "recipient_id", "a user id needs recipient_id (one account)")
        if ctx().services.users.find(str(recipient), user_type) is None:
            raise invalid("user_type", "not_found", f"no user {user_type!r} in account {recipient!r}")
    return user_type


def _template(
    aid: str, account: dict[str, Any], data: dict[str, Any], upload: tuple[str, str] | None, message_id: str
) -> str:
    template_id = check_id(data.get("template_id", "customer_update"))
    base = ctx().templates.find(aid, template_id, account)
    if base is None:
        raise invalid("template_id", "not_found", f"no notification {template_id!r} for this account")
    inline = {k: v for k, v in data.items() if k in TEMPLATE_FIELDS}
    if not inline and upload is None:
        return template_id
    fields = {**base.fields, **check_fields(inline)}
    text, html = bodies(inline, base.text, base.html)
    if upload is not None:
        text, html = (upload[1], html) if upload[0] == "text/plain" else (text, upload[1])
    check_renders(account, fields, text, html)
    inline_id = f"customer_update-{message_id}"
    ctx().templates.save_transient(aid, inline_id, fields, text, html, ttl=TRANSIENT_TTL)
    return inline_id


def _recipients(target: str, user_type: str) -> list[str]:
    users = [u for u in ctx().services.users.all(target) if u.get("email")]
    if user_type == "admins_only":
        users = [u for u in users if u.get("priv_level") == "admin"]
    elif user_type != "all_users":
        users = [u for u in users if u.get("id") == user_type]
    return [str(u["id"]) for u in users]


def _enqueue(target: str, template_id: str, user_type: str, databag: dict[str, Any], message_id: str) -> dict[str, Any]:
    """One job per user, so that each email greets its own reader (`{{ user.first_name }}`)."""
    users = _recipients(target, user_type)
    if not users:
        return {"skipped": "no user with an email address matches user_type"}
    jobs = []
    for user_id in users:
        job = make_job("customer_update", target, {}, instance=f"{ctx().instance}:{message_id}:{target}:{user_id}",
                       template_id=template_id, recipients=[{"type": "user", "id": user_id}],
                       data={"databag": databag} if databag else None)
        ctx().services.queue.enqueue(job)
        jobs.append(job["id"])
    return {"job_ids": jobs, "recipients": len(users)}
