"""Ringing endpoints, shared by the `user`, `device` (and `ring_group`) modules.

Dial strings: a device registered to FreeSWITCH (`sip.invite_format` `username`, Kazoo's
default) is dialled through FreeSWITCH's user directory, `user/<username>@<realm>`; a device with
a static `sip.route` is dialled through the configured SIP profile, `sofia/<profile>/<uri>`.
Each leg carries `leg_timeout` and `leg_delay_start`; legs are joined with `,` (ring all at once)
or `|` (one after the other).

The bridge runs with `continue_on_fail=true` so the flow can go on (to voicemail) after a failed
bridge, and `hangup_after_bridge=true` so an answered call ends with its bridge. A failed bridge's
Application-Response is `_none_` even when it failed (see the captures): the outcome is read from
CHANNEL_BRIDGE (the call's `bridged` flag) and the failure variables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from controller.call import Call
from controller.esl.safety import multiset, one_line

SEPARATORS = {"simultaneous": ",", "single": "|"}
FAILURE_VARIABLES = (
    "variable_originate_failed_cause",
    "variable_originate_disposition",
    "variable_DIALSTATUS",
    "variable_last_bridge_hangup_cause",
)
# Kazoo names a leg timeout NO_ANSWER; FreeSWITCH reports ALLOTTED_TIMEOUT (see the captures).
ALIASES = {"ALLOTTED_TIMEOUT": ("NO_ANSWER",), "NO_USER_RESPONSE": ("NO_ANSWER",)}


@dataclasses.dataclass(frozen=True)
class Leg:
    target: str  # e.g. user/1001@office.example.com
    timeout: int
    delay: int = 0

    def dial(self) -> str:
        options = [f"leg_timeout={self.timeout}"]
        if self.delay:
            options.append(f"leg_delay_start={self.delay}")
        return "[" + ",".join(options) + "]" + self.target


def device_target(device: Mapping[str, Any], realm: str, route_profile: str) -> str | None:
    """The FreeSWITCH endpoint of a device, or None when it cannot be dialled."""
    sip = device.get("sip") or {}
    if sip.get("invite_format") == "route":
        route = str(sip.get("route") or "")
        uri = route.removeprefix("sip:").removeprefix("sips:")
        return one_line(f"sofia/{route_profile}/{uri}") if uri else None
    username = sip.get("username")
    if not username:
        return None
    return one_line(f"user/{username}@{realm or '${domain_name}'}")


def dial_string(legs: Iterable[Leg], strategy: str = "simultaneous") -> str:
    return SEPARATORS.get(strategy, ",").join(leg.dial() for leg in legs)


def is_calling_device(call: Call, device: Mapping[str, Any]) -> bool:
    """Whether this device is the one placing the call (for `can_call_self: false`)."""
    if not call.is_internal:
        return False
    caller = call.variable("sip_auth_username") or call.variable("sip_from_user")
    return bool(caller) and caller == (device.get("sip") or {}).get("username")


def owned_by(devices: Iterable[Mapping[str, Any]], user_id: str) -> list[Mapping[str, Any]]:
    """The enabled devices of a user."""
    return [d for d in devices if d.get("owner_id") == user_id and d.get("enabled", True) is not False]


def legs_for(
    call: Call, realm: str, devices: Iterable[Mapping[str, Any]], data: Mapping[str, Any]
) -> list[Leg]:
    """One leg per dialable device, honouring `timeout`, `delay` and `can_call_self`."""
    profile = call.services.settings.route_profile
    timeout, delay = int(data.get("timeout", 20)), int(data.get("delay", 0))
    legs = []
    for device in devices:
        if not data.get("can_call_self", False) and is_calling_device(call, device):
            continue
        target = device_target(device, realm, profile)
        if target is not None:
            legs.append(Leg(target, timeout, delay))
    return legs


def failure_keys(event: Mapping[str, str]) -> tuple[str, ...]:
    """Child keys to try after a failed bridge: the cause (and Kazoo's name for it), then the
    SIP code; the executor falls back to `_`."""
    cause = next((event[name] for name in FAILURE_VARIABLES if event.get(name) not in (None, "", "failure")), "")
    keys = [cause, *ALIASES.get(cause, ())] if cause else []
    code = event.get("variable_sip_invite_failure_status") or event.get("variable_sip_term_status")
    if code:
        keys.append(code)
    return tuple(keys)


def bridge(call: Call, legs: list[Leg], strategy: str = "simultaneous") -> tuple[str, ...] | None:
    """Ring the legs. None when the call was bridged (the flow stops: the call ends with the
    bridge); otherwise the failure child keys."""
    setup = multiset({"continue_on_fail": "true", "hangup_after_bridge": "true"})
    event = call.channel.execute_all([setup, ("bridge", dial_string(legs, strategy))], None)
    if call.state.bridged:
        return None
    keys = failure_keys(event)
    call.state.bridge_failure = keys[0] if keys else "NO_ANSWER"
    return keys
