"""ring_group — ring a group of users, devices and groups of them (Kazoo's cf_ring_group).

Data: `endpoints` (required; each `{id, endpoint_type: user | device | group, delay, timeout}`),
`strategy` (`simultaneous`: all at once; `single`: one after another in list order), `timeout`
(seconds the whole group rings, 20; with `single` each member keeps its own timeout), `repeats`
(how many times the group is rung before giving up, 1), `ignore_forward` (default true: a SIP
redirect (3xx) from a member ends its leg, FreeSWITCH's `outbound_redirect_fatal`, as Kazoo's
ecallmgr sets it; false: the redirect is followed), `fail_on_single_reject`, `ringback` (what the
caller hears).

A user rings every enabled device they own; a group (Kazoo's groups document: `endpoints` maps
ids to `{"type": "user" | "device"}`) rings its members, with the group endpoint's delay and
timeout. A device reached twice is rung once (its first appearance wins). Each device follows
its call forwarding as `user` and `device` do, unless the forward takes `direct_calls_only`
(`forwarding`: instead of the device or beside it, with Kazoo's `require_keypress`). A device
on do not disturb is left out; a user's devices include those they are logged in on (`hotdesk`).

Answered: the flow stops. Failed after every repeat: the failure's child keys as `user` does
(hangup cause, then SIP code), else `_`. Nothing to ring continues to `_` at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging, forwarding

log = logging.getLogger(__name__)

Doc = Mapping[str, Any]
Context = tuple[Doc, dict[str, Doc], dict[str, Doc], dict[str, Doc]]  # account, users, devices, groups


def members(endpoint: Doc, groups: Mapping[str, Doc]) -> list[Doc]:
    """The endpoints one group endpoint stands for, each with the endpoint's delay and timeout."""
    kind, eid = endpoint.get("endpoint_type"), str(endpoint.get("id", ""))
    if kind != "group":
        return [endpoint]
    group = groups.get(eid) or {}
    inner = group.get("endpoints")
    if not isinstance(inner, dict):
        return []
    timing = {k: endpoint[k] for k in ("delay", "timeout") if k in endpoint}
    return [{"id": mid, "endpoint_type": (spec or {}).get("type", "device"), **timing}
            for mid, spec in sorted(inner.items()) if (spec or {}).get("type") in ("user", "device")]


def plan(call: Call, data: Doc, context: Context) -> forwarding.Plan:
    account, users, devices, groups = context
    realm, profile = str(account.get("realm") or ""), call.services.settings.route_profile
    caller = bridging.calling_username(call)
    found = forwarding.Plan(call.account_id, "ring_group")
    for endpoint in (m for e in data.get("endpoints") or [] for m in members(e, groups)):
        timing = (int(endpoint.get("timeout", bridging.DEFAULT_TIMEOUT)), int(endpoint.get("delay", 0)))
        eid = str(endpoint.get("id", ""))
        chosen: list[Doc] = []
        if endpoint.get("endpoint_type") == "user" and bridging.is_enabled(users.get(eid)):
            chosen = bridging.owned_by(devices.values(), eid)
        elif endpoint.get("endpoint_type") == "device" and bridging.is_enabled(devices.get(eid)):
            chosen = [devices[eid]]
        for device in (d for d in chosen if not bridging.is_device_of(caller, d)):
            owner = bridging.owner_of(device, users)
            found.add(device, owner, bridging.device_target(device, realm, profile), timing)
    return found


def handle(data: dict[str, Any], call: Call) -> Next:
    planned = plan(call, data, call.services.group_context(call.account_id))
    if not planned.legs:
        log.info("call %s: ring group %r has no device to ring", call.uuid, data.get("name", ""))
        return DEFAULT_CHILD
    strategy = str(data.get("strategy", "simultaneous"))
    limit = int(data["timeout"]) if strategy == "simultaneous" and "timeout" in data else None
    variables = {"outbound_redirect_fatal": "false" if data.get("ignore_forward") is False else "true"}
    if data.get("ringback"):
        variables["ringback"] = str(data["ringback"])
    reject = data.get("fail_on_single_reject") is True
    failure: tuple[str, ...] | None = ()
    for _ in range(max(1, int(data.get("repeats", 1)))):
        failure = forwarding.ring(call, planned, strategy, reject, call_timeout=limit, variables=variables)
        if failure is None:
            return None
    return failure
