"""park — park a call in a numbered slot and pick it up from another phone (Kazoo's cf_park), on
FreeSWITCH's mod_valet_parking.

Data: `action` (`park`, the default, and `direct_park`: the call running the node waits in the
slot; `retrieve`: the caller is connected to the call in the slot; `auto`: retrieve when the slot
holds a call, else park), `slot` (a static slot; the callflow's capture group comes first, as
`*3(\\d+)` gives it; none: the lowest free slot from 101, said to the caller),
`default_ringback_timeout` (ms, Kazoo's 120000) and `default_callback_timeout` (ms, 30000),
`slots` (per slot `ringback_timeout`, `callback_timeout`), `max_slot_number` (a higher slot takes
the `MAX_SLOT_EXCEEDED` child, else `_`).

Parking is FreeSWITCH's `valet_park <lot> <slot>`, the account's own lot (parking.py); the
caller hears a beep every five seconds until another phone runs `valet_park` on the same slot, which
bridges the two (mod_valet_parking's uuid_bridge). When the call was parked by a phone of the
account (a blind transfer's `Referred-By`, as Kazoo finds the parker), FreeSWITCH gives it back
after the ringback timeout (`valet_parking_timeout`) and the parker's device rings for the
callback timeout; answered, the call is theirs; not answered, the child named after the slot is
taken when there is one, else the call is parked again. A slot that holds a call already is
refused with Kazoo's prompt (`park/park-already_in_use.wav`), an empty one to retrieve from with
`park/park-no_caller.wav` (files of FreeSWITCH's sound folder; a missing one is skipped).
Once bridged, the node waits for the call to end: the flow stops there.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from controller.call import Call
from controller.esl.safety import multiset
from controller.flow import Next
from controller.modules import bridging, parking

log = logging.getLogger(__name__)

RINGBACK_MS = 120_000  # Kazoo's default_ringback_timeout
CALLBACK_MS = 30_000  # Kazoo's default_callback_timeout
ROUNDS = 20  # parked again at most this many times after an unanswered ringback
BRIDGE_WAIT = 1.0  # seconds for CHANNEL_BRIDGE once valet_park returned
CALL_LENGTH = 86_400.0  # how long a bridged call may last while the node waits for its end
# What a parked caller hears: a short beep every five seconds. mod_valet_parking otherwise plays
# the channel's hold_music (vanilla: local_stream://moh), and where that stream does not exist
# its playback fails at once and valet_park retries it in a loop that logs an error each time
# (seen on a real FreeSWITCH without music on hold).
HOLD_MUSIC = "tone_stream://%(200,4800,440);loops=-1"
ALREADY_IN_USE = "park/park-already_in_use.wav"
NO_CALLER = "park/park-no_caller.wav"
PLACED_IN_SPOT = "park/park-call_placed_in_spot.wav"
_REFERRED_USER = re.compile(r"sip:([^@;>]+)@")


def handle(data: dict[str, Any], call: Call) -> Next:
    lot = parking.lot(call.account_id)
    taken = parking.parked(call.channel.api(f"valet_info {lot}"))
    requested = call.capture_group if parking.is_slot(call.capture_group) else data.get("slot")
    slot = str(requested) if parking.is_slot(requested) else ""
    action = data.get("action", "park")
    if action in ("retrieve", "auto") and slot in taken:
        return retrieve(call, lot, slot)
    if action == "retrieve":
        call.channel.execute_all([("answer", ""), ("playback", NO_CALLER)])
        return None
    if slot in taken:
        call.channel.execute_all([("answer", ""), ("playback", ALREADY_IN_USE)])
        return None
    announce = not slot
    slot = slot or str(parking.free_slot(taken))
    maximum = data.get("max_slot_number")
    if isinstance(maximum, int) and int(slot) > maximum:
        return ("MAX_SLOT_EXCEEDED",)
    return park(call, data, lot, slot, announce)


def retrieve(call: Call, lot: str, slot: str) -> Next:
    """FreeSWITCH bridges the parked call to this one and valet_park returns at once."""
    setup = multiset({"hangup_after_bridge": "true"})
    call.channel.execute_all([setup, ("answer", ""), ("valet_park", f"{lot} {slot}")])
    call.channel.wait_gone(CALL_LENGTH)
    return None


def park(call: Call, data: dict[str, Any], lot: str, slot: str, announce: bool) -> Next:
    parker = parker_target(call)
    ringback = milliseconds(data, slot, "ringback_timeout", "default_ringback_timeout", RINGBACK_MS)
    callback = milliseconds(data, slot, "callback_timeout", "default_callback_timeout", CALLBACK_MS)
    steps = [("answer", "")]
    if announce:
        steps += [("playback", PLACED_IN_SPOT), ("say", f"en number pronounced {slot}")]
    call.channel.execute_all(steps)
    for _ in range(ROUNDS):
        if hold(call, lot, slot, ringback if parker else 0):
            return None
        if not parker:
            continue
        failed = bridging.bridge(call, [bridging.Leg(parker, max(1, callback // 1000))])
        if failed is None:
            return None
        if slot in call.children:
            return slot
    log.info("call %s: parked %d times in slot %s, giving up", call.uuid, ROUNDS, slot)
    return None


def hold(call: Call, lot: str, slot: str, ringback_ms: int) -> bool:
    """Park in the slot until retrieved (True: bridged, and now ended) or, with a ringback
    timeout, until FreeSWITCH gives the call back (False)."""
    variables = {"hangup_after_bridge": "true", "valet_hold_music": HOLD_MUSIC,
                 "valet_parking_timeout": str(max(1, ringback_ms // 1000))}
    if not ringback_ms:
        variables["valet_parking_timeout"] = ""  # (an empty value unsets it: no timeout)
    call.channel.execute_all([multiset(variables), ("valet_park", f"{lot} {slot}")])
    # Retrieved: mod_valet_parking's uuid_bridge ended the app and CHANNEL_BRIDGE follows at
    # once; given back after the timeout (or left with #): no bridge comes.
    deadline = time.monotonic() + BRIDGE_WAIT
    while not call.state.bridged and time.monotonic() < deadline:
        if call.channel.wait_gone(0.02):
            return True
    if call.state.bridged:
        call.channel.wait_gone(CALL_LENGTH)
        return True
    return False


def milliseconds(data: dict[str, Any], slot: str, key: str, default_key: str, default: int) -> int:
    """A slot's own setting, else the node's default, else Kazoo's."""
    own = ((data.get("slots") or {}).get(slot) or {}).get(key)
    value = own if isinstance(own, int) else data.get(default_key, default)
    return value if isinstance(value, int) and value > 0 else default


def parker_target(call: Call) -> str | None:
    """The dial string of the account's device that parked the call: the SIP user of the
    Referred-By (Kazoo's maybe_get_ringback_id): sofia leaves a blind transfer's header as
    `sip_h_Referred-By` on the transferred call, and the user of an INVITE's own Referred-By as
    `sip_referred_by_user`. None when unknown."""
    found = _REFERRED_USER.search(call.variable("sip_h_Referred-By"))
    username = found.group(1) if found else call.variable("sip_referred_by_user")
    if not username:
        return None
    device = call.services.calling_device(call.account_id, username)
    if device is None or not bridging.is_enabled(device):
        return None
    realm = str(call.services.account(call.account_id).get("realm") or "")
    return bridging.device_target(device, realm, call.services.settings.route_profile)
