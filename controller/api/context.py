"""What the request handlers use, built once by the app factory and kept on the app
(`app.extensions["controller"]`): the Services and the API's own stores."""

from __future__ import annotations

import dataclasses

from flask import current_app

from controller.notify.render_pool import RenderPool
from controller.notify.smtplog import SmtpLog
from controller.notify.templates import Templates
from controller.services import Services
from controller.store.tokens import Tokens


@dataclasses.dataclass(frozen=True)
class ApiContext:
    services: Services
    tokens: Tokens
    templates: Templates
    smtplog: SmtpLog
    renderer: RenderPool  # validation and previews render here, in worker processes, in the mail sender's sandbox
    instance: str  # names this API process in the idempotency keys of the jobs it enqueues


def ctx() -> ApiContext:
    context: ApiContext = current_app.extensions["controller"]
    return context
