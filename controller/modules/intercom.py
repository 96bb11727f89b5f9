"""intercom — call an extension and have its phone answer by itself, on speaker (Kazoo's
cf_intercom): the two-way counterpart of `page_group`, for one extension.

Data: `barge_calls` (whether a phone on another call is asked to answer anyway).

The feature code's captured number (`*0` + extension) is looked up among the account's
callflows (not the `no_match` one) and that callflow runs as a branch, with the auto-answer
variables (`paging`) exported to every leg it dials: the phone's INVITE carries
`Call-Info: <sip:...>;answer-after=0` and `Alert-Info: intercom`. No captured number: the call
stops; a number no callflow takes: `_`.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.callflows.matcher import NO_MATCH
from controller.flow import DEFAULT_CHILD, Branch, Next
from controller.modules import dialled, paging

log = logging.getLogger(__name__)


def handle(data: dict[str, Any], call: Call) -> Next:
    if not call.capture_group:
        log.info("call %s: intercom without a number", call.uuid)
        return None
    number = dialled.normalize(call, call.capture_group)
    services = call.services
    route = services.matcher.match(call.account_id, number, is_internal=True, views=services.cache)
    if route is None or route.reason == NO_MATCH or not isinstance(route.callflow.get("flow"), dict):
        log.info("call %s: intercom to %r reaches no callflow", call.uuid, number)
        return DEFAULT_CHILD
    # `export nolocal:`: the legs this call dials get the variables, the caller's leg does not.
    exports = [("export", f"nolocal:{name}={value}") for name, value in paging.auto_answer(data).items()]
    call.channel.execute_all(exports)
    call.data = {**call.data, "Caller-Destination-Number": number}
    call.capture_group = route.capture_group
    call.capture_groups = dict(route.capture_groups)
    return Branch(flow=dict(route.callflow["flow"]), name=route.callflow_id)
