"""`/v2/notifications`: the system's templates (the packaged defaults and those a super admin
stored). Any token reads them; only a super admin token creates (PUT), replaces (POST, the JSON
document or one body) or removes (DELETE: a stored system copy; a packaged default then applies
again) them."""

from __future__ import annotations

from flask import Blueprint, Response

from controller.api.auth import require_super
from controller.api.body import request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, not_found
from controller.api.notification_bodies import body_response, is_upload, uploaded, wanted
from controller.api.notification_docs import (
    DEFAULT_MACROS,
    bodies,
    check_fields,
    check_id,
    check_renders,
    summary,
    system_ids,
    system_template,
    view,
)
from controller.notify.templates import SYSTEM, Template

bp = Blueprint("notifications", __name__, url_prefix="/v2/notifications")


def blueprints() -> list[Blueprint]:
    return [bp]


def _existing(template_id: str) -> Template:
    template = system_template(template_id)
    if template is None:
        raise not_found("notification", template_id)
    return template


@bp.get("")
def list_system() -> Response:
    found = [system_template(tid) for tid in system_ids()]
    return reply([summary(t, overridden=False) for t in found if t is not None])


@bp.put("")
def create_system() -> Response:
    require_super()
    data = request_data()
    template_id = check_id(data.get("id"))
    fields = check_fields(data, require_subject=True)
    if system_template(template_id) is not None:
        raise ApiError(409, "conflict", {"id": {"unique": f"system notification {template_id!r} exists: POST to it"}})
    text, html = bodies(data, "", "")
    check_renders({}, fields, text, html)
    fields["macros"] = dict(DEFAULT_MACROS)
    ctx().templates.put(SYSTEM, template_id, fields, text, html)
    return reply(view(_existing(template_id), overridden=False), 201)


@bp.get("/<template_id>")
def get_system(template_id: str) -> Response:
    kind = wanted()
    template = _existing(template_id)
    return body_response(template, kind) if kind else reply(view(template, overridden=False))


@bp.post("/<template_id>")
def replace_system(template_id: str) -> Response:
    require_super()
    current = _existing(template_id)
    fields, text, html = dict(current.fields), current.text, current.html
    if is_upload():
        kind, body = uploaded()
        text, html = (body, html) if kind == "text/plain" else (text, body)
    else:
        data = request_data()
        fields = {**check_fields(data, require_subject=True), "macros": current.fields.get("macros", DEFAULT_MACROS)}
        text, html = bodies(data, text, html)
    check_renders({}, fields, text, html)
    ctx().templates.put(SYSTEM, template_id, fields, text, html)
    return reply(view(_existing(template_id), overridden=False))


@bp.delete("/<template_id>")
def delete_system(template_id: str) -> Response:
    require_super()
    stored = ctx().templates.own(SYSTEM, template_id)
    if stored is None or not ctx().templates.remove(SYSTEM, template_id):
        raise not_found("stored system notification", template_id)
    return reply(view(stored, overridden=False))
