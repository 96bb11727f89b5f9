"""Sending a call on to the number a feature code captured (Kazoo's cf_flow:lookup after
cf_util:normalize_capture_group), for `privacy` and `dynamic_cid`: `*67` + a number hides the
caller ID, then the call goes where that number goes.

The number is put in E.164 when it reads as a national or international number
(CONTROLLER_COUNTRY_CODE), as Kazoo normalises it; an extension stays as dialled. The call's
destination becomes that number (what `offnet` dials), and the account's callflow for it runs as
a branch; an outside caller does not get the `no_match` route.
"""

from __future__ import annotations

import logging

from controller.call import Call
from controller.flow import Branch
from controller.modules.numbers import to_e164

log = logging.getLogger(__name__)


def normalize(call: Call, captured: str) -> str:
    number = captured.strip()
    return to_e164(number, call.services.settings.country_code) or number


def route_to(call: Call, number: str) -> Branch | None:
    """The branch into the account's callflow for `number`, the call now dialling it; None when
    no callflow takes it."""
    services = call.services
    route = services.matcher.match(call.account_id, number, is_internal=call.is_internal, views=services.cache)
    if route is None or not isinstance(route.callflow.get("flow"), dict):
        log.info("call %s: no callflow for %r", call.uuid, number)
        return None
    call.data = {**call.data, "Caller-Destination-Number": number}
    call.capture_group = route.capture_group
    call.capture_groups = dict(route.capture_groups)
    return Branch(flow=dict(route.callflow["flow"]), name=route.callflow_id)
