"""Ringing endpoints: the dial string and the bridge, shared by `user`, `device` and `ring_group`.

Dial strings (FreeSWITCH's `bridge` syntax): a device registered to FreeSWITCH (`sip.invite_format`
`username`, Kazoo's default) is dialled through the user directory, `user/<username>@<realm>` (the
device's own `sip.realm`, else the account's); a device with a static `sip.route` goes out through
the configured SIP profile, `sofia/<route_profile>/<uri without sip:>`. Each leg carries
`[leg_timeout=N,leg_delay_start=D]` (and its own variables: a call forward's, see `forwarding`);
FreeSWITCH adds the delay to the leg's timeout. Legs are joined with `,` (ring at once,
`simultaneous`) or `|` (one after the other, `single`).

The bridge is preceded, in the same write, by one `multiset`: `continue_on_fail=true` (without it
FreeSWITCH hangs the caller up when the bridge fails, see the `missed_continue` capture),
`hangup_after_bridge=true` (an answered call ends with its bridge) and `call_timeout` (the whole
originate's limit, 60 s by default, raised to the longest leg's delay + timeout).

The outcome: the bridge's Application-Response is `_none_` even when it failed (captures), so
success is CHANNEL_BRIDGE (the call's `bridged` flag) and a failure is read from the variables on
the bridge's CHANNEL_EXECUTE_COMPLETE, turned into child keys as Kazoo's
`cf_util:handle_bridge_failure` does: the hangup cause, then the SIP code.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.call import Call, authenticated_username
from controller.callflows.matcher import ACCOUNT_VARIABLE
from controller.esl.safety import multiset, one_line

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20
SEPARATORS = {"simultaneous": ",", "single": "|"}
# Where FreeSWITCH leaves a failed bridge's cause, most specific first (see the captures).
CAUSE_VARIABLES = (
    "variable_originate_failed_cause",
    "variable_originate_disposition",
    "variable_DIALSTATUS",
    "variable_last_bridge_hangup_cause",
)
NOT_CAUSES = frozenset({"", "failure", "SUCCESS"})
# A leg_timeout expiry alone is ALLOTTED_TIMEOUT in FreeSWITCH (the call_timeout set below, as
# long as the longest leg, ends the originate first: NO_ANSWER); Kazoo calls both NO_ANSWER.
ALIASES = {"ALLOTTED_TIMEOUT": ("NO_ANSWER",)}
# The bridge's cause when another phone took the call (FreeSWITCH's `intercept`, see
# `group_pickup` and `intercept`): the caller is bridged there already and talks until one side
# hangs up (a real FreeSWITCH: the failed bridge's cause while it rang, `bridge_hangup_cause`
# once answered).
PICKED_OFF = "PICKED_OFF"
CALL_LENGTH = 86_400.0  # how long a picked-up call may last while the flow waits for its end
# Characters that separate legs or options in a dial string, or that FreeSWITCH's expander or
# argument splitter reads: never inside one target. `<`, `>` and `^` open per-leg variables and
# delimiters; `[` and `]` only at a leg's start, where no target begins (an IPv6 host needs them).
_DIAL_SYNTAX = frozenset(",|{}$\\'<>^")
# Enterprise originate's separator: what follows it is a new originate, whose leading `[...]` sets
# that leg's variables (an `execute_on_originate` among them: switch_ivr_originate.c).
_ENTERPRISE = ":_:"


@dataclasses.dataclass(frozen=True)
class Leg:
    """One endpoint to ring: its FreeSWITCH target and its own ringing options."""

    target: str  # e.g. user/1001@office.example.com
    timeout: int = DEFAULT_TIMEOUT
    delay: int = 0
    # Channel variables of this leg alone (a forward's account and confirmation): operator values
    # checked by `is_dialable`, never caller text.
    variables: tuple[tuple[str, str], ...] = ()

    def dial(self) -> str:
        options = [f"leg_timeout={self.timeout}"]
        if self.delay:
            options.append(f"leg_delay_start={self.delay}")
        options.extend(f"{name}={value}" for name, value in self.variables)
        return "[" + ",".join(options) + "]" + self.target

    @property
    def rings_until(self) -> int:
        """Seconds from the start of the bridge until this leg gives up."""
        return self.delay + self.timeout


def device_target(device: Mapping[str, Any], realm: str, route_profile: str) -> str | None:
    """The FreeSWITCH endpoint of a device, or None when it cannot be dialled."""
    sip = device.get("sip") or {}
    if sip.get("invite_format") == "route":
        uri = str(sip.get("route") or "").removeprefix("sips:").removeprefix("sip:")
        return f"sofia/{route_profile}/{uri}" if is_dialable(uri) else None
    username, domain = str(sip.get("username") or ""), str(sip.get("realm") or realm)
    if not is_dialable(username) or (domain and not is_dialable(domain)):
        return None
    return f"user/{username}@{domain or '${domain_name}'}"


def is_dialable(part: str) -> bool:
    """Whether text from a document can go into a dial string as it is: not empty, one word, no
    character that FreeSWITCH reads as a leg or option separator."""
    return (bool(part) and part.split() == [part] and not _DIAL_SYNTAX.intersection(part)
            and _ENTERPRISE not in part and not part.startswith("["))


def dial_string(legs: Iterable[Leg], strategy: str = "simultaneous", fail_on_single_reject: bool = False) -> str:
    """The `bridge` argument; `fail_on_single_reject` stops every leg when one rejects the call."""
    prefix = "{fail_on_single_reject=true}" if fail_on_single_reject else ""
    return one_line(prefix + SEPARATORS.get(strategy, ",").join(leg.dial() for leg in legs))


def calling_username(call: Call) -> str:
    """The SIP username of the account's own device placing the call ("" for inbound calls)."""
    if not call.is_internal:
        return ""
    return authenticated_username(call.variable)


