"""pivot — ask a web application what to do, and do it (Kazoo's cf_pivot).

Data: `voice_url` (required), `method` (`GET`: the call's data as query parameters; `POST`: as a
form body), `timeout` (seconds, 5), `req_format` (`kazoo`: the answer is a callflow, either a
whole document with a `flow` or a flow node `{module, data, children}`), `debug` (log each request
and answer in full), `cdr_url` (the call's record is POSTed there as JSON when the call ends).

Sent: `Call-ID`, `Account-ID`, `From`, `To`, `Caller-ID-Name`, `Caller-ID-Number`,
`Callee-ID-Name`, `Callee-ID-Number`, `Call-Direction` (`inbound` or `internal`) and the digits
collected by `collect_dtmf`: `Digits` (the `default` collection) and `Digits-<name>` for the
others.

The answer is validated exactly as a stored callflow is (every node's data against its module's
schema) and then run as a branch: when it ends, the flow continues at this node's `_` child. A
failed fetch (connection error, timeout, a status other than 200, an answer over 256 KiB, not
JSON, not a valid callflow) takes the `_` child at once. The fetch is a gevent-friendly
`requests` call: other calls go on while it waits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from controller import tenant_http
from controller.call import Call
from controller.callflows.validate import check_callflow
from controller.flow import DEFAULT_CHILD, Branch, Next
from controller.notify.calldata import call_data

log = logging.getLogger(__name__)

MAX_ANSWER = 256 * 1024


class PivotError(Exception):
    """Why a pivot answer cannot be run."""


def request_data(call: Call) -> dict[str, str]:
    params = {
        "Call-ID": call.uuid,
        "Account-ID": call.account_id,
        "From": call.variable("sip_from_user") or call.caller_id_number,
        "To": call.destination,
        "Caller-ID-Name": call.caller_id_name,
        "Caller-ID-Number": call.caller_id_number,
        "Callee-ID-Name": call.header("Caller-Callee-ID-Name"),
        "Callee-ID-Number": call.header("Caller-Callee-ID-Number"),
        "Call-Direction": "internal" if call.is_internal else "inbound",
    }
    for name, digits in (call.kvs.get("collected_digits") or {}).items():
        params["Digits" if name == "default" else f"Digits-{name}"] = str(digits)
    return params


def allowed(call: Call) -> tuple[tenant_http.Network, ...]:
    """What the tenant's URLs may reach beyond the public and private networks (tenant_http)."""
    return tuple(call.services.settings.tenant_http_allow) if call.services is not None else ()


def fetch(data: Mapping[str, Any], params: dict[str, str], allow: Sequence[tenant_http.Network] = ()) -> bytes:
    """The web application's answer (at most MAX_ANSWER bytes), or PivotError. The URL is the
    tenant's: it never reaches the PBX's own services, redirects included (tenant_http)."""
    url, timeout = str(data["voice_url"]), float(data.get("timeout", 5))
    post = str(data.get("method", "GET")).upper() == "POST"
    try:
        with tenant_http.session(allow) as http, http.request(
                "POST" if post else "GET", url, params=None if post else params,
                data=params if post else None, timeout=timeout, stream=True) as answer:
            if answer.status_code != 200:
                raise PivotError(f"HTTP {answer.status_code}")
            body = answer.raw.read(MAX_ANSWER + 1, decode_content=True)
    except requests.RequestException as exc:
        raise PivotError(tenant_http.refusal(exc) or f"request failed: {type(exc).__name__}") from exc
    if len(body) > MAX_ANSWER:
        raise PivotError(f"answer larger than {MAX_ANSWER} bytes")
    return body


def flow_of(body: bytes) -> dict[str, Any]:
    """The flow an answer holds, validated as a stored callflow would be."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise PivotError(f"answer is not JSON: {exc}") from exc
    flow = doc.get("flow", doc) if isinstance(doc, dict) else None
    if not isinstance(flow, dict):
        raise PivotError("answer holds no callflow")
    report = check_callflow({"numbers": ["pivot"], "flow": flow}, "pivot answer")
    if report.errors:
        raise PivotError(str(report.errors[0]))
    return flow


def handle(data: dict[str, Any], call: Call) -> Next:
    if data.get("cdr_url"):
        call.register_termination(post_cdr, {"cdr_url": str(data["cdr_url"])})
    params = request_data(call)
    if data.get("debug") is True:
        log.info("call %s: pivot request to %s: %s", call.uuid, data.get("voice_url"), params)
    try:
        body = fetch(data, params, allowed(call))
        if data.get("debug") is True:
            log.info("call %s: pivot answer: %s", call.uuid, body[:4096].decode("utf-8", "replace"))
        flow = flow_of(body)
    except PivotError as exc:
        log.warning("call %s: pivot to %s failed (%s), continuing at '_'", call.uuid, data.get("voice_url"), exc)
        return DEFAULT_CHILD
    return Branch(flow=flow, name=f"pivot {data.get('voice_url')}")


def post_cdr(call: Call, data: dict[str, Any]) -> None:
    """Termination handler: the call's record, as JSON, to `cdr_url`."""
    try:
        with tenant_http.session(allowed(call)) as http:
            http.post(str(data["cdr_url"]), json=call_data(call), timeout=5).raise_for_status()
    except requests.RequestException as exc:
        log.warning("call %s: CDR not posted to %s: %s", call.uuid, data["cdr_url"], exc)
