"""Finding voicemail boxes for the `voicemail` module: by the node's id, by the mailbox number a
callflow pattern captured or a caller typed, and the owner of the device placing the call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.modules import bridging


def find_box(call: Call, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The box the node names, or the one whose mailbox number the callflow pattern captured."""
    if data.get("id"):
        return call.services.vmboxes.find(call.account_id, str(data["id"]))
    if call.capture_group:
        return box_by_mailbox(call, call.capture_group)
    return None


def box_by_mailbox(call: Call, mailbox: str) -> dict[str, Any] | None:
    return next((b for b in call.services.vmboxes.all(call.account_id) if b.get("mailbox") == mailbox), None)


def boxes_of(call: Call, owner: str) -> list[dict[str, Any]]:
    return [b for b in call.services.vmboxes.all(call.account_id) if b.get("owner_id") == owner]


def caller_owner(call: Call) -> str | None:
    """The user who owns the device placing the call (None for inbound callers)."""
    username = bridging.calling_username(call)
    device = call.services.calling_device(call.account_id, username) if username else None
    return str(device["owner_id"]) if device and device.get("owner_id") else None
