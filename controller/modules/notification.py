"""notification — send a notification from one of the account's templates (Kazoo's
cf_notification, "custom callflow notifications").

Data: `template_id` (required), `send_at`: `channel_destroy` (default: when the channel is gone,
as a termination handler) or `callflow_exec` (enqueue now and continue), `notification_media`
(`email`, `sms`), `comments`, `recipients` (as missed_call_alert). There is no inbound or
bridged gating: the bridged and message-left flags travel in the job for the template to use.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next, queues_jobs_only
from controller.notify.calldata import call_data, instance_of
from controller.notify.job import make_job


def handle(data: dict[str, Any], call: Call) -> Next:
    if data.get("send_at", "channel_destroy") == "callflow_exec":
        send(call, data)
    else:
        call.register_termination(send, dict(data))
    return DEFAULT_CHILD


@queues_jobs_only
def send(call: Call, data: dict[str, Any]) -> None:
    job = make_job(
        "cf_notification",
        call.account_id,
        call_data(call),
        instance=instance_of(call),
        template_id=str(data["template_id"]),
        recipients=list(data.get("recipients") or []),
        media=list(data.get("notification_media") or ["email"]),
        comments=data.get("comments"),
    )
    call.queue_job(job)
