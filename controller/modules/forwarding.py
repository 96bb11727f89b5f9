"""Call forwarding of users and devices: Kazoo's `call_forward`, as its kz_endpoint (v4) builds it,
for `user`, `device` and `ring_group`.

A device forwards by its own `call_forward` when that is enabled, else by its owner's laid over
its own (Kazoo's merge_attribute: the user's fields win). The fields, with the defaults of Kazoo's
schema (which Crossbar writes into every document it saves): `enabled` (false), `number`,
`substitute` (true: the forward rings instead of the device; false: beside it),
`require_keypress` (true), `keep_caller_id` (true), `ignore_early_media` (true),
`direct_calls_only` (false: true forwards only calls to the user or device itself, not those of
a ring group) and `failover` (false: true rings the number when the device cannot be reached,
whether or not forwarding is enabled).

The forward is a leg to FreeSWITCH's loopback endpoint in the controller's dialplan context,
`loopback/<number>/controller`: the number runs the account's own callflows (typically the
`no_match` one that sends it to a carrier) as a call of the forwarding device, as Kazoo marks it
with the device's Authorizing-ID. mod_loopback gives the call it starts the leg's variables
(mod_loopback.c, `__loopback_vars__`):

- `controller_account_id`, and `sip_authorized`/`sip_auth_username` of the device: the account's
  internal caller (its `no_match` callflow may place the call);
- `controller_retain_cid` with `keep_caller_id`: `offnet` keeps the caller's own ID instead of the
  account's;
- `ignore_early_media` (with `require_keypress`, without `substitute`, or with the field): a cell
  phone's network announcements do not reach the caller as if answered;
- with `require_keypress`, FreeSWITCH's `group_confirm_key` (Kazoo's key, 1), `group_confirm_file`
  (its "to accept, press one" prompt), `group_confirm_read_timeout` (Kazoo's 7 s) and
  `group_confirm_cancel_timeout`. mod_loopback drops `group_confirm_*` from its own leg and the
  bridge of the call it started copies them from its caller (switch_ivr_originate.c), so the
  prompt plays to the forwarded callee where that call is placed, and the bridge completes only
  when they press the key: a voicemail that answers presses nothing and the leg rings out (the
  key must come before the ringing timeout of the user or device).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from controller.call import Call
from controller.modules import bridging
from controller.modules.bridging import DEFAULT_TIMEOUT, Leg

log = logging.getLogger(__name__)

Doc = Mapping[str, Any]

DEFAULTS: dict[str, bool] = {
    "enabled": False,
    "substitute": True,
    "require_keypress": True,
    "keep_caller_id": True,
    "ignore_early_media": True,
    "direct_calls_only": False,
    "failover": False,
}
CONTEXT = "controller"  # conf/freeswitch/dialplan/controller.xml
CONFIRM_KEY = "1"
CONFIRM_FILE = "ivr/ivr-to_accept_press_one.wav"  # FreeSWITCH's sound, under its sound_prefix
CONFIRM_READ_MS = 7000
# Sources whose calls are not direct: a `direct_calls_only` forward ignores them (Kazoo's
# NON_DIRECT_MODULES).
NOT_DIRECT = frozenset({"ring_group"})
_NUMBER = re.compile(r"\+?[0-9]{1,35}")
# What may stand as a value of the leg's `[...]` variables (the schemas' own patterns): nothing
# FreeSWITCH reads as syntax there (`,` `]` `=` `$` `\` `'`), and no caller text.
_ACCOUNT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_USERNAME = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
# How FreeSWITCH's user endpoint fails for a phone that is not registered.
UNREACHABLE = frozenset({"USER_NOT_REGISTERED"})


def settings(device: Doc, owner: Doc | None) -> dict[str, Any]:
    """A device's forwarding: its own when enabled, else its owner's over its own, with
    Kazoo's defaults for what neither says."""
    own = _object(device.get("call_forward"))
    if own.get("enabled") is not True:
        own = {**own, **_object((owner or {}).get("call_forward"))}
    return {**DEFAULTS, **own}


