"""webhook — tell a web application about the call, and go on at once (Kazoo's cf_webhook).

Data: `uri` (http or https, required), `http_verb` (`post`, the default: the call's data as a
JSON body; `get`: as query parameters), `retries` (0..4, default 0: tries after a failure, 1 s
then 2 s apart, as Kazoo's webhooks retry a host that does not answer), `custom_data` (an
object sent beside the call's data).

What is sent: Kazoo's names of the call's data (`Call-ID`, `Account-ID`, `From`, `To`,
`Caller-ID-Name`, `Caller-ID-Number`, `Callee-ID-*`, `Call-Direction`, collected digits), the
`Timestamp` (Gregorian seconds), the `Callflow-ID` and `Custom-Data`. The request goes out in a
greenlet of its own, away from the call's: the flow continues at `_` without waiting, each try
has a connect and read timeout and all tries together at most TOTAL_SECONDS, so neither the call
nor the process waits on a slow server. Caller text goes only into the body or the query string
(encoded), never into a header: the headers are fixed. The URL is the tenant's: it never reaches
the PBX's own services (controller/tenant_http.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import gevent
import requests

from controller import tenant_http
from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules.pivot import request_data
from controller.store.cdrs import gregorian

log = logging.getLogger(__name__)

TIMEOUT = (3.0, 5.0)  # connect, read: seconds per try
TOTAL_SECONDS = 20.0
MAX_RETRIES = 4
HEADERS = {"User-Agent": "controller-webhook/1", "Accept": "*/*"}


def payload(data: Mapping[str, Any], call: Call) -> dict[str, Any]:
    found: dict[str, Any] = dict(request_data(call))
    found["Callflow-ID"] = call.callflow_id or ""
    found["Timestamp"] = gregorian(time.time())
    if isinstance(data.get("custom_data"), dict):
        found["Custom-Data"] = data["custom_data"]
    return found


def handle(data: dict[str, Any], call: Call) -> Next:
    uri = str(data.get("uri") or "")
    if uri.startswith(("http://", "https://")):
        verb = "get" if data.get("http_verb") == "get" else "post"
        retries = min(max(int(data.get("retries") or 0), 0), MAX_RETRIES)
        allow = call.services.settings.tenant_http_allow if call.services is not None else ()
        gevent.spawn(deliver, uri, verb, payload(data, call), retries, call.uuid, allow=allow)
    else:
        log.warning("call %s: webhook without an http(s) uri skipped", call.uuid)
    return DEFAULT_CHILD


def deliver(uri: str, verb: str, body: dict[str, Any], retries: int, call_id: str = "", *,
            allow: Sequence[tenant_http.Network] = ()) -> bool:
    """Send the request, trying again up to `retries` times; True once the server answered 2xx.
    `allow`: networks the URL may reach although the PBX's own (tenant_http)."""
    try:
        with gevent.Timeout(TOTAL_SECONDS), tenant_http.session(allow) as http:
            for attempt in range(retries + 1):
                if attempt:
                    gevent.sleep(float(2 ** (attempt - 1)))
                if _send(http, uri, verb, body, call_id):
                    return True
    except gevent.Timeout:
        log.warning("call %s: webhook %s gave up after %.0f s", call_id, uri, TOTAL_SECONDS)
    return False


def _send(http: requests.Session, uri: str, verb: str, body: dict[str, Any], call_id: str) -> bool:
    try:
        if verb == "get":
            params = {k: v if isinstance(v, str) else str(v) for k, v in body.items() if not isinstance(v, dict)}
            answer = http.get(uri, params=params, headers=HEADERS, timeout=TIMEOUT, allow_redirects=False)
        else:
            answer = http.post(uri, json=body, headers=HEADERS, timeout=TIMEOUT, allow_redirects=False)
        answer.close()
    except requests.RequestException as exc:
        log.info("call %s: webhook %s failed: %s", call_id, uri, tenant_http.refusal(exc) or exc)
        return False
    if not 200 <= answer.status_code < 300:
        log.info("call %s: webhook %s answered %d", call_id, uri, answer.status_code)
        return False
    return True
