"""What the mail sender says about each job it finishes: one log line per email delivered,
retried (with the reason and when) or dead-lettered (with the reason), and the per-recipient
counter beside the job counters (`controller/metrics.py`). A failure is seen at once in the log
and in the metrics, not found later in the dead-letter set.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from controller.metrics import Metrics
from controller.notify.queue import Fate

log = logging.getLogger("controller.mail")


def _what(job: Any, job_id: str) -> str:
    doc = job if isinstance(job, dict) else {}
    return f"job {job_id} type={doc.get('type', '?')} account={doc.get('account_id', '?')}"


def _when(due: float | None) -> str:
    if due is None:
        return "?"
    stamp = time.strftime("%H:%M:%SZ", time.gmtime(due))
    return f"in {max(0.0, due - time.time()):.0f} s (at {stamp})"


class Report:
    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics

    def _count(self, outcome: str, n: int) -> None:
        if self.metrics is not None and n:
            self.metrics.mail_recipients.labels(outcome).inc(n)

    def delivered(self, job: Any, job_id: str, recipients: list[str], receipt: str) -> None:
        log.info("delivered %s to=%s receipt=%r", _what(job, job_id), ",".join(recipients), receipt)
        self._count("delivered", len(recipients))

    def retried(self, job: Any, job_id: str, fate: Fate, reason: str, recipients: int = 0) -> None:
        log.warning("retry %s %s, attempt %d failed: %s", _what(job, job_id), _when(fate.due), fate.attempts, reason)
        self._count("retried", recipients)

    def dead(self, job: Any, job_id: str, fate: Fate, reason: str, recipients: int = 0) -> None:
        log.error("dead-lettered %s after %d attempt(s): %s", _what(job, job_id), fate.attempts, reason)
        self._count("refused", recipients)

    def failed(self, job: Any, job_id: str, fate: Fate, reason: str, recipients: int = 0) -> None:
        """A failed attempt, whichever its fate."""
        if fate.outcome == "dead":
            self.dead(job, job_id, fate, reason, recipients)
        else:
            self.retried(job, job_id, fate, reason, recipients)
