"""mod_valet_parking as the simulator plays it: `valet_park <lot> <slot>` parks the channel (its
hold music until retrieved or hung up, or until `valet_parking_timeout` seconds pass), and
`valet_park` on a slot that holds a call bridges the two (mod_valet_parking's uuid_bridge: the
parked channel, the bridge's originator, gets CHANNEL_BRIDGE; the retriever's app returns at once;
when either hangs up the other follows, with hangup_after_bridge); `auto in <min> <max>` takes
the lowest free slot; the `valet_info [lot]` API lists what is parked, in FreeSWITCH's XML.

Calls that share one Lots (a Scenario's `lots`) park in the same lots, as on one FreeSWITCH.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import gevent
from gevent.event import Event

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall


@dataclasses.dataclass
class Parked:
    call: SimulatedCall
    retrieved: Event = dataclasses.field(default_factory=Event)


class Lots:
    """Every lot of one simulated FreeSWITCH: lot -> slot -> the parked call."""

    def __init__(self) -> None:
        self.lots: dict[str, dict[str, Parked]] = {}

    def held(self, lot: str) -> dict[str, Parked]:
        slots = self.lots.setdefault(lot, {})
        for slot in [s for s, p in slots.items() if p.call.hungup.is_set()]:
            del slots[slot]
        return slots

    def info(self, lot: str = "") -> str:
        lines = ["<lots>"]
        for name in sorted(self.lots):
            if lot and lot != name:
                continue
            lines.append(f'  <lot name="{name}">')
            lines += [f'    <extension uuid="{p.call.uuid}">{slot}</extension>' for slot, p in self.held(name).items()]
            lines.append("  </lot>")
        return "\n".join([*lines, "</lots>"]) + "\n"


def valet_park(call: SimulatedCall, arg: str) -> str:
    words = arg.split()
    if len(words) < 2:
        return "_none_"
    slots = call.scenario.lots.held(words[0])
    slot = words[1]
    if slot == "auto" and len(words) >= 5 and words[2] == "in":
        slot = next(str(n) for n in range(int(words[3]), int(words[4]) + 2) if str(n) not in slots)
    parked = slots.get(slot)
    if parked is not None and parked.call is not call:
        _bridge(parked, call)
        return "_none_"
    mine = Parked(call)
    slots[slot] = mine
    call.channel.set_variable("valet_lot_extension", slot)
    timeout = call.channel.variable("valet_parking_timeout")
    limit = call.scenario.scaled(int(timeout)) if timeout and timeout.isdigit() and int(timeout) > 0 else None
    gevent.wait([call.hungup, mine.retrieved], timeout=limit, count=1)
    if slots.get(slot) is mine:
        del slots[slot]
    return "_none_"


def _bridge(parked: Parked, retriever: SimulatedCall) -> None:
    held = parked.call
    held.emit("CHANNEL_BRIDGE", Other_Leg_Unique_ID=retriever.uuid)
    parked.retrieved.set()

    def together() -> None:
        gevent.wait([held.hungup, retriever.hungup], count=1)
        for call in (held, retriever):
            call.hangup("NORMAL_CLEARING")

    held.later(0, together)
