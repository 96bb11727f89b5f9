"""What the request handlers use, built once by the app factory and kept on the app
(`app.extensions["controller"]`): the Services and the API's own stores."""

from __future__ import annotations

import dataclasses

from flask import current_app

from controller.notify.smtplog import SmtpLog
from controller.notify.templates import Templates
from controller.services import Services
from controller.store.tokens import Tokens
from controller.workers.pool import WorkerPool


@dataclasses.dataclass(frozen=True)
class ApiContext:
    services: Services
    tokens: Tokens
    templates: Templates
    smtplog: SmtpLog
    workers: WorkerPool  # previews and template checks render there, callflows are validated there
    instance: str  # names this API process in the idempotency keys of the jobs it enqueues


def ctx() -> ApiContext:
    context: ApiContext = current_app.extensions["controller"]
    return context
