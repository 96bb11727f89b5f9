"""`POST /v2/accounts/{id}/notifications/{template}/preview`: render a template before saving it.

The body is a template document (Kazoo's: `html` base64, `plain` as is, any field to try) laid
over the template the account uses now; it is rendered in the mail sender's sandbox with sample
values, and the rendered subject, from, reply_to and bodies come back. Nothing is stored. When
`to.email_addresses` names anyone (and the token may write), the preview is also sent to them
through the mail path: a job on the notification queue, delivered by `controller mailer` (the
previewed template is kept, unlisted, for as long as the job may wait)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable, require_write
from controller.api.body import request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import invalid
from controller.api.notification_accounts import applying
from controller.api.notification_docs import bodies, check_fields, check_renders
from controller.api.samples import SAMPLE_DATA, sample_call, sample_user
from controller.notify import addresses
from controller.notify.job import make_job

bp = Blueprint("notification_preview", __name__, url_prefix="/v2/accounts/<aid>/notifications")
JOB_TYPES = frozenset({"missed_call", "voicemail_to_email", "voicemail_full", "cf_notification", "customer_update",
                       "fax_inbound_to_email", "fax_inbound_error_to_email"})
TRANSIENT_TTL = 2 * 86400  # as long as the queue remembers a job's idempotency key


def blueprints() -> list[Blueprint]:
    return [bp]


@bp.post("/<template_id>/preview")
def preview(aid: str, template_id: str) -> Response:
    account = reachable(aid)
    base = applying(aid, account, template_id)
    data = request_data()
    fields = {**base.fields, **check_fields(data)}
    text, html = bodies(data, base.text, base.html)
    subject, sender, reply_to, text_out, html_out = check_renders(account, fields, text, html)
    result: dict[str, Any] = {"id": template_id, "subject": subject, "from": sender, "reply_to": reply_to,
                              "plain": text_out, "html": html_out}
    wanted = [str(a) for a in (data.get("to") or {}).get("email_addresses") or []]
    if wanted:
        require_write()
        result["sent"] = _send(aid, template_id, fields, text=text, html=html, to=wanted)
    return reply(result)


def _send(aid: str, template_id: str, fields: dict[str, Any], *, text: str, html: str, to: list[str]) -> dict[str, Any]:
    recipients = addresses.clean(to)
    if not recipients:
        raise invalid("to.email_addresses", "format", "no valid email address to send the preview to")
    preview_id = f"preview-{uuid.uuid4().hex}"
    only_to = {**fields, "to": {"type": "specified", "email_addresses": recipients},
               "cc": {"type": "specified", "email_addresses": []}, "bcc": {"type": "specified", "email_addresses": []}}
    ctx().templates.save_transient(aid, preview_id, only_to, text, html, ttl=TRANSIENT_TTL)
    kind = template_id if template_id in JOB_TYPES else "cf_notification"
    # the sample user as a recipient gives the email the preview's `user` macros; the template's
    # own `to` (specified addresses) decides who gets it
    user = sample_user(ctx().services.users.all(aid))
    job = make_job(kind, aid, sample_call(), instance=f"{ctx().instance}:{preview_id}", template_id=preview_id,
                   recipients=[{"type": "user", "id": str(user["id"])}], data=SAMPLE_DATA)
    ctx().services.queue.enqueue(job)
    return {"job_id": job["id"], "to": recipients}
