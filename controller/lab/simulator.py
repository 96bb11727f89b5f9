"""A FreeSWITCH simulator: it dials the controller's outbound ESL server over real TCP, exactly
as `socket <host:port> async full` does, and plays one channel as the captures show.

It answers `connect` with a full channel data block, replies to `myevents`, `linger`, `event`,
`api`, `getvar`, `sendmsg` and `exit`, emits the events of each application it runs (Event-UUID
echoed as Application-UUID), plays the caller's script (DTMF, hang-up time), ends bridges as the
scenario says (answered, no answer -> ALLOTTED_TIMEOUT, busy -> USER_BUSY, unreachable ->
NORMAL_TEMPORARY_FAILURE with sip_invite_failure_status 503), and ends the call in FreeSWITCH's
order: CHANNEL_HANGUP, EXECUTE_COMPLETE of the running app, CHANNEL_UNPARK, EXECUTE_COMPLETE of
`socket`, CHANNEL_STATE CS_HANGUP and CS_REPORTING, CHANNEL_HANGUP_COMPLETE, then the disconnect
notice(s). CHANNEL_DESTROY never goes on this socket.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any

import gevent
from gevent import socket as gsocket
from gevent.event import Event
from gevent.queue import Queue

from controller.lab import apps, render
from controller.lab.inbound import InboundServer
from controller.lab.scenario import Scenario

_SEQUENCE = itertools.count(1000)


@dataclasses.dataclass
class CallRecord:
    """Everything observable about one simulated call, for tests and benchmarks."""

    uuid: str
    commands: list[tuple[str, dict[str, str]]] = dataclasses.field(default_factory=list)
    apps: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    events: list[str] = dataclasses.field(default_factory=list)
    hangup_cause: str | None = None
    closed_by: str = ""
    connected_at: float = 0.0
    first_execute_at: float | None = None
    ended_at: float = 0.0

    def app_names(self) -> list[str]:
        return [name for name, _ in self.apps]

    def args_of(self, app: str) -> list[str]:
        return [arg for name, arg in self.apps if name == app]


class SimulatedCall:
    """One channel talking to the controller over one socket."""

    def __init__(self, sock: gsocket.socket, scenario: Scenario, inbound: InboundServer | None = None) -> None:
        self.sock = sock
        self.inbound = inbound
        self.scenario = scenario
        self.uuid = str(uuid.uuid4())
        self.record = CallRecord(self.uuid)
        self.values = self._call_values()
        self.value_lines = {name: render.line(name, value) for name, value in self.values.items()}
        self.variables: dict[str, str] = self._initial_variables()
        self._lines = {name: render.line(name, value) for name, value in self.variables.items()}
        self._variables_block: bytes | None = None
        self.subscribed = False
        self.linger: int | None = None  # None: no linger; -1: linger until the server closes
        self.answered = False
        self.hungup = Event()
        self.closed = Event()
        self.running: tuple[str, str, str] | None = None  # app, arg, event uuid
        self.bridged_to: str | None = None
        self.notice_first = False  # `sendmsg` call-command hangup while lingering
        self.last_response = "_none_"
        self.apps: Queue = Queue()
        self.digits: Queue = Queue()
        self._pressing: gevent.Greenlet | None = None
        self._bridges = iter(scenario.bridges)
        self._last_bridge = scenario.bridges[-1] if scenario.bridges else None

    # --- channel data --------------------------------------------------------------------------

    def _call_values(self) -> dict[str, str]:
        s = self.scenario
        user = s.internal_user or s.caller_number
        channel = f"sofia/lab/{user}@127.0.0.1:5070"
        return {
            "Unique-ID": self.uuid, "Channel-Call-UUID": self.uuid, "Caller-Unique-ID": self.uuid,
            "Channel-Name": channel, "Caller-Channel-Name": channel,
            "Caller-Caller-ID-Name": s.caller_name, "Caller-Caller-ID-Number": s.caller_number,
            "Caller-Orig-Caller-ID-Name": s.caller_name, "Caller-Orig-Caller-ID-Number": s.caller_number,
            "Caller-ANI": s.caller_number, "Caller-Destination-Number": s.destination,
            "Caller-Username": user, "Channel-Presence-ID": f"{user}@127.0.0.1",
            "Channel-State": "CS_EXECUTE", "Channel-Call-State": "RINGING", "Answer-State": "ringing",
        }

    def _initial_variables(self) -> dict[str, str]:
        s = self.scenario
        names = [n for n, _ in render.connect_headers() if n.startswith("variable_")]
        base = dict((n, v) for n, v in render.connect_headers() if n in names)
        user = s.internal_user or s.caller_number
        base.update({
            "variable_uuid": self.uuid, "variable_call_uuid": self.uuid,
            "variable_sip_from_user": user, "variable_sip_from_display": s.caller_name,
            "variable_sip_req_user": s.destination, "variable_sip_to_user": s.destination,
            "variable_caller_id_name": s.caller_name, "variable_caller_id_number": s.caller_number,
            "variable_destination_number": s.destination,
        })
        if s.internal_user:
            base.update({"variable_sip_authorized": "true", "variable_sip_auth_username": s.internal_user})
        if s.account_id:
            base["variable_controller_account_id"] = s.account_id
        base.update((f"variable_{k}", v) for k, v in s.variables)
        return base

    def set_values(self, **values: str) -> None:
        """Change channel headers (keyword names use `_` for `-`)."""
        for key, value in values.items():
            name = key.replace("_", "-")
            self.values[name] = value
            self.value_lines[name] = render.line(name, value)

    def set_variable(self, name: str, value: str) -> None:
        key = "variable_" + name
        self.variables[key] = value
        self._lines[key] = render.line(key, value)
        self._variables_block = None

    def variable(self, name: str) -> str | None:
        return self.variables.get("variable_" + name)

    def variables_block(self) -> bytes:
        if self._variables_block is None:
            self._variables_block = b"".join(self._lines.values())
        return self._variables_block

    # --- sending -------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.closed.is_set():
            return
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed.set()

    def emit(self, event: str, extra: tuple[tuple[str, str], ...] = (), **overrides: str) -> None:
        if not self.subscribed or self.closed.is_set():
            return
        lines = dict(self.value_lines)
        lines.update(render.now_lines())
        lines["Event-Sequence"] = b"Event-Sequence: %d\n" % next(_SEQUENCE)
        for key, value in overrides.items():
            name = key.replace("_", "-")
            lines[name] = render.line(name, value)
        self.record.events.append(event)
        self.send(render.event_frame(event, lines, self.variables_block(), extra))

    # --- the call ------------------------------------------------------------------------------

    def run(self, timeout: float) -> CallRecord:
        self.record.connected_at = time.monotonic()
        workers = [gevent.spawn(self._read_commands), gevent.spawn(self._run_apps)]
        if self.scenario.hangup_after is not None:
            workers.append(gevent.spawn_later(self.scenario.hangup_after, self.hangup, "NORMAL_CLEARING"))
        if not self.closed.wait(timeout):
            self.record.closed_by = "timeout"
        gevent.killall(workers, block=False)
        if self._pressing is not None:
            self._pressing.kill(block=False)
        self.sock.close()
        if self.inbound is not None:  # FreeSWITCH destroys the session once the socket is closed
            if not self.hungup.is_set():
                self.set_values(Answer_State="hangup", Hangup_Cause="NORMAL_CLEARING")
            self.inbound.publish(self, "CHANNEL_DESTROY")
        self.record.ended_at = time.monotonic()
        return self.record

    def _read_commands(self) -> None:
        buffer = b""
        while not self.closed.is_set():
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.record.closed_by = self.record.closed_by or "server"
                self.closed.set()
                return
            buffer += data
            while (end := buffer.find(b"\n\n")) >= 0:
                block, buffer = buffer[:end].decode("utf-8", "replace"), buffer[end + 2 :]
                if block.strip():
                    self._command(block)

    def _command(self, block: str) -> None:
        first, *rest = block.strip("\n").split("\n")
        headers = {}
        for item in rest:
            name, _, value = item.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.record.commands.append((first, headers))
        verb, _, arg = first.partition(" ")
        handler = COMMANDS.get(verb)
        self.send(handler(self, arg, headers) if handler else render.reply("-ERR command not found"))

    def _run_apps(self) -> None:
        while not self.closed.is_set():
            app, arg, event_uuid = self.apps.get()
            if self.hungup.is_set():
                continue
            if self.record.first_execute_at is None:
                self.record.first_execute_at = time.monotonic()
            self.record.apps.append((app, arg))
            self.running = (app, arg, event_uuid)
            self.set_variable("current_application", app)
            self.set_variable("current_application_data", arg)
            self.emit("CHANNEL_EXECUTE", _app_headers(app, arg, event_uuid))
            response = apps.run(self, app, arg)
            if self.running is not None:  # not already completed by a hangup
                self.running = None
                self.last_response = response
                self.emit("CHANNEL_EXECUTE_COMPLETE", _app_headers(app, arg, event_uuid, response))

    def wait(self, seconds: float) -> bool:
        """Let time pass on the channel; False if the channel hung up meanwhile."""
        return not self.hungup.wait(seconds)

    def press_digits(self) -> None:
        """Start the caller's DTMF script (once, at the first prompt)."""
        if self._pressing is None and self.scenario.dtmf:
            self._pressing = gevent.spawn(self._press)

    def _press(self) -> None:
        for digit in self.scenario.dtmf:
            if not self.wait(self.scenario.dtmf_interval):
                return
            self.emit("DTMF", (("DTMF-Digit", digit), ("DTMF-Duration", "1280"), ("DTMF-Source", "RTP")))
            self.digits.put(digit)

    def next_bridge(self) -> Any:
        self._last_bridge = next(self._bridges, self._last_bridge)
        return self._last_bridge

    def hangup(self, cause: str) -> None:
        """End the call in FreeSWITCH's order; the running app completes after CHANNEL_HANGUP."""
        if self.hungup.is_set():
            return
        self.hungup.set()
        self.record.hangup_cause = cause
        self.set_values(Answer_State="hangup", Hangup_Cause=cause)
        self.set_variable("hangup_cause", cause)
        self.emit("CHANNEL_HANGUP")
        if self.bridged_to is not None:
            self.emit("CHANNEL_UNBRIDGE", Other_Leg_Unique_ID=self.bridged_to)
            self.bridged_to = None
        if self.running is not None:
            app, arg, event_uuid = self.running
            self.running = None
            self.last_response = apps.HANGUP_RESPONSES.get(app, "_none_")
            self.emit("CHANNEL_EXECUTE_COMPLETE", _app_headers(app, arg, event_uuid, self.last_response))
        self.emit("CHANNEL_UNPARK")
        socket_app = _app_headers("socket", "127.0.0.1:8084 async full", str(uuid.uuid4()), self.last_response)
        self.emit("CHANNEL_EXECUTE_COMPLETE", socket_app)
        self.emit("CHANNEL_STATE", Channel_State="CS_HANGUP", Channel_State_Number="10")
        self.set_values(Channel_State="CS_REPORTING", Channel_Call_State="HANGUP")
        self.emit("CHANNEL_STATE", Channel_State_Number="11")
        self.emit("CHANNEL_HANGUP_COMPLETE")
        gevent.spawn(self._after_hangup)

    def _after_hangup(self) -> None:
        channel = self.values["Channel-Name"]
        if self.notice_first:
            pass  # the linger notice already went out before the hangup events
        elif self.linger is None:
            self.send(render.disconnect_notice(self.uuid, channel, None))
            self.record.closed_by = self.record.closed_by or "freeswitch"
            self.closed.set()
            return
        else:
            self.send(render.disconnect_notice(self.uuid, channel, self.linger))
        if self.linger is not None and self.linger >= 0 and not self.closed.wait(self.linger):
            self.send(render.disconnect_notice(self.uuid, channel, None))
            self.record.closed_by = self.record.closed_by or "freeswitch"
            self.closed.set()


