"""SMS through an HTTP gateway (`CONTROLLER_SMS_URL`): one JSON POST per message,
`{"to": ..., "from": ..., "text": ...}`, with `Authorization: Bearer <CONTROLLER_SMS_TOKEN>` when
a token is set. 5xx, 429 and connection problems are transient; other 4xx are permanent."""

from __future__ import annotations

import logging
from typing import Any

import requests

from controller.notify import addresses
from controller.notify.delivery import PermanentDeliveryError, TransientDeliveryError
from controller.notify.queue import JobQueue

log = logging.getLogger(__name__)

MAX_TEXT = 480


class SmsSender:
    def __init__(self, url: str, token: str = "", sender: str = "", timeout: float = 10.0) -> None:
        self.url = url
        self.sender = sender
        self.timeout = timeout
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def send(self, to: str, text: str) -> str:
        body = {"to": to, "from": self.sender, "text": text[:MAX_TEXT]}
        try:
            response = self._session.post(self.url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"SMS gateway unreachable: {exc}") from exc
        summary = f"{response.status_code} {response.text[:200]}"
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientDeliveryError(summary)
        if response.status_code >= 400:
            raise PermanentDeliveryError(summary)
        return summary

    def close(self) -> None:
        self._session.close()


def send_sms(sms: SmsSender | None, queue: JobQueue, job: dict[str, Any], text: str,
             users: dict[str, dict[str, Any]]) -> None:
    """Text each recipient user's mobile once: each number is recorded sent on its own, so a retry
    after a failure texts only those not reached."""
    if sms is None:
        log.warning("job %s asks for SMS but no SMS gateway is configured", job["id"])
        return
    numbers = [str(user["mobile_number"]) for _, user in addresses.recipient_users(job["recipients"], users)
               if user and user.get("mobile_number")]
    for number in dict.fromkeys(numbers):
        part = f"{job['idempotency_key']}:sms:{number}"
        if not queue.was_sent(part):
            sms.send(number, text)
            queue.mark_sent(part)
            if queue.metrics is not None:
                queue.metrics.jobs_delivered.labels("sms").inc()
