"""`controller mailer`: deliver notification jobs. The first SIGTERM (or SIGINT) finishes the job
in hand and stops (warm); a second one stops at once (cold: the job in hand goes back to the
queue when this worker's lease runs out). Under `controller run` (`--supervised`) it answers the
supervisor's liveness check and gives its metrics to the API role (controller/roles.py)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from typing import Any

import gevent

from controller import roles, scheduling
from controller.config import Settings
from controller.logcontext import announce
from controller.metrics import Metrics
from controller.notify.delivery import OutboxSender, SmtpSender
from controller.notify.fax import Faxes
from controller.notify.mailer import Mailer, Sender
from controller.notify.queue import JobQueue
from controller.notify.recording import Recordings
from controller.notify.sms import SmsSender
from controller.store.connection import connect

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "mailer", help="deliver notification jobs: email and SMS (one role of `run`)",
        description="Deliver the notification queue's jobs: email over CONTROLLER_SMTP_URL (or .eml files in "
        "CONTROLLER_OUTBOX_DIR), SMS through CONTROLLER_SMS_URL. Several may share one Redis. The first SIGTERM "
        "finishes the job in hand, a second stops at once. `controller run` starts one for you.")
    parser.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    parser.add_argument("--name", help="worker name (default: host and process)")
    roles.add_option(parser)
    parser.set_defaults(run=run_mailer)


def sender_for(settings: Settings) -> Sender:
    return SmtpSender(settings.smtp_url) if settings.smtp_url else OutboxSender(settings.outbox_dir)


def build_mailer(settings: Settings, name: str | None, metrics: Metrics | None = None) -> Mailer:
    """A mail sender with its own Redis client, SMTP (or outbox) sender and SMS gateway."""
    rds = connect(settings)
    sms = SmsSender(settings.sms_url, settings.sms_token, settings.sms_from) if settings.sms_url else None
    recordings = Recordings(settings.max_attachment_bytes, settings.media_url, root=settings.voicemail_dir)
    faxes = Faxes(settings.max_attachment_bytes, root=settings.fax_dir)
    queue = JobQueue(rds, lease=settings.job_lease_seconds, metrics=metrics)
    return Mailer(rds, queue, sender_for(settings), name, sms, recordings, mail_from=settings.mail_from,
                  faxes=faxes)


def run_mailer(args: argparse.Namespace, settings: Settings) -> int:
    scheduling.leave_realtime("mailer")  # not on the call path (controller/scheduling.py)
    metrics = Metrics()
    mailer = build_mailer(settings, args.name, metrics)

    def on_signal() -> None:
        if mailer.stopping.is_set():
            os._exit(1)  # cold: the job in hand returns to the queue when the lease runs out
        mailer.stopping.set()  # warm

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, on_signal)
    where = settings.smtp_url or f"the outbox {settings.outbox_dir}"
    announce(f"mailer {mailer.name} delivering to {where}")
    if settings.smtp_url and not settings.mail_from:
        log.warning("CONTROLLER_MAIL_FROM is not set: emails whose template has no `from` come from "
                    "no-reply@<the account's realm>; set it to an address your mail server may send from")
    answering = roles.answer_supervisor(args.supervised, "mailer", {"metrics": metrics.exposition})
    handled = mailer.run(burst=args.burst)
    if answering is not None:
        answering.stop()
    announce(f"mailer stopped after {handled} jobs")
    return 0
