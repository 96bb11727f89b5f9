"""mod_conference as the simulator plays it: the `conference <room>@<profile>[+flags{...}]`
application keeps the caller in the room until they hang up or are kicked (the app then
completes; a kicked caller's channel stays up, as mod_conference leaves it), refusing a caller
past `conference_max_members`; the `conference <room> json_list` API answers in FreeSWITCH's
JSON (conference_json_list: `members` with `id`, `uuid`, `caller_id_name`, `caller_id_number`,
`join_time` and `flags` {`can_hear`, `can_speak`, `is_moderator`}), and `conference <room>
mute|unmute|deaf|undeaf|kick <member id>` act on a member (`+OK mute 1`, `+OK kicked 1`:
conference_api.c), a room that does not exist answering `-ERR Conference <room> not found`.

Calls that share one Rooms (a Scenario's `rooms`) meet in the same rooms, as on one FreeSWITCH.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import time
from typing import TYPE_CHECKING

import gevent
from gevent.event import Event

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall

_ARGUMENT = re.compile(r"^([^@+]+)(?:@[^+]*)?(?:\+flags\{([^}]*)\})?$")
ACTIONS = {"mute": ("can_speak", False), "unmute": ("can_speak", True),
           "deaf": ("can_hear", False), "undeaf": ("can_hear", True)}


@dataclasses.dataclass
class Member:
    id: int
    call: SimulatedCall
    flags: dict[str, bool]
    joined: float = dataclasses.field(default_factory=time.time)
    kicked: Event = dataclasses.field(default_factory=Event)

    def json(self) -> dict[str, object]:
        values = self.call.channel.values
        return {"type": "caller", "id": self.id, "flags": self.flags, "uuid": self.call.uuid,
                "caller_id_name": values.get("Caller-Caller-ID-Name", ""),
                "caller_id_number": values.get("Caller-Caller-ID-Number", ""),
                "join_time": int(time.time() - self.joined)}


class Rooms:
    """Every conference of one simulated FreeSWITCH: room -> its members."""

    def __init__(self) -> None:
        self.rooms: dict[str, list[Member]] = {}
        self._ids = itertools.count(1)

    def join(self, call: SimulatedCall, arg: str) -> str:
        found = _ARGUMENT.match(arg.strip())
        if found is None:
            return "_none_"
        name, flags = found.group(1), set((found.group(2) or "").split("|"))
        members = self.rooms.setdefault(name, [])
        limit = call.channel.variable("conference_max_members") or ""
        if limit.isdigit() and len(members) >= int(limit):
            return "_none_"
        member = Member(next(self._ids), call, {"can_hear": "deaf" not in flags, "can_speak": "mute" not in flags,
                                                 "is_moderator": "moderator" in flags})
        members.append(member)
        gevent.wait([call.hungup, member.kicked], count=1)
        members.remove(member)
        if not members:
            del self.rooms[name]
        return "_none_"

    def api(self, args: list[str]) -> str:
        """`conference <room> json_list` and the member actions."""
        if len(args) < 2:
            return "-ERR usage\n"
        members = self.rooms.get(args[0])
        if members is None:
            return f"-ERR Conference {args[0]} not found\n"
        if args[1] == "json_list":
            return json.dumps([{"conference_name": args[0], "member_count": len(members),
                                "members": [m.json() for m in members]}])
        target = next((m for m in members if len(args) > 2 and str(m.id) == args[2]), None)
        if target is None:
            return f"-ERR Non-Existant ID {args[2] if len(args) > 2 else ''}\n"
        if args[1] == "kick":
            target.kicked.set()
            return f"+OK kicked {target.id}\n"
        elif args[1] in ACTIONS:
            flag, value = ACTIONS[args[1]]
            target.flags[flag] = value
        else:
            return f"-ERR {args[1]} Command not found!\n"
        return f"+OK {args[1]} {target.id}\n"


def conference(call: SimulatedCall, arg: str) -> str:
    return call.scenario.rooms.join(call, arg)
