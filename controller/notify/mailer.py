"""The mail sender: takes notification jobs from the queue and delivers them.

For each job: refuse (dead-letter, with the reason) a document that breaks the job schema; skip
one whose idempotency key was already delivered; prepare it (`prepare.py`: template, addresses,
render, message); send it to the recipients it has not reached yet; then write the SMTP log entry
(each recipient's real outcome), the recipients reached and the job's fate (complete, retry, dead)
in one transaction (`attempt.py` says how recipients decide the fate). Each email delivered,
retried or dead-lettered is one log line (`report.py`).

Nothing stops the worker but a stop: an exception while handling one job retries it (then
dead-letters it) with the reason; a Redis outage is waited out (`outage.py`), after which the
records of emails sent meanwhile are written (unless they were) and the jobs the worker held are
handed back; anything else is logged and the loop goes on after a pause. Since when the worker's
deliveries fail is kept in Redis for `/healthz`.

Jobs are claimed in batches (up to `BATCH` ready ones at once, held in the worker's processing
list like any claimed job) and what they need is read for the whole batch in two round trips
(`context.py`); each job is still delivered, logged and completed on its own, so a worker that
dies mid-batch leaves the undelivered rest to the reaper. A warm stop finishes the job in hand and
hands the rest of the batch back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from email.message import Message
from typing import Any, Protocol

import gevent
from gevent.event import Event

from controller.notify.after_notify import action_of, after_delivery
from controller.notify.attempt import Attempt, Record, log_entry
from controller.notify.context import Context, ContextReader
from controller.notify.delivery import DeliveryError, PermanentDeliveryError, Receipt
from controller.notify.fax import Faxes
from controller.notify.job import job_errors
from controller.notify.outage import Outage
from controller.notify.prepare import Prepared, Preparer, UndeliverableError, UnexpectedError
from controller.notify.queue import Claimed, JobQueue, worker_id
from controller.notify.recording import Recordings
from controller.notify.render import Renderer, TemplateError, TemplateTimeError
from controller.notify.report import Report
from controller.notify.sms import SmsSender, send_sms
from controller.notify.smtplog import SmtpLog
from controller.store.connection import UNAVAILABLE

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 1.0  # how often a worker promotes due retries and reaps dead workers
BATCH = 16  # jobs claimed at once (about 30 ms of work at full speed)
GATHER = 0.1  # seconds a job that came alone waits for others to share its batch
PAUSE = 1.0  # after an unexpected error in the loop itself


class Sender(Protocol):
    def send(self, message: Message, recipients: list[str], data: bytes | None = None) -> Receipt: ...

    def close(self) -> None: ...


class Mailer:
    """One mail-sender worker. Its `name` is unique to this process (`queue.worker_id`)."""

    def __init__(  # noqa: PLR0917 (the command line passes them in order)
        self, rds: Any, queue: JobQueue, sender: Sender, name: str | None = None, sms: SmsSender | None = None,
        recordings: Recordings | None = None, *, batch: int = BATCH, gather: float = GATHER, mail_from: str = "",
        faxes: Faxes | None = None,
    ) -> None:
        self.rds = rds
        self.queue = queue
        self.sender = sender
        self.sms = sms
        self.batch = batch
        self.gather = gather
        self.name = worker_id(name)
        self.contexts = ContextReader(rds)
        self.renderer = Renderer()
        self.preparer = Preparer(self.renderer, recordings or Recordings(), mail_from, faxes)
        self.smtplog = SmtpLog(rds)
        self.report = Report(queue.metrics)
        self.outage = Outage(f"mail sender {self.name}")
        self.stopping = Event()
        self.failing_since: float | None = None
        self._lost_track = True  # what it holds is unknown (at start, after an outage): hand it back
        self._pending: list[Record] = []  # sent emails whose records are not known to be written
        self._unsettled: gevent.Greenlet[Any, None] | None = None  # the last record, reply pending

    # --- the loop ---------------------------------------------------------------------------------

    def run(self, burst: bool = False) -> int:
        """Work until stopped (or, in burst mode, until the queue is empty); returns jobs handled."""
        handled = 0
        beat = gevent.spawn(self._heartbeat)
        housekept = [0.0]
        try:
            while not self.stopping.is_set():
                done = self._guarded(lambda: self._step(burst, housekept))
                if done is None:
                    break
                handled += done
        finally:
            beat.kill()
            self._stop()
        return handled

    def _guarded(self, step: Any) -> int | None:
        """One step; a Redis outage is waited out, anything else logged, and the loop goes on."""
        try:
            done = step()
        except UNAVAILABLE as exc:
            self._lost_track = True
            self.outage.wait(exc, self.stopping)
            return 0
        except Exception:
            log.exception("mail sender %s: unexpected error; going on in %g s", self.name, PAUSE)
            self._lost_track = True
            self._failed()
            self.stopping.wait(PAUSE)
            return 0
        self.outage.over()
        return done

    def _step(self, burst: bool, housekept: list[float]) -> int | None:
        if self._lost_track:
            self._recover()
        if time.monotonic() - housekept[0] >= HOUSEKEEPING_SECONDS:
            self.queue.promote()
            self.queue.reap()
            housekept[0] = time.monotonic()
        claimed = self.queue.claim_batch(self.name, self.batch, timeout=0.2 if burst else 1.0)
        if not claimed:
            self._hand_back_strays()
            return None if burst else 0
        if len(claimed) == 1 and self.gather > 0 and not burst:
            # One job at a time costs about twice as much CPU per email as a batch (its own SMTP
            # transaction, reads and log writes): a job that came alone waits a moment for others.
            self.stopping.wait(self.gather)
            claimed += self.queue.claim_ready(self.name, self.batch - 1)
        return self.process(claimed)

    def _hand_back_strays(self) -> None:
        """Idle, a worker holds nothing: anything in its processing list was moved there by a
        command whose reply was lost and that the Redis client sent again (its retry)."""
        moved = self.queue.requeue_held(self.name)
        if moved:
            log.warning("mail sender %s: handed back %d job(s) claimed by a lost reply", self.name, moved)

    def _recover(self) -> None:
        """Renew the heartbeat, write the records of emails sent before Redis went away (unless
        they were written), then hand back the jobs still held: each is either recorded or unsent."""
        self.queue.heartbeat(self.name)
        while self._pending:
            record = self._pending[0]
            if not record.is_applied(self.rds):
                self._apply(record)
            else:  # written before the reply was lost: still say what went out
                self._pending.pop(0)
                self._tell(record.prepared.claimed, record.attempt, None)
        moved = self.queue.requeue_held(self.name)
        if moved:
            log.warning("mail sender %s: handed back %d job(s) it held when it lost track", self.name, moved)
        self._lost_track = False

    def _heartbeat(self) -> None:
        while True:
            gevent.sleep(self.queue.lease / 3)
            with contextlib.suppress(*UNAVAILABLE):  # the loop says it; the beat goes on
                self.queue.heartbeat(self.name)

    def _stop(self) -> None:
        self.sender.close()
        if self.sms is not None:
            self.sms.close()
        try:
            self.queue.release(self.name)
        except UNAVAILABLE as exc:
            log.warning("mail sender %s: Redis unavailable at stop (%s): held jobs return after the lease",
                        self.name, exc)

    def _failed(self) -> None:
        """Deliveries fail: say since when (for /healthz), once."""
        if self.failing_since is None:
            self.failing_since = time.time()
            with contextlib.suppress(*UNAVAILABLE):
                self.queue.mark_failing(self.name, self.failing_since)

    def _succeeded(self) -> None:
        if self.failing_since is not None:
            self.queue.mark_failing(self.name, None)
            self.failing_since = None

    # --- a batch ----------------------------------------------------------------------------------

    def process(self, batch: list[Claimed]) -> int:
        """Deliver claimed jobs in order; returns how many were handled before a warm stop.

        The next job is prepared (rendered, its message built and serialised: pure CPU) in its own
        greenlet while this one waits on the SMTP server and Redis for the current job."""
        valid = []
        for claimed in batch:
            job = claimed.doc
            problems = job_errors(job) if isinstance(job, dict) else ["not a JSON object"]
            if problems:
                self._fail(claimed, "invalid job: " + "; ".join(problems[:5]), permanent=True, failing=False)
            else:
                valid.append(claimed)
        pairs = self._contexts(valid)
        try:
            return len(batch) - len(pairs) + self._deliver_all(pairs)
        finally:
            self._settle()

    def _contexts(self, valid: list[Claimed]) -> list[tuple[Claimed, Context]]:
        """The batch's contexts; when reading them fails for another reason than Redis, each job
        is read alone and the one at fault retried with the reason."""
        try:
            return list(zip(valid, self.contexts.read([c.doc for c in valid]) if valid else [], strict=True))
        except UNAVAILABLE:
            raise
        except Exception:
            pairs = []
            for claimed in valid:
                try:
                    pairs.append((claimed, self.contexts.read([claimed.doc])[0]))
                except UNAVAILABLE:
                    raise
                except Exception as exc:
                    log.exception("job %s: reading what it needs failed", claimed.job_id)
                    self._fail(claimed, f"reading the job's account or template failed: {type(exc).__name__}: {exc}")
            return pairs

    def _deliver_all(self, pairs: list[tuple[Claimed, Context]]) -> int:
        delivered: set[str] = set()  # keys sent in this batch (two jobs with one key send once)
        handled = 0
        upcoming = gevent.spawn(self.prepare, *pairs[0]) if pairs else None
        for index in range(len(pairs)):
            assert upcoming is not None
            prepared = upcoming.get()
            if index + 1 < len(pairs):
                upcoming = gevent.spawn(self.prepare, *pairs[index + 1])
            if self.stopping.is_set() and index > 0:  # stopping: the job in hand still goes out
                break
            self.finish(prepared, delivered)
            handled += 1
        return handled

    def prepare(self, claimed: Claimed, context: Context) -> Prepared:
        return self.preparer.prepare(claimed, context)

    # --- one job ----------------------------------------------------------------------------------

    def finish(self, prepared: Prepared, delivered: set[str]) -> str:
        """Deliver one prepared job; returns "sent", "duplicate", "disabled", "retry" or "dead".
        Only a Redis outage escapes: anything else fails this job alone, with the reason."""
        claimed, job = prepared.claimed, prepared.claimed.doc
        key = job["idempotency_key"]
        if prepared.outcome == "duplicate" or key in delivered:
            self.queue.complete(self.name, claimed)
            return "duplicate"
        try:
            if prepared.outcome == "disabled":
                return self._disabled(prepared)
            if prepared.error is not None:
                raise prepared.error
            outcome = self._deliver(prepared)
        except UNAVAILABLE:
            raise
        except TemplateTimeError as exc:  # perhaps only a busy machine: retried, then dead-lettered
            self._log_failure(job, str(exc))
            return self._fail(claimed, str(exc), failing=False)
        except (UndeliverableError, TemplateError) as exc:
            self._log_failure(job, str(exc))
            return self._fail(claimed, str(exc), permanent=True, failing=False)
        except PermanentDeliveryError as exc:
            self._log_failure(job, str(exc))
            return self._fail(claimed, str(exc), permanent=True)
        except (DeliveryError, OSError, UnexpectedError) as exc:
            self._log_failure(job, str(exc))
            return self._fail(claimed, str(exc))
        except Exception as exc:
            log.exception("job %s: unexpected error", claimed.job_id)
            return self._fail(claimed, f"unexpected error: {type(exc).__name__}: {exc}")
        if outcome == "sent":
            delivered.add(key)
        return outcome

    def _fail(self, claimed: Claimed, error: str, *, permanent: bool = False, failing: bool = True) -> str:
        """A failed attempt that reached no recipient: retry or dead-letter it, and say so.
        `failing`: mail cannot get out (not a fault of the job's own, such as its template)."""
        pipe = self.rds.pipeline(transaction=True)
        fate = self.queue.settle_failure(pipe, self.name, claimed, error, permanent=permanent)
        pipe.execute()
        self._count_fate(fate.outcome)
        self.report.failed(claimed.doc, claimed.job_id, fate, error)
        if failing:
            self._failed()
        return fate.outcome

    def _count_fate(self, outcome: str) -> None:
        metrics = self.queue.metrics
        if metrics is not None and outcome in ("retry", "dead"):
            (metrics.jobs_dead if outcome == "dead" else metrics.jobs_retried).inc()

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

    def _deliver(self, prepared: Prepared) -> str:
        job, rendered = prepared.claimed.doc, prepared.rendered
        assert rendered is not None
        sms = "sms" in job["media"]
        if prepared.message is not None:
            attempt = self._send_email(prepared)
            self._record(Record(prepared, attempt, last=not sms), wait=sms)
            if not attempt.is_complete:
                return "retry" if attempt.transient else "dead"
        if sms:
            send_sms(self.sms, self.queue, job, rendered.subject, prepared.context.users)
        if prepared.message is None or sms:
            self.queue.complete(self.name, prepared.claimed)
        return "sent"

    def _send_email(self, prepared: Prepared) -> Attempt:
        """Send to the recipients not reached yet (nor refused for good by an earlier try)."""
        claimed, message, rendered = prepared.claimed, prepared.message, prepared.rendered
        assert message is not None and rendered is not None
        reached, refused = prepared.context.delivered_to, claimed.refused
        recipients = [r for r in dict.fromkeys(rendered.recipients) if r not in reached and r not in refused]
        if not recipients:  # every one reached or refused by earlier tries
            return Attempt({}, {}, dict(refused), "")
        metrics = self.queue.metrics
        with metrics.smtp_seconds.time() if metrics is not None else contextlib.nullcontext():
            receipt = self.sender.send(message, recipients, prepared.data)
        attempt = Attempt.sort(receipt, refused)
        if metrics is not None and attempt.delivered:
            metrics.jobs_delivered.labels("email").inc()
        return attempt

    # --- records ----------------------------------------------------------------------------------

    def _record(self, record: Record, wait: bool) -> None:
        """Write an attempt's record. It goes to Redis now but its reply is read later (unless
        `wait`): the next email goes on the wire meanwhile. It is settled before the next one is
        recorded and before the batch ends; until then the job is still in this worker's
        processing list, as it would be with a synchronous write in flight, and the record is
        kept to be written again after a Redis outage."""
        if record.marker is not None:
            self._pending.append(record)
        self._settle()
        if wait:
            self._apply(record)
            return
        self._unsettled = gevent.spawn(self._apply_catching, record)
        gevent.sleep(0)  # let it write the transaction (with an idle pooled connection, at once)

    def _settle(self) -> None:
        """Wait for the outstanding record of the last email (a failure raises here)."""
        if self._unsettled is not None:
            unsettled, self._unsettled = self._unsettled, None
            error = unsettled.get()
            if error is not None:
                raise error

    def _apply_catching(self, record: Record) -> Exception | None:
        """`_apply` in its own greenlet: its failure is raised by `_settle`, not printed by gevent."""
        try:
            self._apply(record)
        except Exception as exc:
            return exc
        return None

    def _apply(self, record: Record) -> None:
        prepared, attempt = record.prepared, record.attempt
        claimed, job = prepared.claimed, prepared.claimed.doc
        pipe = self.rds.pipeline(transaction=True)
        if attempt.outcomes:
            self.smtplog.record(job["account_id"], log_entry(prepared, attempt), pipe)
        fate = None
        if attempt.is_complete:
            if record.last:
                self.queue.complete(self.name, claimed, pipe)
            else:
                self.queue.mark_sent(job["idempotency_key"] + ":email", pipe)
        else:
            if attempt.delivered:
                self.queue.mark_delivered_to(job["idempotency_key"], attempt.delivered, pipe)
            fate = self.queue.settle_failure(pipe, self.name, claimed, attempt.error,
                                             permanent=not attempt.transient, refused=attempt.refused)
        pipe.execute()
        if record in self._pending:
            self._pending.remove(record)
        if attempt.is_complete and record.last and action_of(job):
            after_delivery(self.rds, self.preparer.recordings.root, prepared)
        self._tell(claimed, attempt, fate)

    def _tell(self, claimed: Claimed, attempt: Attempt, fate: Any) -> None:
        if attempt.delivered:
            self.report.delivered(claimed.doc, claimed.job_id, list(attempt.delivered), attempt.receipt)
            self._succeeded()
        if fate is not None:
            self._count_fate(fate.outcome)
            failed = len(attempt.transient) if fate.outcome == "retry" else len(attempt.refused)
            self.report.failed(claimed.doc, claimed.job_id, fate, attempt.error, failed)
            if not attempt.delivered:
                self._failed()

    def _log_failure(self, job: dict[str, Any], error: str) -> None:
        if isinstance(job, dict) and job.get("account_id"):
            self.smtplog.record(str(job["account_id"]), {
                "template_id": job.get("template_id"), "call_id": (job.get("call") or {}).get("call_id"),
                "error": error,
            })

