"""`/v2/accounts/{id}/notifications`: the templates an account's notifications use.

Listing shows every system template and every template the account defines, each as it applies
to the account (its own copy, else its parents', else the system's), with `account_overridden`
on the account's own copies of system templates and `account_defined` on templates the system
does not have. PUT makes the account's own copy of a template (of a system template or one
defined above the account, its fields and bodies the base's unless given) or, with a new id,
defines a template of the account's own (Kazoo's account-defined notification, what a
`notification` callflow node sends: `subject` required, `to` the node's recipients unless given,
the bodies as given). POST replaces it (the JSON document, or one body), DELETE removes it (the
parents' or system's applies again). Two actions act on all of them: `DELETE` with `{"action":
"remove_customizations"}` drops every own copy, `PUT` with `{"action": "force_system"}` makes every
template the system's as it is now.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable, require_write
from controller.api.body import data_of, json_body
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, invalid, not_found
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
from controller.notify.templates import Template, packaged

bp = Blueprint("account_notifications", __name__, url_prefix="/v2/accounts/<aid>/notifications")


def blueprints() -> list[Blueprint]:
    return [bp]


def applying(aid: str, account: dict[str, Any], template_id: str) -> Template:
    """The template an account's notification uses (own, parents', system's); 404 when none."""
    template = ctx().templates.find(aid, template_id, account)
    if template is None:
        raise not_found("notification", template_id)
    return template


def _marks(aid: str, template: Template) -> dict[str, bool]:
    """How the account's view marks a template: its own copy of a system template is
    `overridden`, its own template the system does not have is `defined`."""
    if template.owner != aid:
        return {"overridden": False, "defined": False}
    defined = system_template(template.id) is None
    return {"overridden": not defined, "defined": defined}


def account_defined_macros() -> dict[str, Any]:
    """What an account-defined template is told it may use: the common macros and those of a
    callflow notification (Kazoo gives such a template a system template's macros too)."""
    callflow = packaged("cf_notification")
    return {**DEFAULT_MACROS, **(callflow.fields.get("macros", {}) if callflow else {})}


@bp.get("")
def list_account(aid: str) -> Response:
    account = reachable(aid)
    own = set(ctx().templates.ids(aid))
    found = []
    for template_id in sorted(set(system_ids()) | own):
        template = ctx().templates.find(aid, template_id, account)
        if template is not None:
            found.append(summary(template, **_marks(aid, template)))
    return reply(found)


@bp.put("")
def create_override(aid: str) -> Response:
    require_write()
    account = reachable(aid)
    body = json_body()
    if "action" in body:
        if body["action"] != "force_system":
            raise invalid("action", "enum", "PUT takes the action force_system")
        return reply(_force_system(aid))
    data = data_of(body)
    template_id = check_id(data.get("id"))
    base = ctx().templates.find(aid, template_id, account)
    if base is None:
        fields = {"to": {"type": "original"}, "from": "", **check_fields(data, require_subject=True),
                  "macros": account_defined_macros()}
        text, html = bodies(data, "", "")
        return reply(_write(aid, account, template_id, fields, text=text, html=html), 201)
    if base.owner == aid:
        raise ApiError(409, "conflict", {"id": {"unique": f"the account already has {template_id!r}: POST to it"}})
    fields = {**base.fields, **check_fields(data)}
    text, html = bodies(data, base.text, base.html)
    return reply(_write(aid, account, template_id, fields, text=text, html=html), 201)


@bp.delete("")
def account_action(aid: str) -> Response:
    require_write()
    reachable(aid)
    body = json_body()
    if body.get("action") != "remove_customizations":
        raise invalid("action", "enum", "DELETE takes the action remove_customizations")
    removed = {tid: "deleted" for tid in ctx().templates.ids(aid) if ctx().templates.remove(aid, tid)}
    return reply(removed)


def _force_system(aid: str) -> dict[str, str]:
    outcome: dict[str, str] = {}
    for template_id in ctx().templates.ids(aid):
        if system_template(template_id) is None:
            ctx().templates.remove(aid, template_id)
            outcome[template_id] = "deleted"
    for template_id in system_ids():
        system = system_template(template_id)
        if system is not None:
            ctx().templates.put(aid, template_id, dict(system.fields), system.text, system.html)
            outcome[template_id] = "replaced"
    return outcome


@bp.get("/<template_id>")
def get_account_template(aid: str, template_id: str) -> Response:
    account = reachable(aid)
    kind = wanted()
    template = applying(aid, account, template_id)
    if kind:
        return body_response(template, kind)
    return reply(view(template, **_marks(aid, template)))


@bp.post("/<template_id>")
def replace_account_template(aid: str, template_id: str) -> Response:
    require_write()
    account = reachable(aid)
    current = applying(aid, account, template_id)
    fields, text, html = dict(current.fields), current.text, current.html
    if is_upload():
        kind, body = uploaded()
        text, html = (body, html) if kind == "text/plain" else (text, body)
    else:
        data = data_of(json_body())
        fields = {**check_fields(data, require_subject=True), "macros": current.fields.get("macros", DEFAULT_MACROS)}
        text, html = bodies(data, text, html)
    return reply(_write(aid, account, template_id, fields, text=text, html=html))


@bp.delete("/<template_id>")
def delete_account_template(aid: str, template_id: str) -> Response:
    require_write()
    reachable(aid)
    own = ctx().templates.own(aid, template_id)
    if own is None or not ctx().templates.remove(aid, template_id):
        raise not_found("account notification", template_id)
    return reply(view(own, **_marks(aid, own)))


def _write(
    aid: str, account: dict[str, Any], template_id: str, fields: dict[str, Any], *, text: str, html: str
) -> dict[str, Any]:
    check_renders(account, fields, text, html)
    ctx().templates.put(aid, template_id, fields, text, html)
    own = ctx().templates.own(aid, template_id)
    assert own is not None
    return view(own, **_marks(aid, own))
