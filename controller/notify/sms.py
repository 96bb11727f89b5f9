"""SMS through an HTTP gateway (`CONTROLLER_SMS_URL`): one JSON POST per message,
`{"to": ..., "from": ..., "text": ...}`, with `Authorization: Bearer <CONTROLLER_SMS_TOKEN>` when
a token is set. 5xx, 429 and connection problems are transient; other 4xx are permanent."""

from __future__ import annotations

import requests

from controller.notify.delivery import PermanentDeliveryError, TransientDeliveryError

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
