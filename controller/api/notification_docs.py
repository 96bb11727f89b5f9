"""Notification templates as the API shows and takes them (Kazoo teletype's documents).

Shown: the template's fields, its `id`, its `macros` (read-only; `{name: {friendly_name,
description, i18n_label}}`), `templates` (the length of each body) and, for an account's own copy,
`account_overridden: true`. Taken: the fields of FIELDS_SCHEMA (closed: an unknown field is a
400), optionally `html` (base64) and `plain` bodies; `macros`, `templates` and
`account_overridden` are ignored. Before anything is written the subject, from, reply_to and both
bodies are rendered in the sandbox with sample values, in the API's template workers (processes
of their own: controller/workers/; all busy for 10 s, a 503): a template that does
not compile, fails, runs too long (1 s; a worker silent for 3 s is killed), renders too much or
goes over the limits of `notify/bounds.py` is refused with the field that broke. `from` and
`reply_to` may use the account and system macros only (the mail sender renders them without call
data, so that no caller chooses who a mail is from or whom a reply goes to; refusing other macros
here says so when the template is written rather than leaving them empty in every email) and must
render to one email address.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from jsonschema import Draft202012Validator

from controller.api.context import ctx
from controller.api.errors import ApiError, busy, field_errors, invalid
from controller.api.samples import sample_macros
from controller.notify import addresses
from controller.notify.macros import address_macros
from controller.notify.render import TemplateError
from controller.notify.templates import SYSTEM, Template, packaged, packaged_ids
from controller.workers.pool import WorkersBusyError

TEMPLATE_ID = re.compile(r"^[a-z0-9_]{1,64}$")
RESERVED_IDS = frozenset({"smtplog"})
IGNORED = ("macros", "templates", "account_overridden", "account_defined", "id")
BODIES = ("html", "plain")
_RULE = {
    "type": "object",
    "properties": {
        "type": {"enum": ["original", "specified", "admins"]},
        "email_addresses": {"type": "array", "items": {"type": "string", "maxLength": 254}, "maxItems": 100},
    },
    "additionalProperties": False,
}
FIELDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": TEMPLATE_ID.pattern},
        "subject": {"type": "string", "minLength": 1, "maxLength": 200},
        "from": {"type": "string", "maxLength": 254},
        "reply_to": {"type": "string", "maxLength": 254},
        "to": _RULE, "cc": _RULE, "bcc": _RULE,
        "enabled": {"type": "boolean"},
        "template_charset": {"type": "string", "minLength": 1, "maxLength": 40},
        "category": {"type": "string", "minLength": 1, "maxLength": 64},
        "friendly_name": {"type": "string", "minLength": 1, "maxLength": 128},
        "macros": {"type": "object"},
        "templates": {"type": "object"},
        "account_overridden": {"type": "boolean"},
        "account_defined": {"type": "boolean"},
        "html": {"type": "string"},
        "plain": {"type": "string"},
    },
    "additionalProperties": False,
}
DEFAULT_MACROS = {
    "account.name": "Account Name", "user.first_name": "First Name", "user.last_name": "Last Name",
    "user.email": "Email of the user", "call_id": "Call ID", "caller_id.name": "Caller ID Name",
    "caller_id.number": "Caller ID Number", "date_called.local": "Date Called", "databag": "Values sent with the job",
    "system.hostname": "System Hostname",
}
_VALIDATOR = Draft202012Validator(FIELDS_SCHEMA)
ADDRESS_FIELDS = ("from", "reply_to")
ADDRESS_MACROS = frozenset({"account", "system"})


def macro_view(macros: Any) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for name, about in (macros or {}).items() if isinstance(macros, dict) else []:
        if isinstance(about, dict):
            view[name] = about
        else:
            view[name] = {"friendly_name": str(about), "description": str(about),
                          "i18n_label": name.replace(".", "_")}
    return view


def view(template: Template, *, overridden: bool, defined: bool = False) -> dict[str, Any]:
    """`overridden`: the account's own copy of a system template (`account_overridden`);
    `defined`: a template the account defines, which the system does not have (Kazoo's
    `account_defined`)."""
    fields = {k: v for k, v in template.fields.items() if k not in IGNORED}
    doc = {"id": template.id, **fields, "macros": macro_view(template.fields.get("macros")),
           "templates": {"text/html": {"length": len(template.html)}, "text/plain": {"length": len(template.text)}}}
    return _marked(doc, overridden=overridden, defined=defined)


def summary(template: Template, *, overridden: bool, defined: bool = False) -> dict[str, Any]:
    """A template in a listing: what the seeds show (id, macros) and how to recognise it."""
    doc = {"id": template.id, "macros": macro_view(template.fields.get("macros")),
           "friendly_name": template.fields.get("friendly_name", template.id),
           "category": template.fields.get("category", ""), "enabled": template.enabled}
    return _marked(doc, overridden=overridden, defined=defined)


def _marked(doc: dict[str, Any], *, overridden: bool, defined: bool) -> dict[str, Any]:
    if defined:
        doc["account_defined"] = True
    elif overridden:
        doc["account_overridden"] = True
    return doc


def check_id(template_id: Any) -> str:
    if not isinstance(template_id, str) or not TEMPLATE_ID.fullmatch(template_id):
        raise invalid("id", "pattern", "a template id is 1..64 lowercase letters, digits or _")
    if template_id in RESERVED_IDS:
        raise invalid("id", "reserved", f"{template_id!r} is a reserved name")
    return template_id


def check_fields(data: dict[str, Any], *, require_subject: bool = False) -> dict[str, Any]:
    """The writable fields of a template document (400 with every broken field otherwise)."""
    normalised = {key: _drop_empty_type(value) if key in ("to", "cc", "bcc") else value for key, value in data.items()}
    problems = field_errors(_VALIDATOR.iter_errors(normalised))
    if require_subject and "subject" not in normalised:
        problems.setdefault("subject", {})["required"] = "'subject' is a required property"
    if problems:
        raise ApiError(400, "validation failed", problems)
    return {k: v for k, v in normalised.items() if k not in IGNORED and k not in BODIES}


def _drop_empty_type(rule: Any) -> Any:
    """Kazoo's own examples send `"type": ""`: read it as no type (specified addresses)."""
    if isinstance(rule, dict) and rule.get("type") == "":
        return {k: v for k, v in rule.items() if k != "type"}
    return rule


