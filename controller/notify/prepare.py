"""Making a claimed job ready to send, with no I/O but reading its voicemail recording: template
checks, addresses resolved now (a user's current email), the sandboxed render (From and Reply-To
with the account's values only, each one mailbox), the message and its bytes. What no retry can
fix (a missing account or template, a template over its limits) is kept as the job's error
(dead-letter); anything else that goes wrong is kept too, as a transient error (retried,
dead-lettered after the last attempt): a job never takes its worker down with it.
"""

from __future__ import annotations

import dataclasses
import logging
from email.message import Message
from typing import Any

from controller.notify import addresses
from controller.notify.context import Context
from controller.notify.fax import JOB_TYPES as FAX_JOBS
from controller.notify.fax import Faxes
from controller.notify.macros import address_macros, macros
from controller.notify.message import Attachment, Rendered, build, serialize
from controller.notify.queue import Claimed
from controller.notify.recording import Recordings
from controller.notify.render import Renderer, TemplateError
from controller.notify.sender import default_sender, template_from
from controller.notify.templates import Template

log = logging.getLogger(__name__)


class UndeliverableError(Exception):
    """A job that can never be delivered as it is (dead-letter it)."""


def one_mailbox(field: str, rendered: str) -> tuple[str, str]:
    """The one mailbox an address field rendered to (else the job is undeliverable)."""
    found = addresses.mailbox(rendered)
    if found is None:
        raise UndeliverableError(f"{field} renders to {rendered[:120]!r}, not one email address")
    return found


class UnexpectedError(Exception):
    """Something that should not happen went wrong with one job (retry it, with the reason)."""


@dataclasses.dataclass
class Prepared:
    """A job made ready to send: its outcome when known in advance ("duplicate", "disabled"),
    else the problem that makes it undeliverable, or what to send."""

    claimed: Claimed
    context: Context
    outcome: str = ""
    error: Exception | None = None
    rendered: Rendered | None = None
    attachment: Attachment | None = None
    message: Message | None = None
    data: bytes | None = None  # the message as sent over SMTP


class Preparer:
    def __init__(self, renderer: Renderer, recordings: Recordings, mail_from: str = "",
                 faxes: Faxes | None = None) -> None:
        self.renderer = renderer
        self.recordings = recordings
        self.faxes = faxes or Faxes()
        self.mail_from = mail_from  # the setting (sender.py: who mail comes from)

    def prepare(self, claimed: Claimed, context: Context) -> Prepared:
        """The job made ready; an unexpected exception becomes its (transient) error."""
        try:
            return self._prepare(claimed, context)
        except Exception as exc:
            log.exception("job %s: preparing it failed", claimed.job_id)
            return Prepared(claimed, context, error=UnexpectedError(f"{type(exc).__name__}: {exc}"))

    def _prepare(self, claimed: Claimed, context: Context) -> Prepared:
        job, template = claimed.doc, context.template
        if context.sent:
            return Prepared(claimed, context, "duplicate")
        if not context.has_account:
            return Prepared(claimed, context, error=UndeliverableError(f"account {job['account_id']} does not exist"))
        if template is None:
            return Prepared(claimed, context, error=UndeliverableError(
                f"no template {job['template_id']!r} for account {job['account_id']}"))
        if not template.enabled:
            return Prepared(claimed, context, "disabled")
        email = "email" in job["media"] and not context.email_sent
        attachment = self.attachment(job) if email else None
        try:
            rendered = self.render(job, template, context, attachment)
        except (UndeliverableError, TemplateError) as exc:
            return Prepared(claimed, context, error=exc)
        prepared = Prepared(claimed, context, rendered=rendered, attachment=attachment)
        if email:
            prepared.message = build(rendered, job["idempotency_key"], attachment)
            prepared.data = serialize(prepared.message)
        return prepared

    def attachment(self, job: dict[str, Any]) -> Attachment | None:
        """A fax job's PDF, a voicemail job's recording (None: nothing to attach)."""
        if job.get("type") in FAX_JOBS:
            return self.faxes.attachment(job)
        return self.recordings.attachment(job)

    def render(
        self, job: dict[str, Any], template: Template, context: Context, attachment: Attachment | None = None
    ) -> Rendered:
        account, users = context.account, context.users
        fields = template.fields
        to = addresses.resolve(fields.get("to"), job["recipients"], users)
        if not to:  # nobody resolved: the template's own To applies
            to = addresses.clean(str(a) for a in (fields.get("to") or {}).get("email_addresses") or [])
        if not to:
            raise UndeliverableError("no recipient: none resolved and the template has no To")
        # `user.*` is the reader: an email to several people greets none of them by name.
        user = next((u for _, u in addresses.recipient_users(job["recipients"], users) if u), None) \
            if len(to) == 1 else None
        voicemail = (job.get("data") or {}).get("voicemail") or {}
        values = macros(job, account, user, file_name=attachment.filename if attachment else "",
                        media_url=self.recordings.url(voicemail) if voicemail else "")
        senders, given_from = address_macros(account), template_from(fields)
        subject, sender, reply_to, text, html = self.renderer.render_parts([
            (str(fields.get("subject", "")), False, values), (given_from, False, senders),
            (str(fields.get("reply_to") or ""), False, senders), (template.text, False, values),
            (template.html, True, values),
        ])
        if not given_from:
            sender = context.sender or default_sender(account, self.mail_from)
        name, address = one_mailbox("from", sender)
        reply = one_mailbox("reply_to", reply_to) if reply_to.strip() else None
        return Rendered(
            subject=subject, sender=addresses.header(name, address), sender_address=address,
            reply_to=addresses.header(*reply) if reply else "", to=to,
            cc=addresses.resolve(fields.get("cc"), job["recipients"], users),
            bcc=addresses.resolve(fields.get("bcc"), job["recipients"], users),
            text=text, html=html, charset=template.charset,
        )
