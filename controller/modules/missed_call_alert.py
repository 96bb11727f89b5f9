"""missed_call_alert — tell someone about an inbound call nobody answered (Kazoo's
cf_missed_call_alert).

Only inbound calls count (from outside the account, not from one of its devices): for those the
module registers a termination handler; it always continues to `_` at once. When the channel is
gone the handler enqueues a `missed_call` notification job if and only if the call was never
bridged (CHANNEL_BRIDGE), no voicemail was left (even one too short to keep counts as left) and
no fax email was queued (receive_fax: a fax, received or failed, is mailed once, as itself).

Data: `recipients`: `{"type": "user" | "email", "id": string or array}`; users' addresses are
resolved by the mail sender at send time; an empty list leaves the template's own To.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next, queues_jobs_only
from controller.notify.calldata import call_data, instance_of
from controller.notify.job import make_job

log = logging.getLogger(__name__)


def handle(data: dict[str, Any], call: Call) -> Next:
    if call.is_inbound:
        call.register_termination(alert_if_missed, {"recipients": list(data.get("recipients") or [])})
    return DEFAULT_CHILD


@queues_jobs_only
def alert_if_missed(call: Call, data: dict[str, Any]) -> None:
    """Termination handler: queue the alert unless the call was bridged, left a message, had its
    fax mailed or was put in a conference room."""
    if call.state.reached is not None:
        return
    job = make_job(
        "missed_call", call.account_id, call_data(call), instance=instance_of(call), recipients=data["recipients"]
    )

    def queued() -> None:
        log.info("call %s: missed call alert queued for %s", call.uuid, call.account_id)
        if getattr(call.services, "metrics", None) is not None:
            call.services.metrics.missed_call_alerts.inc()

    call.queue_job(job, queued)