def is_device_of(username: str, device: Mapping[str, Any]) -> bool:
    return bool(username) and username == (device.get("sip") or {}).get("username")


def is_enabled(doc: Mapping[str, Any] | None) -> bool:
    return doc is not None and doc.get("enabled", True) is not False


def owned_by(devices: Iterable[Mapping[str, Any]], user_id: str) -> list[Mapping[str, Any]]:
    """The enabled devices of a user (Kazoo's `kz_endpoints:by_owner_id`), hot desks included."""
    return [d for d in devices if user_id in owner_ids(d) and is_enabled(d)]


def owner_ids(device: Mapping[str, Any]) -> list[str]:
    """Whom a device rings for, as Kazoo's `attributes/owned` view says: the users logged in on
    it (`hotdesk.users`, see `hotdesk`), else its `owner_id`."""
    hotdesked = (device.get("hotdesk") or {}).get("users")
    if isinstance(hotdesked, Mapping) and hotdesked:
        return sorted(str(user_id) for user_id in hotdesked)
    owner = device.get("owner_id")
    return [str(owner)] if owner else []


def owner_of(device: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The first of the device's owners (`owner_ids`) found in `users`."""
    return next((users[u] for u in owner_ids(device) if u in users), None)


def is_do_not_disturb(*docs: Mapping[str, Any] | None) -> bool:
    """Kazoo's do_not_disturb as kz_endpoint merges it: on when the device's or its owner's
    `do_not_disturb.enabled` is true."""
    return any(isinstance((doc or {}).get("do_not_disturb"), Mapping)
               and (doc or {})["do_not_disturb"].get("enabled") is True for doc in docs)


def legs_for(
    devices: Iterable[Mapping[str, Any]],
    data: Mapping[str, Any],
    realm: str,
    route_profile: str,
    caller: str = "",
) -> list[Leg]:
    """One leg per dialable device with the node's `timeout` and `delay`; the calling device
    (`caller`, a SIP username) is left out unless `can_call_self`."""
    timeout, delay = int(data.get("timeout", DEFAULT_TIMEOUT)), int(data.get("delay", 0))
    skip = "" if data.get("can_call_self", False) else caller
    targets = (device_target(d, realm, route_profile) for d in devices if not is_device_of(skip, d))
    return [Leg(target, timeout, delay) for target in targets if target is not None]


def failure_cause(event: Mapping[str, str]) -> str:
    """The hangup cause of a failed bridge, "" when FreeSWITCH left none."""
    return next((event[n] for n in CAUSE_VARIABLES if event.get(n, "") not in NOT_CAUSES), "")


def failure_keys(event: Mapping[str, str]) -> tuple[str, ...]:
    """Child keys to try after a failed bridge: the cause (and Kazoo's name for it), then the
    SIP code (`sip_invite_failure_status`); the executor falls back to `_`."""
    cause = failure_cause(event)
    keys = [cause, *ALIASES.get(cause, ())] if cause else []
    code = event.get("variable_sip_invite_failure_status", "")
    if code:
        keys.append(code)
    return tuple(keys)


def bridge(
    call: Call,
    legs: Sequence[Leg],
    strategy: str = "simultaneous",
    fail_on_single_reject: bool = False,
    *,
    call_timeout: int | None = None,
    variables: Mapping[str, str] | None = None,
) -> tuple[str, ...] | None:
    """Ring the legs. None when the call was bridged (the flow stops: the call ends with the
    bridge); otherwise the failure's child keys. `call_timeout` limits the whole originate
    (default: until the last leg gives up); `variables` are set in the same `multiset`."""
    setup = multiset({
        "continue_on_fail": "true",
        "hangup_after_bridge": "true",
        "call_timeout": str(call_timeout or max(leg.rings_until for leg in legs)),
        # Whose call this is, for FreeSWITCH's other channels to ask: a pickup, an intercept or an
        # eavesdrop takes only the account's own calls (pickup.owned).
        ACCOUNT_VARIABLE: call.account_id,
        **(variables or {}),
    })
    arg = dial_string(legs, strategy, fail_on_single_reject)
    event = call.channel.execute_all([setup, ("bridge", arg)], None)
    # Taken by another phone while it rang (the bridge failed) or once answered (the callee's
    # leg was hung up): FreeSWITCH bridged the caller there already.
    if PICKED_OFF in (failure_cause(event), event.get("variable_bridge_hangup_cause")):
        log.info("call %s: picked up by another phone", call.uuid)
        call.channel.wait_gone(CALL_LENGTH)
        return None
    if call.state.bridged:
        return None
    call.state.bridge_failure = failure_cause(event) or "NO_ANSWER"
    log.info("call %s: bridge failed (%s)", call.uuid, call.state.bridge_failure)
    return failure_keys(event)
