"""A simulated channel's data as FreeSWITCH serialises it in every event: the channel headers
(`Unique-ID`, `Caller-Caller-ID-Name`, `Answer-State`...) and the `variable_*` block, taken from
the connect reply of the answer capture (controller/lab/templates.json) with the call's own
uuid, caller, destination, times and SIP variables substituted. Lines are URL-encoded once and
reused by every event until a value changes. What a channel gains later (media, the call
report) is controller/lab/report.py; the callee's leg of a bridge, controller/lab/callee.py."""

from __future__ import annotations

import functools
import itertools
import time
import uuid as uuids
from collections.abc import Iterable

from controller.lab import render, report, templates
from controller.lab.scenario import Scenario

_SEQUENCE = itertools.count(1000)
PROFILE_FIELDS = {
    "caller_id_name": "Caller-Caller-ID-Name", "caller_id_number": "Caller-Caller-ID-Number",
    "destination_number": "Caller-Destination-Number", "ani": "Caller-ANI", "username": "Caller-Username",
    "network_addr": "Caller-Network-Addr", "context": "Caller-Context", "dialplan": "Caller-Dialplan",
    "chan_name": "Caller-Channel-Name", "callee_id_name": "Caller-Callee-ID-Name",
    "callee_id_number": "Caller-Callee-ID-Number",
}  # Event-Sequence is switch-wide in FreeSWITCH as well


class Channel:
    """One leg's headers and variables, ready to be rendered into events."""

    def __init__(self, values: dict[str, str], variables: dict[str, str]) -> None:
        self.uuid = values["Unique-ID"]
        self.times = report.Times.now()
        self.values = values
        self.variables: dict[str, str] = {}
        self._value_lines = {name: render.line(name, value) for name, value in values.items()}
        self._variable_lines: dict[str, bytes] = {}
        self._variables_block: bytes | None = None
        self.set_variables(variables)
        self.dialplan_variables: frozenset[str] = frozenset()  # set after CHANNEL_CREATE

    @classmethod
    def inbound(cls, scenario: Scenario, call_uuid: str | None = None) -> Channel:
        """The caller's leg, as sofia creates it for a call from 127.0.0.1:5070."""
        call_uuid = call_uuid or str(uuids.uuid4())
        user = scenario.internal_user or scenario.caller_number
        channel = f"sofia/lab/{user}@127.0.0.1:5070"
        values = _identity(call_uuid, channel, scenario.caller_name, scenario.caller_number, user)
        values["Caller-Destination-Number"] = scenario.destination
        leg = cls(values, {})
        created = str(leg.times.created)  # the connect reply says Channel-..., events Caller-...
        leg.set_headers({f"{prefix}-{name}": created for prefix in ("Caller", "Channel")
                         for name in ("Profile-Created-Time", "Channel-Created-Time")})
        # The captured variables, already encoded, then the call's own on top (a thousand calls a
        # second each build one of these).
        template, lines = _template_variables()
        leg.variables, leg._variable_lines = dict(template), dict(lines)
        own = _caller_variables(scenario, call_uuid, user)
        leg.set_variables(own)
        dialplan = {f"variable_{name}" for name in templates.load()["dialplan_variables"]}
        leg.dialplan_variables = frozenset(dialplan | {name for name in own if name not in template})
        return leg

    # --- values -------------------------------------------------------------------------------

    def set_values(self, **values: str) -> None:
        """Change channel headers (keyword names use `_` for `-`: Answer_State)."""
        self.set_headers({key.replace("_", "-"): value for key, value in values.items()})

    def set_headers(self, headers: dict[str, str]) -> None:
        for name, value in headers.items():
            self.values[name] = value
            self._value_lines[name] = render.line(name, value)

    def drop_headers(self, names: Iterable[str]) -> None:
        """Headers the event templates have that this channel has not (yet): left out."""
        for name in names:
            self.values.pop(name, None)
            self._value_lines[name] = b""

    def bridged_with(self, leg: Channel) -> None:
        """The Other-Type / Other-Leg-* block every later event carries (bridge capture)."""
        mine = {"Unique-ID": leg.uuid, "Channel-Name": leg.values["Channel-Name"],
                "Callee-ID-Number": leg.values["Caller-Destination-Number"],
                "Destination-Number": leg.values["Caller-Destination-Number"],
                "Caller-ID-Name": self.values["Caller-Caller-ID-Name"],
                "Caller-ID-Number": self.values["Caller-Caller-ID-Number"],
                "Orig-Caller-ID-Name": self.values["Caller-Caller-ID-Name"],
                "Orig-Caller-ID-Number": self.values["Caller-Caller-ID-Number"],
                "ANI": self.values["Caller-ANI"], "Username": self.values["Caller-Username"]}
        self.set_headers({name: mine.get(name.removeprefix("Other-Leg-"), value)
                          for name, value in render.other_leg_template()})

    def set_variables(self, variables: dict[str, str]) -> None:
        """Set `variable_*` headers (full names)."""
        for key, value in variables.items():
            self.variables[key] = value
            self._variable_lines[key] = render.line(key, value)
        self._variables_block = None

    def set_variable(self, name: str, value: str) -> None:
        key = "variable_" + name
        self.variables[key] = value
        self._variable_lines[key] = render.line(key, value)
        self._variables_block = None

    def unset_variable(self, name: str) -> None:
        key = "variable_" + name
        if self.variables.pop(key, None) is not None:
            del self._variable_lines[key]
            self._variables_block = None

    def variable(self, name: str) -> str | None:
        return self.variables.get("variable_" + name)

    def lookup(self, name: str) -> str | None:
        """What `getvar` / `uuid_getvar` answer: a channel variable, else a caller profile field
        (switch_channel_get_variable falls back to them: `getvar destination_number` works in
        the answer capture although no variable_destination_number exists)."""
        value = self.variable(name)
        if value is None and name in PROFILE_FIELDS:
            field = PROFILE_FIELDS[name]
            value = self.values.get(field) or _template_headers().get(field)
        return value

    def variables_block(self) -> bytes:
        if self._variables_block is None:
            self._variables_block = b"".join(self._variable_lines.values())
        return self._variables_block

    # --- frames -------------------------------------------------------------------------------

    def event(self, name: str, extra: tuple[tuple[str, str], ...] = (), **overrides: str) -> bytes:
        """A `text/event-plain` frame of this channel: the event's captured template with the
        channel's values, the moment, a fresh Event-Sequence, `overrides` in place and `extra`
        (Application..., DTMF-...) where FreeSWITCH puts them."""
        lines = dict(self._value_lines)
        lines.update(render.now_lines())
        lines["Event-Sequence"] = b"Event-Sequence: %d\n" % next(_SEQUENCE)
        for key, value in overrides.items():
            header = key.replace("_", "-")
            lines[header] = render.line(header, value)
        return render.event_frame(name, lines, self.variables_block(), extra)

    def created_event(self) -> bytes:
        """CHANNEL_CREATE: before the dialplan ran, so without the variables it and the `socket`
        application set (answer.inbound capture)."""
        if not self.dialplan_variables:
            return self.event("CHANNEL_CREATE")
        block = self._variables_block
        self._variables_block = b"".join(line for name, line in self._variable_lines.items()
                                         if name not in self.dialplan_variables)
        try:
            return self.event("CHANNEL_CREATE")
        finally:
            self._variables_block = block

    def connect_reply(self) -> bytes:
        return render.connect_reply(self._value_lines, self.variables_block())


