"""callflow — run another callflow of the account, then come back (Kazoo's cf_callflow).

Data: `id` (the callflow). Nothing is sent to FreeSWITCH: the module answers a Branch into that
callflow's flow, and when the branched flow ends the executor resumes this node's `_` child (the
executor's branch budget stops loops). A missing callflow continues to `_`, as Kazoo does.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Branch, Next

log = logging.getLogger(__name__)


def handle(data: dict[str, Any], call: Call) -> Next:
    target = str(data.get("id", ""))
    doc = call.services.callflows.find(call.account_id, target) if target else None
    if doc is None or not isinstance(doc.get("flow"), dict):
        log.warning("call %s: callflow %r not found, continuing", call.uuid, target)
        return DEFAULT_CHILD
    return Branch(flow=doc["flow"], name=target)
