"""ring_group — ring a group of users, devices and groups of them (Kazoo's cf_ring_group).

Data: `endpoints` (required; each `{id, endpoint_type: user | device | group, delay, timeout}`),
`strategy` (`simultaneous`: all at once; `single`: one after another in list order), `timeout`
(seconds the whole group rings, 20; with `single` each member keeps its own timeout), `repeats`
(how many times the group is rung before giving up, 1), `ignore_forward` (default true: a user's
call forwarding is not followed), `fail_on_single_reject`, `ringback` (what the caller hears).

A user rings every enabled device they own; a group (Kazoo's groups document: `endpoints` maps
ids to `{"type": "user" | "device"}`) rings its members, with the group endpoint's delay and
timeout. A device reached twice is rung once (its first appearance wins). With `ignore_forward`
false, a user whose `call_forward` is enabled is rung at the forward number, through
FreeSWITCH's loopback endpoint (the number runs through the dialplan again, so the account's
callflows, typically `offnet`, place it): instead of their devices when `substitute` (the
default), else alongside them.

Answered: the flow stops. Failed after every repeat: the failure's child keys as `user` does
(hangup cause, then SIP code), else `_`. Nothing to ring continues to `_` at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import multiset, one_line
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging

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


def forward_leg(user: Doc | None, timeout: int, delay: int) -> bridging.Leg | None:
    """A leg to the user's call-forward number, when forwarding is enabled."""
    forward = (user or {}).get("call_forward") or {}
    number = one_line(forward.get("number", "")).strip()
    if forward.get("enabled") is not True or not number.lstrip("+").isdigit():
        return None
    return bridging.Leg(f"loopback/{number}", timeout, delay)


def legs(call: Call, data: Doc, context: Context) -> list[bridging.Leg]:
    account, users, devices, groups = context
    realm, profile = str(account.get("realm") or ""), call.services.settings.route_profile
    caller = bridging.calling_username(call)
    follow = data.get("ignore_forward", True) is False
    found: list[bridging.Leg] = []
    for endpoint in (m for e in data.get("endpoints") or [] for m in members(e, groups)):
        timeout, delay = int(endpoint.get("timeout", bridging.DEFAULT_TIMEOUT)), int(endpoint.get("delay", 0))
        eid = str(endpoint.get("id", ""))
        chosen: list[Doc] = []
        if endpoint.get("endpoint_type") == "user" and bridging.is_enabled(users.get(eid)):
            forward = forward_leg(users[eid], timeout, delay) if follow else None
            found.extend([forward] if forward else [])
            if forward is None or (users[eid].get("call_forward") or {}).get("substitute") is False:
                chosen = bridging.owned_by(devices.values(), eid)
        elif endpoint.get("endpoint_type") == "device" and bridging.is_enabled(devices.get(eid)):
            chosen = [devices[eid]]
        found.extend(bridging.legs_for(chosen, {"timeout": timeout, "delay": delay}, realm, profile, caller))
    return _unique(found)


def _unique(found: list[bridging.Leg]) -> list[bridging.Leg]:
    seen: set[str] = set()
    unique = []
    for leg in found:
        if leg.target not in seen:
            seen.add(leg.target)
            unique.append(leg)
    return unique


def handle(data: dict[str, Any], call: Call) -> Next:
    context = call.services.group_context(call.account_id)
    planned = legs(call, data, context)
    if not planned:
        log.info("call %s: ring group %r has no device to ring", call.uuid, data.get("name", ""))
        return DEFAULT_CHILD
    strategy = str(data.get("strategy", "simultaneous"))
    limit = int(data["timeout"]) if strategy == "simultaneous" and "timeout" in data else None
    if data.get("ringback"):
        call.channel.execute_all([multiset({"ringback": str(data["ringback"])})])
    failure: tuple[str, ...] | None = ()
    for _ in range(max(1, int(data.get("repeats", 1)))):
        failure = bridging.bridge(call, planned, strategy, data.get("fail_on_single_reject") is True, limit)
        if failure is None:
            return None
    return failure