def microseconds() -> str:
    """FreeSWITCH's timestamps in event headers: microseconds since the epoch."""
    return str(time.time_ns() // 1000)


def _identity(leg_uuid: str, channel: str, name: str, number: str, user: str) -> dict[str, str]:
    return {
        "Unique-ID": leg_uuid, "Channel-Call-UUID": leg_uuid, "Caller-Unique-ID": leg_uuid,
        "Channel-Name": channel, "Caller-Channel-Name": channel,
        "Caller-Caller-ID-Name": name, "Caller-Caller-ID-Number": number,
        "Caller-Orig-Caller-ID-Name": name, "Caller-Orig-Caller-ID-Number": number,
        "Caller-ANI": number, "Caller-Username": user, "Channel-Presence-ID": f"{user}@127.0.0.1",
        "Channel-State": "CS_EXECUTE", "Channel-Call-State": "RINGING", "Answer-State": "ringing",
        # microseconds since the epoch once answered / bridged, 0 until then (bridge.inbound capture)
        "Caller-Channel-Answered-Time": "0", "Caller-Channel-Bridged-Time": "0",
    }


@functools.cache
def _template_headers() -> dict[str, str]:
    return dict(render.connect_headers())


@functools.cache
def _template_variables() -> tuple[dict[str, str], dict[str, bytes]]:
    """The connect reply's variables and their encoded lines, in the captured order."""
    variables = {n: v for n, v in render.connect_headers() if n.startswith("variable_")}
    return variables, {name: render.line(name, value) for name, value in variables.items()}


def _caller_variables(scenario: Scenario, call_uuid: str, user: str) -> dict[str, str]:
    """The call's own variables over the captured ones; an internal caller is an authenticated
    device (sip_authorized, sip_auth_username), as sofia marks a registered phone's call."""
    captured: dict[str, str] = {}
    captured.update({
        "variable_uuid": call_uuid, "variable_call_uuid": call_uuid,
        "variable_sip_from_user": user, "variable_sip_from_display": scenario.caller_name,
        "variable_sip_req_user": scenario.destination, "variable_sip_to_user": scenario.destination,
    })
    if scenario.internal_user:
        captured.update({"variable_sip_authorized": "true", "variable_sip_auth_username": scenario.internal_user})
    if scenario.account_id:
        captured["variable_controller_account_id"] = scenario.account_id
    captured.update((f"variable_{name}", value) for name, value in scenario.variables)
    return captured
