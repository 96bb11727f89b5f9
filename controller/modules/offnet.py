"""offnet — send the call to the telephone network through the configured carriers (Kazoo's
cf_offnet / cf_resources); the usual target of the `no_match` callflow for internal callers.

Data: `to_did` (dial this number instead of the one dialled), `bypass_e164` / `do_not_normalize`
(dial the number as it is), `caller_id_type` (which of the account's `caller_id` entries an
internal caller presents: `external` by default, e.g. `emergency`), `emit_account_id` (an
`X-Account-ID` SIP header), `timeout` (seconds each carrier may take to answer), `ignore_early_media`,
`ringback`, `outbound_flags` (only carriers having all these flags), `custom_sip_headers` (its
string entries and those of `out` become `X-` headers of the INVITE).

Carriers come from the settings (`carriers`: `[[carriers]]` tables in the TOML file with
`gateway`, `prefix`, `strip_plus`, `patterns`, `flags`): those whose patterns match the E.164
number are tried one after another, `sofia/gateway/<gateway>/<prefix><number>`. The caller ID is
set on the caller's channel (`effective_caller_id_*`), which FreeSWITCH gives the outgoing leg;
an inbound caller keeps their own, and so does a forwarded call whose forward keeps the caller's
ID (`keep_caller_id`: the leg carries `controller_retain_cid`, Kazoo's Retain-CID; `forwarding`).

Answered: the flow stops. Failed: the failure's child keys, as `user` (cause, then SIP code),
else `_`; an unusable number is INVALID_NUMBER_FORMAT and no carrier NO_ROUTE_DESTINATION.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from controller.call import Call
from controller.config import Carrier
from controller.esl.safety import multiset, one_line
from controller.flow import Next
from controller.modules import bridging
from controller.modules.numbers import to_e164

log = logging.getLogger(__name__)


def usable(carriers: Sequence[Carrier], number: str, flags: Sequence[str]) -> list[Carrier]:
    """The carriers that take this number and have every flag asked for, in their order."""
    return [c for c in carriers if set(flags) <= set(c.flags) and c.takes(number)]


def target(carrier: Carrier, number: str) -> str:
    dialled = number.lstrip("+") if carrier.strip_plus else number
    return f"sofia/gateway/{carrier.gateway}/{carrier.prefix}{dialled}"


def channel_variables(data: Mapping[str, Any], call: Call) -> dict[str, str]:
    variables: dict[str, str] = {}
    if call.is_internal and call.variable("controller_retain_cid") != "true":
        caller_ids = call.services.account(call.account_id).get("caller_id") or {}
        chosen = caller_ids.get(str(data.get("caller_id_type", "external"))) or caller_ids.get("external") or {}
        if chosen.get("number"):
            variables["effective_caller_id_number"] = str(chosen["number"])
        if chosen.get("name"):
            variables["effective_caller_id_name"] = str(chosen["name"])
    if data.get("emit_account_id") is True:
        variables["sip_h_X-Account-ID"] = call.account_id
    headers = data.get("custom_sip_headers") or {}
    for name, value in [*headers.items(), *(headers.get("out") or {}).items()]:
        if isinstance(value, str):
            variables["sip_h_" + (name if name.lower().startswith("x-") else "X-" + name)] = value
    if data.get("ignore_early_media") is True:
        variables["ignore_early_media"] = "true"
    if data.get("ringback"):
        variables["ringback"] = str(data["ringback"])
    return variables


def fail(call: Call, cause: str) -> tuple[str, ...]:
    call.state.bridge_failure = cause
    return (cause,)


def handle(data: dict[str, Any], call: Call) -> Next:
    settings = call.services.settings
    dialled = one_line(data.get("to_did") or call.destination).strip()
    as_is = data.get("bypass_e164") is True or data.get("do_not_normalize") is True
    number = dialled if as_is else to_e164(dialled, settings.country_code)
    if not number or not number.lstrip("+").isdigit():
        log.info("call %s: offnet cannot dial %r", call.uuid, dialled)
        return fail(call, "INVALID_NUMBER_FORMAT")
    carriers = usable(settings.carriers, number, [str(f) for f in data.get("outbound_flags") or []])
    if not carriers:
        log.warning("call %s: no carrier for %s", call.uuid, number)
        return fail(call, "NO_ROUTE_DESTINATION")
    variables = channel_variables(data, call)
    if variables:
        call.channel.execute_all([multiset(variables)])
    timeout = int(data.get("timeout", bridging.DEFAULT_TIMEOUT))
    legs = [bridging.Leg(target(c, number), timeout) for c in carriers]
    return bridging.bridge(call, legs, "single")
