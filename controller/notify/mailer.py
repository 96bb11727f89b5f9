"""The mail sender: takes notification jobs from the queue and delivers them.

For each job: refuse (dead-letter, with the reason) a document that breaks the job schema; skip
one whose idempotency key was already delivered; find the template (account, parents, system);
a disabled template sends nothing (logged); resolve the addresses now (a user's current email);
attach the voicemail recording when it can be read (else link it); render in the sandbox; build
the MIME message; deliver; write the SMTP log and mark it sent, with the job's completion, in one
transaction. A transient failure (SMTP 4xx, connection) schedules a retry; a permanent one (5xx, a
broken template, nobody to send to) dead-letters the job.

Jobs are claimed in batches (up to `BATCH` ready ones at once, held in the worker's processing
list like any claimed job) and what they need is read for the whole batch in two round trips
(`context.py`); each job is still delivered, logged and completed on its own, so a worker that
dies mid-batch leaves the undelivered rest to the reaper. A warm stop finishes the job in hand and
hands the rest of the batch back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import time
from email.message import Message
from typing import Any, Protocol

import gevent
from gevent.event import Event

from controller.notify import addresses
from controller.notify.context import Context, ContextReader
from controller.notify.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from controller.notify.job import job_errors
from controller.notify.macros import macros
from controller.notify.message import Attachment, Rendered, build, serialize
from controller.notify.queue import Claimed, JobQueue
from controller.notify.recording import Recordings
from controller.notify.render import Renderer, TemplateError
from controller.notify.sms import SmsSender
from controller.notify.smtplog import SmtpLog
from controller.notify.templates import Template

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 1.0  # how often a worker promotes due retries and reaps dead workers
BATCH = 16  # jobs claimed at once (about 30 ms of work at full speed)


class Sender(Protocol):
    def send(self, message: Message, recipients: list[str], data: bytes | None = None) -> str: ...

    def close(self) -> None: ...


class UndeliverableError(Exception):
    """A job that can never be delivered as it is (dead-letter it)."""


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


class Mailer:
    """One mail-sender worker."""

    def __init__(  # noqa: PLR0917 (the command line passes them in order)
        self, rds: Any, queue: JobQueue, sender: Sender, name: str | None = None, sms: SmsSender | None = None,
        recordings: Recordings | None = None, *, batch: int = BATCH,
    ) -> None:
        self.rds = rds
        self.queue = queue
        self.sender = sender
        self.sms = sms
        self.recordings = recordings or Recordings()
        self.batch = batch
        self.name = name or f"{socket.gethostname()}:{id(self):x}"
        self.contexts = ContextReader(rds)
        self.renderer = Renderer()
        self.smtplog = SmtpLog(rds)
        self.stopping = Event()
        self._unsettled: gevent.Greenlet[Any, None] | None = None  # an email's record, reply pending

    def run(self, burst: bool = False) -> int:
        """Work until stopped (or, in burst mode, until the queue is empty); returns jobs handled."""
        handled = 0
        self.queue.heartbeat(self.name)
        beat = gevent.spawn(self._heartbeat)
        housekept = 0.0
        try:
            while not self.stopping.is_set():
                if time.monotonic() - housekept >= HOUSEKEEPING_SECONDS:
                    self.queue.promote()
                    self.queue.reap()
                    housekept = time.monotonic()
                claimed = self.queue.claim_batch(self.name, self.batch, timeout=0.2 if burst else 1.0)
                if not claimed:
                    if burst:
                        break
                    continue
                handled += self.process(claimed)
        finally:
            beat.kill()
            self.sender.close()
            if self.sms is not None:
                self.sms.close()
            self.queue.release(self.name)
        return handled

    def _heartbeat(self) -> None:
        while True:
            gevent.sleep(self.queue.lease / 3)
            self.queue.heartbeat(self.name)

    def process(self, batch: list[Claimed]) -> int:
        """Deliver claimed jobs in order; returns how many were handled before a warm stop.

        The next job is prepared (rendered, its message built and serialised: pure CPU) in its own
        greenlet while this one waits on the SMTP server and Redis for the current job."""
        valid = []
        for claimed in batch:
            job = claimed.doc
            problems = job_errors(job) if isinstance(job, dict) else ["not a JSON object"]
            if problems:
                self.queue.fail(self.name, claimed, "invalid job: " + "; ".join(problems[:5]), permanent=True)
            else:
                valid.append(claimed)
        pairs = list(zip(valid, self.contexts.read([c.doc for c in valid]) if valid else [], strict=True))
        try:
            return len(batch) - len(valid) + self._deliver_all(pairs)
        finally:
            self._settle()

    def _deliver_all(self, pairs: list[tuple[Claimed, Context]]) -> int:
        delivered: set[str] = set()  # keys sent in this batch (two jobs with one key send once)
        handled = 0
        upcoming = gevent.spawn(self.prepare, *pairs[0]) if pairs else None
        for index in range(len(pairs)):
            assert upcoming is not None
            prepared = upcoming.get()
            if index + 1 < len(pairs):
                upcoming = gevent.spawn(self.prepare, *pairs[index + 1])
            if self.stopping.is_set():
                break
            self.finish(prepared, delivered)
            handled += 1
        return handled

    def _settle(self) -> None:
        """Wait for the outstanding record of the last email (a failure raises here)."""
        if self._unsettled is not None:
            unsettled, self._unsettled = self._unsettled, None
            unsettled.get()

    def prepare(self, claimed: Claimed, context: Context) -> Prepared:
        """Everything about a job that needs no I/O but the recording: template checks, addresses,
        rendering, the message and its bytes. A problem that no retry can fix is kept as `error`."""
        job, template = claimed.doc, context.template
        if context.sent:
            return Prepared(claimed, context, "duplicate")
        if template is None:
            return Prepared(claimed, context, error=UndeliverableError(
                f"no template {job['template_id']!r} for account {job['account_id']}"))
        if not template.enabled:
            return Prepared(claimed, context, "disabled")
        email = "email" in job["media"] and not context.email_sent
        attachment = self.recordings.attachment(job) if email else None
        try:
            rendered = self.render(job, template, context, attachment)
        except (UndeliverableError, TemplateError) as exc:
            return Prepared(claimed, context, error=exc)
        prepared = Prepared(claimed, context, rendered=rendered, attachment=attachment)
        if email:
            prepared.message = build(rendered, job["idempotency_key"], attachment)
            prepared.data = serialize(prepared.message)
        return prepared

    def finish(self, prepared: Prepared, delivered: set[str]) -> str:
        """Deliver one prepared job; returns "sent", "duplicate", "disabled", "retry" or "dead"."""
        claimed, job = prepared.claimed, prepared.claimed.doc
        key = job["idempotency_key"]
        if prepared.outcome == "duplicate" or key in delivered:
            self.queue.complete(self.name, claimed)
            return "duplicate"
        if prepared.outcome == "disabled":
            return self._disabled(prepared)
        try:
            if prepared.error is not None:
                raise prepared.error
            self._deliver(prepared)
        except (UndeliverableError, TemplateError, PermanentDeliveryError) as exc:
            self._log_failure(job, str(exc))
            return self.queue.fail(self.name, claimed, str(exc), permanent=True)
        except (TransientDeliveryError, DeliveryError, OSError) as exc:
            self._log_failure(job, str(exc))
            return self.queue.fail(self.name, claimed, str(exc))
        delivered.add(key)
        return "sent"

    def _disabled(self, prepared: Prepared) -> str:
        job, template = prepared.claimed.doc, prepared.context.template
        assert template is not None
        pipe = self.rds.pipeline(transaction=True)
        entry = {"template_id": template.id, "template_account_id": template.owner,
                 "call_id": job.get("call", {}).get("call_id"), "error": "template disabled"}
        self.smtplog.record(job["account_id"], entry, pipe)
        self.queue.complete(self.name, prepared.claimed, pipe)
        log.info("job %s: template %s disabled, nothing sent", job["id"], template.id)
        return "disabled"

    def _deliver(self, prepared: Prepared) -> None:
        job, rendered = prepared.claimed.doc, prepared.rendered
        assert rendered is not None
        sms = "sms" in job["media"]
        if prepared.message is not None:
            self._send_email(prepared, last=not sms)
        if sms:
            self._send_sms(job, rendered, prepared.context.users)
        if prepared.message is None or sms:
            self.queue.complete(self.name, prepared.claimed)

    def _send_email(self, prepared: Prepared, last: bool) -> None:
        """Send, then log it and record it delivered in one transaction: with the job's completion
        when the email is all it asks for, else as the job's email part (a retry after a failed
        SMS resends no email)."""
        job, message, rendered = prepared.claimed.doc, prepared.message, prepared.rendered
        assert message is not None and rendered is not None
        metrics = self.queue.metrics
        with metrics.smtp_seconds.time() if metrics is not None else contextlib.nullcontext():
            receipt = self.sender.send(message, rendered.recipients, prepared.data)
        if metrics is not None:
            metrics.jobs_delivered.labels("email").inc()
        self._settle()
        pipe = self.rds.pipeline(transaction=True)
        self._log_sent(prepared, receipt, pipe)
        if not last:
            self.queue.mark_sent(job["idempotency_key"] + ":email", pipe)
            pipe.execute()
            return
        # The job's completion goes to Redis now but its reply is read later: the next email goes
        # on the wire meanwhile. It is settled before the next one is recorded and before the batch
        # ends (so before any release or re-read of the sent records); until then the job is still
        # in this worker's processing list, as it would be with a synchronous write in flight.
        self._unsettled = gevent.spawn(self.queue.complete, self.name, prepared.claimed, pipe)
        gevent.sleep(0)  # let it write the transaction (with an idle pooled connection, at once)

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
                if self.queue.metrics is not None:
                    self.queue.metrics.jobs_delivered.labels("sms").inc()

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
        user = next((u for _, u in addresses.recipient_users(job["recipients"], users) if u), None)
        voicemail = (job.get("data") or {}).get("voicemail") or {}
        values = macros(job, account, user, file_name=attachment.filename if attachment else "",
                        media_url=self.recordings.url(voicemail) if voicemail else "")
        subject, sender, reply_to, text, html = self.renderer.render_all(
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

    def _log_sent(self, prepared: Prepared, receipt: str, pipe: Any) -> None:
        job, rendered, template = prepared.claimed.doc, prepared.rendered, prepared.context.template
        assert rendered is not None and template is not None and prepared.message is not None
        call = job.get("call") or {}
        self.smtplog.record(job["account_id"], {
            "template_id": template.id, "template_account_id": template.owner,
            "message_id": str(prepared.message["Message-ID"]), "call_id": call.get("call_id"),
            "call_ended_at": call.get("ended_at"), "subject": rendered.subject,
            "from": rendered.sender, "to": rendered.to, "cc": rendered.cc, "bcc": rendered.bcc,
            "rendered_templates": {"text/plain": rendered.text, "text/html": rendered.html},
            "attachments": [prepared.attachment.summary] if prepared.attachment else [], "receipt": receipt,
        }, pipe)

    def _log_failure(self, job: dict[str, Any], error: str) -> None:
        if isinstance(job, dict) and job.get("account_id"):
            self.smtplog.record(str(job["account_id"]), {
                "template_id": job.get("template_id"), "call_id": (job.get("call") or {}).get("call_id"),
                "error": error,
            })