def _object(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def number(forward: Mapping[str, Any]) -> str:
    """The number to forward to, "" when it is missing or not a telephone number."""
    found = str(forward.get("number") or "").strip()
    return found if _NUMBER.fullmatch(found) else ""


def is_active(forward: Mapping[str, Any], source: str) -> bool:
    """Kazoo's is_call_forward_enabled: enabled with a number, unless the call comes through a
    ring group and the forward takes direct calls only."""
    return (forward.get("enabled") is True and bool(number(forward))
            and not (forward.get("direct_calls_only") is True and source in NOT_DIRECT))


def replaces_device(forward: Mapping[str, Any], source: str) -> bool:
    """Whether the device itself is not rung: an active forward with `substitute`."""
    return is_active(forward, source) and forward.get("substitute") is not False


def leg(forward: Mapping[str, Any], device: Doc, account_id: str, timing: tuple[int, int]) -> Leg | None:
    """The loopback leg ringing the forward number, None when it has no usable number."""
    dialled = number(forward)
    if not dialled or not _ACCOUNT.fullmatch(account_id):
        return None
    variables = [("controller_account_id", account_id)]
    username = str((device.get("sip") or {}).get("username") or "")
    if _USERNAME.fullmatch(username):
        variables += [("sip_authorized", "true"), ("sip_auth_username", username)]
    if forward.get("keep_caller_id") is not False:
        variables.append(("controller_retain_cid", "true"))
    confirm = forward.get("require_keypress") is not False
    if confirm or forward.get("substitute") is False or forward.get("ignore_early_media") is not False:
        variables.append(("ignore_early_media", "true"))
    if confirm:
        variables += [("group_confirm_key", CONFIRM_KEY), ("group_confirm_file", CONFIRM_FILE),
                      ("group_confirm_read_timeout", str(CONFIRM_READ_MS)),
                      ("group_confirm_cancel_timeout", "true")]
    return Leg(f"loopback/{dialled}/{CONTEXT}", timing[0], timing[1], tuple(variables))


def failover_leg(forward: Mapping[str, Any], device: Doc, account_id: str, timing: tuple[int, int]) -> Leg | None:
    """The leg that replaces a device that cannot be reached (`failover`), else None."""
    if forward.get("failover") is not True:
        return None
    return leg(forward, device, account_id, timing)


@dataclasses.dataclass
class Plan:
    """What one ringing step dials: its legs, and the legs that replace unreachable devices."""

    account_id: str
    source: str  # the callflow module ringing: `user`, `device`, `ring_group`
    legs: list[Leg] = dataclasses.field(default_factory=list)
    failovers: list[Leg] = dataclasses.field(default_factory=list)

    def add(self, device: Doc, owner: Doc | None, target: str | None, timing: tuple[int, int]) -> None:
        """One device (`target`: its own endpoint, None when it cannot be dialled), rung with
        its forward, instead of it, or alone; not at all while do not disturb is on (Kazoo's
        kz_endpoint builds no endpoint, forward included)."""
        if bridging.is_do_not_disturb(device, owner):
            log.info("device %r: do not disturb", device.get("id"))
            return
        forward = settings(device, owner)
        active = is_active(forward, self.source)
        if active:
            _append(self.legs, leg(forward, device, self.account_id, timing))
        if target is not None and not replaces_device(forward, self.source):
            _append(self.legs, Leg(target, *timing))
            if not active:
                _append(self.failovers, failover_leg(forward, device, self.account_id, timing))


def plan(call: Call, devices: Iterable[Doc], owners: Mapping[str, Doc], data: Mapping[str, Any],
         *, realm: str, source: str) -> Plan:
    """The legs of a `user` or `device` node: each device with the node's `timeout` and
    `delay`, and its forward; the calling device (and so its forward) is left out unless
    `can_call_self`."""
    profile = call.services.settings.route_profile
    caller = "" if data.get("can_call_self", False) else bridging.calling_username(call)
    timing = (int(data.get("timeout", DEFAULT_TIMEOUT)), int(data.get("delay", 0)))
    found = Plan(call.account_id, source)
    for device in devices:
        if not bridging.is_device_of(caller, device):
            owner = bridging.owner_of(device, owners)
            found.add(device, owner, bridging.device_target(device, realm, profile), timing)
    return found


def _append(legs: list[Leg], found: Leg | None) -> None:
    """Add a leg unless a leg to the same target is there already (the first one wins)."""
    if found is not None and all(known.target != found.target for known in legs):
        legs.append(found)


def ring(call: Call, planned: Plan, strategy: str, fail_on_single_reject: bool, *,
         call_timeout: int | None = None, variables: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
    """Ring the planned legs (`bridging.bridge`); when they failed because a device is not
    registered, ring the failover legs (Kazoo dials a device's failover in its place)."""
    options: dict[str, Any] = {"call_timeout": call_timeout, "variables": variables}
    failure = bridging.bridge(call, planned.legs, strategy, fail_on_single_reject, **options)
    if failure is not None and planned.failovers and call.state.bridge_failure in UNREACHABLE:
        log.info("call %s: device not reachable, ringing its forward", call.uuid)
        failure = bridging.bridge(call, planned.failovers, strategy, fail_on_single_reject, **options)
    return failure
