"""The mail sender: takes notification jobs from the queue and delivers them.

For each job: refuse (dead-letter, with the reason) a document that breaks the job schema; skip
one whose idempotency key was already delivered; find the template (account, parents, system);
a disabled template sends nothing (logged); resolve the addresses now (a user's current email);
render in the sandbox; build the MIME message; deliver; write the SMTP log; mark it sent.
A transient failure (SMTP 4xx, connection) schedules a retry; a permanent one (5xx, a broken
template, nobody to send to) dead-letters the job.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from typing import Any, Protocol

import gevent
from gevent.event import Event

from controller.notify import addresses
from controller.notify.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from controller.notify.job import job_errors
from controller.notify.macros import macros
from controller.notify.message import Rendered, build
from controller.notify.queue import Claimed, JobQueue
from controller.notify.render import TemplateError, render_all
from controller.notify.sms import SmsSender
from controller.notify.smtplog import SmtpLog
from controller.notify.templates import Template, Templates
from controller.store import codec, keys

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 1.0  # how often a worker promotes due retries and reaps dead workers


class Sender(Protocol):
    def send(self, message: Any, recipients: list[str]) -> str: ...

    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class Context:
    """What delivering one job needs to know, read once."""

    account: dict[str, Any]
    users: dict[str, dict[str, Any]]
    template: Template | None


class UndeliverableError(Exception):
    """A job that can never be delivered as it is (dead-letter it)."""


class Mailer:
    """One mail-sender worker."""

    def __init__(
        self, rds: Any, queue: JobQueue, sender: Sender, name: str | None = None, sms: SmsSender | None = None
    ) -> None:
        self.rds = rds
        self.queue = queue
        self.sender = sender
        self.sms = sms
        self.name = name or f"{socket.gethostname()}:{id(self):x}"
        self.templates = Templates(rds)
        self.smtplog = SmtpLog(rds)
        self.stopping = Event()

    def run(self, burst: bool = False) -> int:
        """Work until stopped (or, in burst mode, until the queue is empty); returns jobs handled."""
        handled = 0
        beat = gevent.spawn(self._heartbeat)
        housekept = 0.0
        try:
            while not self.stopping.is_set():
                if time.monotonic() - housekept >= HOUSEKEEPING_SECONDS:
                    self.queue.promote()
                    self.queue.reap()
                    housekept = time.monotonic()
                claimed = self.queue.claim(self.name, timeout=0.2 if burst else 1.0, heartbeat=False)
                if claimed is None:
                    if burst:
                        break
                    continue
                self.process(claimed)
                handled += 1
        finally:
            beat.kill()
            self.sender.close()
            if self.sms is not None:
                self.sms.close()
            self.queue.release(self.name)
        return handled

    def _heartbeat(self) -> None:
        while True:
            self.queue.heartbeat(self.name)
            gevent.sleep(self.queue.lease / 3)

    def process(self, claimed: Claimed) -> str:
        """Deliver one job; returns "sent", "duplicate", "disabled", "retry" or "dead"."""
        job = claimed.doc
        problems = job_errors(job) if isinstance(job, dict) else ["not a JSON object"]
        if problems:
            return self.queue.fail(self.name, claimed, "invalid job: " + "; ".join(problems[:5]), permanent=True)
        key = job["idempotency_key"]
        done, email_done = self.queue.sent(key, key + ":email")
        if done:
            self.queue.complete(self.name, claimed)
            return "duplicate"
        try:
            outcome = self._deliver(job, email_done)
        except (UndeliverableError, TemplateError, PermanentDeliveryError) as exc:
            self._log_failure(job, str(exc))
            return self.queue.fail(self.name, claimed, str(exc), permanent=True)
        except (TransientDeliveryError, DeliveryError, OSError) as exc:
            self._log_failure(job, str(exc))
            return self.queue.fail(self.name, claimed, str(exc))
        self.queue.complete(self.name, claimed)
        return outcome

    def _context(self, job: dict[str, Any]) -> Context:
        """The account, its users and the template of a job, in two Redis round trips."""
        aid = job["account_id"]
        pipe = self.rds.pipeline(transaction=False)
        pipe.get(keys.account(aid))
        pipe.hvals(keys.docs(aid, "users"))
        raw_account, raw_users = pipe.execute()
        account = codec.load(raw_account) or {"id": aid}
        users = {str(u.get("id")): u for u in map(codec.load, raw_users)}
        return Context(account, users, self.templates.find(aid, job["template_id"], account))

    def _deliver(self, job: dict[str, Any], email_done: bool) -> str:
        aid = job["account_id"]
        context = self._context(job)
        template = context.template
        if template is None:
            raise UndeliverableError(f"no template {job['template_id']!r} for account {aid}")
        if not template.enabled:
            self.smtplog.record(aid, {"template_id": template.id, "template_account_id": template.owner,
                                      "call_id": job.get("call", {}).get("call_id"), "error": "template disabled"})
            log.info("job %s: template %s disabled, nothing sent", job["id"], template.id)
            return "disabled"
        rendered = self.render(job, template, context)
        key = job["idempotency_key"]
        # Each medium is recorded once delivered, so a retry after a failed SMS resends no email.
        if "email" in job["media"] and not email_done:
            message = build(rendered, key)
            receipt = self.sender.send(message, rendered.recipients)
            self._log_sent(job, template, rendered, receipt, str(message["Message-ID"]))
            self.queue.mark_sent(key + ":email")
        if "sms" in job["media"]:
            self._send_sms(job, rendered, context.users)
        return "sent"

    def _send_sms(self, job: dict[str, Any], rendered: Rendered, users: dict[str, dict[str, Any]]) -> None:
        if self.sms is None:
            log.warning("job %s asks for SMS but no SMS gateway is configured", job["id"])
            return
        numbers = [str(user["mobile_number"]) for _, user in addresses.recipient_users(job["recipients"], users)
                   if user and user.get("mobile_number")]
        for number in dict.fromkeys(numbers):
            part = f"{job['idempotency_key']}:sms:{number}"
            if not self.queue.was_sent(part):
                self.sms.send(number, rendered.subject)
                self.queue.mark_sent(part)

    def render(self, job: dict[str, Any], template: Template, context: Context) -> Rendered:
        account, users = context.account, context.users
        fields = template.fields
        to = addresses.resolve(fields.get("to"), job["recipients"], users)
        if not to:  # nobody resolved: the template's own To applies
            to = addresses.clean(str(a) for a in (fields.get("to") or {}).get("email_addresses") or [])
        if not to:
            raise UndeliverableError("no recipient: none resolved and the template has no To")
        user = next((u for _, u in addresses.recipient_users(job["recipients"], users) if u), None)
        values = macros(job, account, user)
        subject, sender, reply_to, text, html = render_all(
            [(str(fields.get("subject", "")), False), (str(fields.get("from") or "no-reply@localhost"), False),
             (str(fields.get("reply_to") or ""), False), (template.text, False), (template.html, True)],
            values,
        )
        return Rendered(
            subject=subject, sender=sender, reply_to=reply_to, to=to,
            cc=addresses.resolve(fields.get("cc"), job["recipients"], users),
            bcc=addresses.resolve(fields.get("bcc"), job["recipients"], users),
            text=text, html=html, charset=template.charset,
        )

    def _log_sent(
        self, job: dict[str, Any], template: Template, rendered: Rendered, receipt: str, message_id: str
    ) -> None:
        call = job.get("call") or {}
        self.smtplog.record(job["account_id"], {
            "template_id": template.id, "template_account_id": template.owner, "message_id": message_id,
            "call_id": call.get("call_id"), "call_ended_at": call.get("ended_at"), "subject": rendered.subject,
            "from": rendered.sender, "to": rendered.to, "cc": rendered.cc, "bcc": rendered.bcc,
            "rendered_templates": {"text/plain": rendered.text, "text/html": rendered.html},
            "receipt": receipt,
        })

    def _log_failure(self, job: dict[str, Any], error: str) -> None:
        if isinstance(job, dict) and job.get("account_id"):
            self.smtplog.record(str(job["account_id"]), {
                "template_id": job.get("template_id"), "call_id": (job.get("call") or {}).get("call_id"),
                "error": error,
            })