def _app_headers(app: str, arg: str, event_uuid: str, response: str | None = None) -> tuple[tuple[str, str], ...]:
    headers = [("Application", app)]
    if arg:
        headers.append(("Application-Data", arg))
    if response is not None:
        headers.append(("Application-Response", response))
    headers.append(("Application-UUID", event_uuid))
    return tuple(headers)


# --- commands ------------------------------------------------------------------------------------


def _connect(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    return render.connect_reply(call.value_lines, call.variables_block())


def _myevents(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    call.subscribed = True
    return render.reply("+OK Events Enabled")


def _linger(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    if arg.strip().isdigit():
        call.linger = int(arg)
        return render.reply(f"+OK will linger {call.linger} seconds")
    call.linger = -1
    return render.reply("+OK will linger")


def _nolinger(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    call.linger = None
    return render.reply("+OK will not linger")


def _event(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    call.subscribed = True
    return render.reply("+OK event listener enabled plain")


def _getvar(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    return render.reply(call.variable(arg.strip()) or "_undef_")


def _api(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    words = arg.split()
    if words[:1] == ["uptime"]:
        return render.api_response("9\n")
    if words[:1] == ["uuid_getvar"] and len(words) == 3:
        if call.hungup.is_set() or words[1] != call.uuid:
            return render.api_response("-ERR No such channel!\n")
        return render.api_response(call.variable(words[2]) or "_undef_")
    return render.api_response(f"-ERR {words[0] if words else ''} Command not found!\n")


def _sendmsg(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    command = headers.get("call-command", "")
    if call.hungup.is_set():
        return render.reply("+OK")
    if command == "execute":
        app_uuid = headers.get("event-uuid") or str(uuid.uuid4())
        call.apps.put((headers.get("execute-app-name", ""), headers.get("execute-app-arg", ""), app_uuid))
    elif command == "hangup":
        # The captures show the socket thread's linger notice before the hangup events here.
        if call.linger is not None:
            call.notice_first = True
            call.send(render.reply("+OK"))
            call.send(render.disconnect_notice(call.uuid, call.values["Channel-Name"], call.linger))
            gevent.spawn_later(0.001, call.hangup, headers.get("hangup-cause", "NORMAL_CLEARING"))
            return b""
        gevent.spawn_later(0.001, call.hangup, headers.get("hangup-cause", "NORMAL_CLEARING"))
    return render.reply("+OK")


def _exit(call: SimulatedCall, arg: str, headers: dict[str, str]) -> bytes:
    gevent.spawn_later(0.001, call.closed.set)
    return render.reply("+OK bye")


COMMANDS: dict[str, Callable[[SimulatedCall, str, dict[str, str]], bytes]] = {
    "connect": _connect, "myevents": _myevents, "linger": _linger, "nolinger": _nolinger,
    "event": _event, "getvar": _getvar, "api": _api, "sendmsg": _sendmsg, "exit": _exit,
}


def run_call(
    address: tuple[str, int], scenario: Scenario, timeout: float = 30.0, inbound: InboundServer | None = None
) -> CallRecord:
    """Dial the controller and play one call to its end; returns what happened. With `inbound`,
    the call's CHANNEL_BRIDGE and CHANNEL_DESTROY are also published there."""
    sock = gsocket.create_connection(address, timeout=timeout)
    sock.settimeout(None)
    sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)  # as mod_event_socket does
    return SimulatedCall(sock, scenario, inbound).run(timeout)
