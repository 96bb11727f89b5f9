"""The channels of one simulated FreeSWITCH that other calls can reach: what `show channels as
json` lists, and what `intercept` and `eavesdrop` act on (mod_dptools).

A bridge registers its callee's leg while it rings (callstate RINGING) and once it is answered
(ACTIVE), with the `presence_id` FreeSWITCH's user endpoint gives it (`<user>@<domain>` of a
`user/...` dial string) and its `call_uuid`, the caller's leg; a real FreeSWITCH lists the same
columns (seen on one with a SIPp phone ringing). Calls given the same Switchboard (a Scenario's
`switchboard`) see each other's legs, as on one FreeSWITCH.

- `intercept <uuid>` of a caller whose leg rings: the ringing leg is hung up with PICKED_OFF, the
  caller's bridge fails with that cause (`Originate Failed. Cause: PICKED_OFF`), and the two
  calls are bridged (CHANNEL_ANSWER and CHANNEL_BRIDGE on each) until one hangs up. Of a caller
  whose leg was answered (unless the interceptor set `intercept_unanswered_only`): that leg is
  hung up with PICKED_OFF, the caller's bridge returns with `bridge_hangup_cause` PICKED_OFF,
  and the two calls are bridged the same way (both seen on a real FreeSWITCH). Any other uuid:
  nothing happens.
- `eavesdrop <uuid>` of an answered leg: the eavesdropper listens until it or the call hangs up;
  of anything else it returns at once.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING

import gevent
from gevent.event import AsyncResult

if TYPE_CHECKING:
    from controller.lab.channel import Channel
    from controller.lab.simulator import SimulatedCall

_USER = re.compile(r"user/([^@,|\s\[\]{}]+)@([^,|\s\[\]{}]+)")


@dataclasses.dataclass
class Leg:
    """A callee's leg of one call's bridge; `picked` gets the call that intercepted it."""

    call: SimulatedCall
    channel: Channel
    presence_id: str
    callstate: str = "RINGING"
    picked: AsyncResult = dataclasses.field(default_factory=AsyncResult)

    def row(self) -> dict[str, str]:
        values = self.channel.values
        return {"uuid": self.channel.uuid, "direction": "outbound", "name": values.get("Channel-Name", ""),
                "created_epoch": str(self.channel.times.created // 1_000_000) if self.channel.times else "",
                "dest": values.get("Caller-Destination-Number", ""), "presence_id": self.presence_id,
                "callstate": self.callstate, "call_uuid": self.call.uuid}


class Switchboard:
    def __init__(self) -> None:
        self.legs: dict[str, Leg] = {}

    def add(self, call: SimulatedCall, channel: Channel, dial: str) -> Leg:
        found = _USER.search(dial)
        presence = f"{found.group(1)}@{found.group(2)}" if found else ""
        leg = Leg(call, channel, presence)
        self.legs[channel.uuid] = leg
        return leg

    def remove(self, leg: Leg) -> None:
        self.legs.pop(leg.channel.uuid, None)

    def channels_json(self) -> str:
        rows = [leg.row() for leg in list(self.legs.values()) if not leg.call.hungup.is_set()]
        return json.dumps({"row_count": len(rows), "rows": rows}) if rows else json.dumps({"row_count": 0})

    def leg_of(self, caller_uuid: str, answered_too: bool) -> Leg | None:
        """The leg the caller's bridge rings (or talks on, `answered_too`), not taken yet."""
        states = ("RINGING", "ACTIVE") if answered_too else ("RINGING",)
        return next((leg for leg in self.legs.values()
                     if leg.call.uuid == caller_uuid and leg.callstate in states and not leg.picked.ready()), None)

    def channel_of(self, uuid: str) -> Channel | None:
        """A live channel the board knows by uuid: a bridge's leg, or the call that rings it."""
        for leg in list(self.legs.values()):
            if leg.call.hungup.is_set():
                continue
            if leg.channel.uuid == uuid:
                return leg.channel
            if leg.call.uuid == uuid:
                return leg.call.channel
        return None

    def answered(self, uuid: str) -> Leg | None:
        leg = self.legs.get(uuid)
        return leg if leg is not None and leg.callstate == "ACTIVE" and not leg.call.hungup.is_set() else None


def intercept(call: SimulatedCall, arg: str) -> str:
    words = arg.split()
    answered_too = call.channel.variable("intercept_unanswered_only") != "true"
    leg = call.scenario.switchboard.leg_of(words[-1] if words else "", answered_too)
    if leg is None:
        return "_none_"
    call.answer()
    leg.picked.set(call)
    call.emit("CHANNEL_BRIDGE", Other_Leg_Unique_ID=leg.call.uuid)
    return "_none_"


def together(first: SimulatedCall, second: SimulatedCall) -> None:
    """Two calls bridged: when either hangs up the other follows."""
    def wait() -> None:
        gevent.wait([first.hungup, second.hungup], count=1)
        for call in (first, second):
            call.hangup("NORMAL_CLEARING")
    first.later(0, wait)


def eavesdrop(call: SimulatedCall, arg: str) -> str:
    leg = call.scenario.switchboard.answered(arg.strip())
    if leg is None:
        return "_none_"
    gevent.wait([call.hungup, leg.call.hungup], count=1)
    return "_none_"
