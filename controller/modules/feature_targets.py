"""What a pickup, intercept or eavesdrop feature code's captured number names (Kazoo's
build_pickup_params, build_intercept_params and cf_eavesdrop_feature:get_target_for_extension).

- `extension`: the account's callflow for the number (Kazoo's cf_flow:lookup; the `no_match`
  callflow does not count), searched along its `_` children for the first `user` or `device`
  node (`{"user_id": ...}`, `{"device_id": ...}`), or `ring_group` / `page_group` node, whose
  first endpoint is the target (`{"<endpoint_type>_id": ...}`).
- `device`: the account's device whose SIP username is the number.
- `user`, `group`: Kazoo's "work in progress": nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.callflows.matcher import NO_MATCH
from controller.modules import bridging
from controller.modules.pickup import Context

MAX_DEPTH = 50  # `_` children followed at most (Kazoo's branch budget)
ENDPOINT_KINDS = ("user", "device", "group")


def find(call: Call, context: Context, kind: str, number: str, *, endpoints: bool = True) -> dict[str, str] | None:
    """The target `{"<kind>_id": id}`; `endpoints`: a ring or page group's first endpoint
    counts (pickup), else only user and device nodes do (intercept, eavesdrop)."""
    if not number:
        return None
    if kind == "device":
        found = next((d for d in context.devices.values() if bridging.is_device_of(number, d)), None)
        return {"device_id": str(found["id"])} if found and found.get("id") else None
    if kind == "extension":
        return by_extension(call, number, endpoints)
    return None


def by_extension(call: Call, number: str, endpoints: bool = True) -> dict[str, str] | None:
    services = call.services
    route = services.matcher.match(call.account_id, number, is_internal=True, views=services.cache)
    if route is None or route.reason == NO_MATCH:
        return None
    return in_flow(route.callflow.get("flow"), endpoints)


def in_flow(flow: object, endpoints: bool = True) -> dict[str, str] | None:
    """The target of the first user, device, ring_group or page_group node along `_`."""
    for _ in range(MAX_DEPTH):
        if not isinstance(flow, Mapping):
            return None
        module, data = flow.get("module"), flow.get("data") or {}
        if module in ("user", "device") and isinstance(data, Mapping) and data.get("id"):
            return {f"{module}_id": str(data["id"])}
        if endpoints and module in ("ring_group", "page_group") and isinstance(data, Mapping):
            return first_endpoint(data.get("endpoints"))
        flow = (flow.get("children") or {}).get("_")
    return None


def first_endpoint(endpoints: Any) -> dict[str, str] | None:
    first = endpoints[0] if isinstance(endpoints, list) and endpoints else None
    if not isinstance(first, Mapping) or first.get("endpoint_type") not in ENDPOINT_KINDS or not first.get("id"):
        return None
    return {f"{first['endpoint_type']}_id": str(first["id"])}
