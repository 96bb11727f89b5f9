"""page_group — call several phones at once, answered by themselves, to speak to all of them
(Kazoo's cf_page_group).

Data: `endpoints` (users, devices and groups, as `ring_group`'s), `audio` (`one-way`, the
default: the members only listen; `two-way`: they can answer back), `timeout` (seconds each phone
is given to answer, 5), `barge_calls` (whether a phone on another call is asked to answer
anyway).

As Kazoo's ecallmgr pages, on FreeSWITCH's mod_conference: the caller is answered and joins a
conference of their own (`page_<call uuid>`, the vanilla `default` profile, flag `endconf`), which
dials every member's device at once (`conference_set_auto_outcall`) with the auto-answer headers
(`paging`), the caller's ID, and with `audio` one-way the members joining muted
(`conference_utils_auto_outcall_flags=mute`). A user stands for their enabled devices, a group for
its members'; the calling device itself is left out; a device reached twice is dialled once.
When the caller hangs up the conference ends and every phone is hung up. The flow stops there;
nothing to dial continues to `_` at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import multiset, one_line
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging, paging, pickup, ring_group

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5  # Kazoo's page timeout, in seconds
PROFILE = "sla"  # vanilla: no caller controls (a member cannot unmute), no sounds, no music on hold
CALL_LENGTH = 86_400.0


def handle(data: dict[str, Any], call: Call) -> Next:
    dials = targets(call, data)
    if not dials:
        log.info("call %s: page group has no device to call", call.uuid)
        return DEFAULT_CHILD
    if not pickup.UUID.fullmatch(call.uuid):
        raise ValueError("the call's uuid is not FreeSWITCH's")
    room = f"page_{call.uuid}"
    options = "{" + ",".join(f"{k}={v}" for k, v in paging.auto_answer(data).items()) + "}"
    variables = {
        "conference_auto_outcall_timeout": str(int(data.get("timeout", DEFAULT_TIMEOUT))),
        "conference_auto_outcall_delimiter": "|",
        "conference_auto_outcall_skip_member_beep": "true",
        "conference_utils_auto_outcall_flags": "" if data.get("audio") == "two-way" else "mute",
        "conference_auto_outcall_caller_id_name": call.caller_id_name,
        "conference_auto_outcall_caller_id_number": call.caller_id_number,
    }
    outcall = "|".join(options + dial for dial in dials)
    call.channel.execute_all([multiset(variables), ("conference_set_auto_outcall", one_line(outcall)),
                              ("answer", ""), ("conference", f"{room}@{PROFILE}+flags{{endconf}}")], CALL_LENGTH)
    return None


def targets(call: Call, data: Mapping[str, Any]) -> list[str]:
    """The dial string of each member device, once each, the caller's own left out."""
    account, users, devices, groups = call.services.group_context(call.account_id)
    realm, profile = str(account.get("realm") or ""), call.services.settings.route_profile
    caller = bridging.calling_username(call)
    found: dict[str, str] = {}
    for endpoint in (m for e in data.get("endpoints") or [] for m in ring_group.members(e, groups)):
        eid = str(endpoint.get("id", ""))
        chosen: list[Mapping[str, Any]] = []
        if endpoint.get("endpoint_type") == "user" and bridging.is_enabled(users.get(eid)):
            chosen = bridging.owned_by(devices.values(), eid)
        elif endpoint.get("endpoint_type", "device") == "device" and bridging.is_enabled(devices.get(eid)):
            chosen = [devices[eid]]
        for device in (d for d in chosen if not bridging.is_device_of(caller, d)):
            target = bridging.device_target(device, realm, profile)
            if target is not None:
                found.setdefault(str(device.get("id")), target)
    return list(found.values())
