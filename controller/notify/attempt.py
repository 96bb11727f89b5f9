"""One email attempt sorted by recipient, and what it leads to.

Each recipient's reply decides for that recipient alone: 2xx delivered (recorded, never sent to
again, even by a retry, a replay or a duplicate job), 4xx transient (retried with the job's
backoff), 5xx permanent (kept with the job as refused, not asked again by its retries). The job is
complete when no recipient is left to try; it is retried while a transient one is left; it is
dead-lettered when only refused ones are left (or after its last attempt), its error naming them,
so that a replay sends to those and only those.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from controller.notify.delivery import Receipt
from controller.notify.prepare import Prepared
from controller.store import keys


@dataclasses.dataclass(frozen=True)
class Attempt:
    """Recipients by outcome (address -> the server's reply) and the reply to the data."""

    delivered: dict[str, str]
    transient: dict[str, str]
    refused: dict[str, str]
    receipt: str = ""

    @classmethod
    def sort(cls, receipt: Receipt, refused_before: dict[str, str]) -> Attempt:
        codes = receipt.codes()
        by = {kind: {r: receipt.replies[r] for r, code in codes.items() if code // 100 == digit}
              for kind, digit in (("delivered", 2), ("transient", 4))}
        refused = {r: receipt.replies[r] for r, code in codes.items() if code // 100 not in (2, 4)}
        return cls(by["delivered"], by["transient"], {**refused_before, **refused}, receipt.reply)

    @property
    def is_complete(self) -> bool:
        return not self.transient and not self.refused

    @property
    def outcomes(self) -> dict[str, str]:
        """Each recipient's real outcome, for the SMTP log entry."""
        return {**self.refused, **self.transient, **self.delivered}

    @property
    def error(self) -> str:
        """Why the job is not complete: each recipient left, with its reply."""
        left = {**self.transient, **self.refused}
        if not self.delivered and self.receipt[:1] in ("4", "5"):  # the message itself was refused
            return f"{self.receipt} (to {', '.join(left)})"
        text = "; ".join(f"{r}: {reply}" for r, reply in left.items())
        if not self.delivered and not self.transient:
            text = "every recipient refused: " + text
        if self.delivered:
            text += f" (delivered to {', '.join(self.delivered)})"
        return text


class Record:
    """A finished email attempt to write: the SMTP log entry, the recipients reached, the job's
    fate. `marker` is the sent record that proves it written, so that after a Redis outage it is
    written once (None when it reached nobody: the job, still held, is handed back and tried
    again)."""

    def __init__(self, prepared: Prepared, attempt: Attempt, last: bool) -> None:
        self.prepared, self.attempt, self.last = prepared, attempt, last
        key = prepared.claimed.doc["idempotency_key"]
        self.marker: tuple[str, str] | None = None
        if attempt.is_complete:
            self.marker = (key if last else key + ":email", "")
        elif attempt.delivered:
            self.marker = (key, next(iter(attempt.delivered)))

    def is_applied(self, rds: Any) -> bool:
        assert self.marker is not None
        part, address = self.marker
        if address:
            return bool(rds.hexists(keys.queue_delivered_to(part), address))
        return bool(rds.exists(keys.queue_sent(part)))


def log_entry(prepared: Prepared, attempt: Attempt) -> dict[str, Any]:
    """The SMTP log entry of an attempt: what was sent, and each recipient's real outcome."""
    job, rendered, template = prepared.claimed.doc, prepared.rendered, prepared.context.template
    assert rendered is not None and template is not None and prepared.message is not None
    call = job.get("call") or {}
    entry = {
        "template_id": template.id, "template_account_id": template.owner,
        "message_id": str(prepared.message["Message-ID"]), "call_id": call.get("call_id"),
        "call_ended_at": call.get("ended_at"), "subject": rendered.subject,
        "from": rendered.sender, "to": rendered.to, "cc": rendered.cc, "bcc": rendered.bcc,
        "rendered_templates": {"text/plain": rendered.text, "text/html": rendered.html},
        "attachments": [prepared.attachment.summary] if prepared.attachment else [],
        "receipt": attempt.receipt, "recipients": attempt.outcomes,
    }
    if not attempt.is_complete:
        entry["error"] = attempt.error
    return entry