def bodies(data: dict[str, Any], text: str, html: str) -> tuple[str, str]:
    """The bodies a JSON document brings (`html` base64, `plain` as is), else the current ones."""
    if "html" in data:
        try:
            html = base64.b64decode(str(data["html"]), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise invalid("html", "base64", "html must be base64 of UTF-8 text") from None
    if "plain" in data:
        text = str(data["plain"])
    return text, html


def check_renders(account: dict[str, Any], fields: dict[str, Any], text: str, html: str) -> list[str]:
    """Render everything a template holds with sample values; returns the outputs
    (subject, from, reply_to, text, html) or raises 400 naming the first part that broke."""
    users = ctx().services.users.all(account["id"]) if account.get("id") else []
    values, senders = sample_macros(account, users), address_macros(account)
    parts = [("subject", str(fields.get("subject", "")), False, values),
             ("from", str(fields.get("from") or ""), False, senders),
             ("reply_to", str(fields.get("reply_to") or ""), False, senders),
             ("text/plain", text, False, values), ("text/html", html, True, values)]
    outputs = []
    for name, source, is_html, macros in parts:
        if name in ADDRESS_FIELDS:
            _check_address_names(name, source)
        try:
            outputs.append(ctx().workers.render_all([(source, is_html)], macros)[0])
        except TemplateError as exc:
            raise invalid(name, "template", str(exc)) from None
        except WorkersBusyError as exc:
            raise busy(str(exc)) from None
        if name in ADDRESS_FIELDS and outputs[-1].strip() and addresses.mailbox(outputs[-1]) is None:
            raise invalid(name, "format", f"renders to {outputs[-1][:120]!r}, not one email address")
    return outputs


def _check_address_names(name: str, source: str) -> None:
    try:
        used = ctx().workers.names(source)
    except TemplateError as exc:
        raise invalid(name, "template", str(exc)) from None
    except WorkersBusyError as exc:
        raise busy(str(exc)) from None
    foreign = sorted(used - ADDRESS_MACROS)
    if foreign:
        raise invalid(name, "macros", f"{name} may use the account and system macros only, not {', '.join(foreign)}: "
                                      "no caller chooses who a mail is from or where replies go")


def system_template(template_id: str) -> Template | None:
    """The system's copy: a stored one, else the packaged default."""
    return ctx().templates.own(SYSTEM, template_id) or packaged(template_id)


def system_ids() -> list[str]:
    return sorted(set(packaged_ids()) | set(ctx().templates.ids(SYSTEM)))
