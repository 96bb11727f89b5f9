"""A FreeSWITCH simulator: it dials the controller's outbound ESL server over real TCP, exactly
as `socket <host:port> async full` does, and plays one channel as the captures show.

It answers `connect` with the full channel data block and the other commands as
mod_event_socket does (controller/lab/event_socket.py), runs the applications sent with
`sendmsg` (controller/lab/apps.py, bridge.py) with CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE
carrying the Event-UUID sent as Application-UUID, plays the caller's script (keypresses,
hang-up time) and ends the call in FreeSWITCH's order: CHANNEL_HANGUP, EXECUTE_COMPLETE of the
running app, CHANNEL_UNPARK, EXECUTE_COMPLETE of `socket`, CHANNEL_STATE CS_HANGUP and
CS_REPORTING, CHANNEL_HANGUP_COMPLETE, then the disconnect notice(s). Events go out only once
subscribed (`myevents`, `event plain ...`). CHANNEL_DESTROY never goes on this socket: it is
published, with every other event of the call, to an optional InboundServer once the socket has
closed.

`uuid_transfer` on that InboundServer (SimulatedCall.transfer) moves the channel out of its
`socket` application as switch_ivr_session_transfer does: a new caller profile (the target as
Destination-Number, Transfer-Source, RDNIS, the next Profile-Index), transfer_source and
transfer_history set, a ringing callee cancelled (a bridged one hung up with BLIND_TRANSFER), the
running application and `socket` completed; the same channel then connects to the controller
again, the scenario going on there (its next bridge outcomes). The first connection is neither
hung up nor closed by the simulator: the controller closes it.
"""

from __future__ import annotations

import dataclasses
import time
import uuid as uuids
from collections.abc import Callable

import gevent
from gevent import socket as gsocket
from gevent.event import Event
from gevent.queue import Queue

from controller.esl import wire
from controller.lab import apps, bridge, callee, event_socket, render, report
from controller.lab.channel import Channel
from controller.lab.event_socket import NO_SUCH_CHANNEL
from controller.lab.inbound import InboundServer
from controller.lab.keypad import HANGUP, Keypad
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.subscriptions import Filters, Subscriptions, frame_lookup

SOCKET_DATA = "127.0.0.1:8084 async full"


@dataclasses.dataclass
class CallRecord:
    """Everything observable about one simulated call, for tests and benchmarks. `timeline`
    holds (seconds since connect, kind, what): commands received, events and notices sent."""

    uuid: str
    commands: list[tuple[str, dict[str, str]]] = dataclasses.field(default_factory=list)
    apps: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    events: list[str] = dataclasses.field(default_factory=list)
    timeline: list[tuple[float, str, str]] = dataclasses.field(default_factory=list)
    recordings: list[tuple[str, float]] = dataclasses.field(default_factory=list)
    api_calls: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # run by expansion
    displaced: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # uuid_displace (start|stop, file)
    variables: dict[str, str] = dataclasses.field(default_factory=dict)  # the channel's, at the end
    hangup_cause: str | None = None  # None: the socket closed while the channel was up
    closed_by: str = ""  # "server" (the controller closed), "freeswitch", or "timeout"
    resumed: bool = False  # `resume` was sent: FreeSWITCH's dialplan continues after the close
    connected_at: float = 0.0
    first_execute_at: float | None = None
    closed_at: float = 0.0  # when the outbound socket was closed (monotonic, as the others)
    ended_at: float = 0.0
    transferred_to: str = ""  # uuid_transfer moved the channel to this destination
    after_transfer: CallRecord | None = None  # the same channel's next connection, then

    def connections(self) -> list[CallRecord]:
        """This connection and those the channel made after each transfer, in order."""
        found: list[CallRecord] = [self]
        while found[-1].after_transfer is not None:
            found.append(found[-1].after_transfer)
        return found

    def app_names(self) -> list[str]:
        return [name for name, _ in self.apps]

    def args_of(self, app: str) -> list[str]:
        return [arg for name, arg in self.apps if name == app]

    def command_lines(self) -> list[str]:
        return [line for line, _ in self.commands]

    def api_called(self, command: str, argument: str) -> str:
        """An API command that FreeSWITCH's expander would have run (`${system(...)}`)."""
        self.api_calls.append((command, argument))
        return ""

    def note(self, kind: str, what: str) -> None:
        self.timeline.append((time.monotonic() - self.connected_at, kind, what))


class SimulatedCall:
    """One channel talking to the controller over one socket."""

    def __init__(self, sock: gsocket.socket, scenario: Scenario, inbound: InboundServer | None = None,
                 address: tuple[str, int] | None = None, earlier: SimulatedCall | None = None) -> None:
        self.sock = sock
        self.inbound = inbound
        self.scenario = scenario
        self.address = address  # the controller's: where a transferred channel connects again
        self.earlier = earlier  # the same channel's connection before a transfer
        self.channel: Channel = earlier.channel if earlier is not None else Channel.inbound(scenario)
        self.uuid = self.channel.uuid
        self.record = CallRecord(self.uuid)
        self.hungup = Event()
        self.closed = Event()
        self.keypad = Keypad(scenario.presses, self.emit, self.hungup)
        self.subscriptions = Subscriptions()
        self.filters = Filters()
        self.linger: int | None = None  # None: no linger; -1: linger until the server closes
        self.linger_notice_sent = False
        self.answered = False
        self.running: tuple[str, str, str] | None = None  # app, arg, event uuid
        self.bridged_to: Channel | None = None
        self.apps: Queue = Queue()
        self._socket_app_uuid = str(uuids.uuid4())
        self._out: list[bytes] = []
        self._flush_pending = False
        self._writer: gevent.Greenlet | None = None
        self._after_reply: list[Callable[[], None]] = []
        self._greenlets: list[gevent.Greenlet] = []
        self._runner: gevent.Greenlet | None = None
        self._finished = False
        self._cause = "NORMAL_CLEARING"
        self._bridges = iter(scenario.bridges)
        self._last_bridge = scenario.bridges[-1] if scenario.bridges else None
        self.started = time.monotonic()  # the channel's first connection
        self.timeout = 30.0
        self.tap: Callable[[gsocket.socket], gsocket.socket] | None = None
        self.transfer_to: str | None = None
        self._next: gevent.Greenlet | None = None  # placing the channel again after a transfer
        if earlier is not None:  # the scenario goes on (bridge outcomes, hang-up time); keypresses do not
            self._bridges, self._last_bridge = earlier._bridges, earlier._last_bridge
            self.started, self.timeout, self.tap = earlier.started, earlier.timeout, earlier.tap
            self.answered = earlier.answered
            self.keypad = Keypad((), self.emit, self.hungup)

    # --- sending -------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write to the controller, in order. Frames sent in one go (a reply and the events it
        starts, the hang-up sequence) leave in one write once this greenlet yields, as
        FreeSWITCH's own writes coalesce in its socket: a syscall each would cost the
        simulator more than the whole call costs the controller."""
        if not data or self.closed.is_set():
            return
        self._out.append(data)
        if not self._flush_pending:
            self._flush_pending = True
            gevent.get_hub().loop.run_callback(self._flush)

    def _flush(self) -> None:
        """Write what is queued without blocking (this runs in the hub); what the socket does
        not take at once goes on in a writer greenlet, which later frames queue behind."""
        self._flush_pending = False
        if self._writer is not None or not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        try:
            sent = self.sock.send(data, 0, 0.0)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.closed.set()
            return
        if sent < len(data):
            self._writer = gevent.spawn(self._write_rest, data[sent:])

    def _write_rest(self, data: bytes) -> None:
        try:
            while data:
                wire.write(self.sock, data)
                data = b"".join(self._out)
                self._out.clear()
        except OSError:
            self.closed.set()
        finally:
            self._writer = None

    def wants(self, event: str) -> bool:
        """Whether the outbound socket receives this event (README item 4 of the captures)."""
        return self.subscriptions.wants(event)

    def emit(self, event: str, extra: tuple[tuple[str, str], ...] = (), **overrides: str) -> None:
        """An event of this channel: to the controller if subscribed (never CHANNEL_DESTROY),
        and to the inbound server's subscribers."""
        outbound = event != "CHANNEL_DESTROY" and self.wants(event) and not self.closed.is_set()
        if not outbound and self.inbound is None:
            return
        frame = self.channel.event(event, extra, **overrides)
        if outbound and self.filters and not self.filters.passes(frame_lookup(frame)):
            outbound = False
        if outbound:
            self.record.events.append(event)
            self.record.note("event", event)
            self.send(frame)
        if self.inbound is not None:
            self.inbound.relay(event, frame, self.uuid)

    def publish(self, leg: Channel, event: str, **overrides: str) -> None:
        """An event only an inbound connection sees (CHANNEL_CREATE / CHANNEL_DESTROY, the
        callee's leg)."""
        if self.inbound is not None:
            self.inbound.relay(event, leg.event(event, (), **overrides), leg.uuid)

    def after_reply(self, action: Callable[[], None]) -> None:
        """Run `action` once the reply to the current command has been sent."""
        self._after_reply.append(action)

    def later(self, seconds: float, action: Callable[..., object], *args: object) -> None:
        self._greenlets.append(gevent.spawn_later(seconds, action, *args))

    # --- the call ------------------------------------------------------------------------------

    def run(self, timeout: float) -> CallRecord:
        self.record.connected_at = time.monotonic()
        self.timeout = timeout
        if self.inbound is not None:
            if self.earlier is None:
                self.inbound.relay("CHANNEL_CREATE", self.channel.created_event(), self.uuid)
            self.inbound.calls[self.uuid] = self
        self._runner = gevent.spawn(self._run_apps)
        self._greenlets += [gevent.spawn(self._read_commands), self._runner]
        if self.scenario.hangup_after is not None:
            self.later(max(0.0, self.started + self.scenario.hangup_after - time.monotonic()), self.caller_hangs_up)
        self.keypad.start()
        if not self.closed.wait(timeout):
            self.record.closed_by = "timeout"
        self.closed.set()
        self._stop()
        self.record.closed_at = time.monotonic()
        if self._next is not None:  # transferred: the channel lives on in its next connection
            self.record.after_transfer = self._next.get()
        else:
            self._destroy()
        self.record.ended_at = time.monotonic()
        self.record.variables = {name.removeprefix("variable_"): value
                                 for name, value in self.channel.variables.items()}
        return self.record

    def _stop(self) -> None:
        """Close the socket and end the call's greenlets. The command reader, waiting on the
        socket, ends with its close; the application runner, when idle, with an empty item;
        only what is still busy (an application, a timer) is killed, so that a thousand calls
        a second leave no killed greenlet's traceback behind for the garbage collector. What
        is still queued for the controller goes first (FreeSWITCH's last frames, then the
        close)."""
        self._flush()
        if self._writer is not None:
            self._writer.join(timeout=1)
        self.sock.close()
        if self.running is None:
            self.apps.put(None)
        busy = [g for g in self._greenlets if not g.dead and (g is not self._runner or self.running is not None)]
        gevent.killall(busy, block=False)
        self.keypad.stop()

    def _destroy(self) -> None:
        """FreeSWITCH destroys the session once the socket is closed; a channel still up then
        leaves the `socket` app and, the dialplan being over, hangs up."""
        if self.inbound is None:
            return
        self._leave_inbound()
        self.running = None
        self.hangup("NORMAL_CLEARING")
        self.publish(self.channel, "CHANNEL_DESTROY")

    def _read_commands(self) -> None:
        try:
            for command in wire.CommandReader(self.sock):
                self._command(command)
                if self.closed.is_set():
                    return
        except (OSError, wire.FrameError):
            pass
        self.record.closed_by = self.record.closed_by or "server"
        self.closed.set()

    def _command(self, command: wire.Command) -> None:
        self.record.commands.append((command.line, dict(command.headers)))
        self.record.note("command", command.line)
        self._after_reply = []
        self.send(event_socket.handle(self, command))
        for action in self._after_reply:
            action()

    def _run_apps(self) -> None:
        while (item := self.apps.get()) is not None:
            app, arg, event_uuid, loop, loops = item
            if self.hungup.is_set() or self.closed.is_set():
                continue
            self.running = (app, arg, event_uuid)
            # switch_ivr_parse_event sets these for every application a sendmsg runs
            self.channel.set_variables({"variable_current_loop": str(loop), "variable_total_loops": str(loops)})
            self._app_started(app, arg)
            self.emit("CHANNEL_EXECUTE", app_headers(app, arg, event_uuid))
            response = apps.run(self, app, arg)
            if response != "_none_":
                self.channel.set_variable("current_application_response", response)
            self.emit("CHANNEL_EXECUTE_COMPLETE", app_headers(app, arg, event_uuid, response))
            self.running = None
            if loop == loops or self.hungup.is_set():  # the sendmsg's loops are over
                self.channel.unset_variable("current_loop")
                self.channel.unset_variable("total_loops")
            self._dialog_confirmed()
            if self.hungup.is_set():
                self._finish_hangup()

    def _app_started(self, app: str, arg: str) -> None:
        if self.record.first_execute_at is None:
            self.record.first_execute_at = time.monotonic()
        self.record.apps.append((app, arg))
        self.channel.set_variable("current_application", app)
        self.channel.unset_variable("current_application_response")
        if arg:
            self.channel.set_variable("current_application_data", arg)
        else:  # unset, not empty (answer capture)
            self.channel.unset_variable("current_application_data")
        during = self.scenario.hangup_during
        if during is not None and during[0] == app and app not in self.record.app_names()[:-1]:
            self.later(during[1], self.caller_hangs_up)

    def wait(self, seconds: float) -> bool:
        """Let time pass on the channel; False if the channel hung up meanwhile."""
        return not self.hungup.wait(seconds)

    def answer(self) -> None:
        """CHANNEL_ANSWER, carrying the media variables set up for it; Channel-Call-State turns
        ACTIVE only after it (answer capture)."""
        if self.answered:
            return
        self.answered = True
        self.media_up()
        self.channel.times.answered = report.microseconds()
        self.channel.set_values(Answer_State="answered", Caller_Channel_Answered_Time=str(self.channel.times.answered))
        self.emit("CHANNEL_ANSWER")
        self.channel.set_variable("endpoint_disposition", "ANSWER")
        self.channel.set_values(Channel_Call_State="ACTIVE")
        self._run_hooks("execute_on_answer", "api_on_answer")

    def _run_hooks(self, *names: str) -> None:
        """What FreeSWITCH runs from these channel variables (an application on answer, an API
        command at the hangup: controller/esl/hooks.py), recorded as run, as the expander's
        `${system(...)}` is."""
        for name in names:
            value = self.channel.variable(name)
            if value:
                self.record.api_called(name, value)

    def media_up(self) -> None:
        """The channel's media is set up (an answer, early media): its RTP variables."""
        if self.channel.variable("local_media_port") is None:
            self.channel.set_variables({f"variable_{name}": value for name, value in report.media()})

    def _dialog_confirmed(self) -> None:
        """Once the app that answered has completed, the caller's dialog has its To tag and CSeq
        (answer and answer_nolinger captures: on the events after it)."""
        if self.answered and self.channel.variable("sip_cseq") is None:
            if self.channel.variable("sip_to_tag") is None:
                self.channel.set_variable("sip_to_tag", report.sip_tag())
            self.channel.set_variable("sip_cseq", "1")

    def next_bridge(self) -> BridgeOutcome | None:
        self._last_bridge = next(self._bridges, self._last_bridge)
        return self._last_bridge

    # --- the end -------------------------------------------------------------------------------

    def caller_hangs_up(self) -> None:
        """The caller ends the call: a BYE once answered (NORMAL_CLEARING, with the BYE's SIP
        status on CHANNEL_HANGUP: caller_hangup capture), a CANCEL before (ORIGINATOR_CANCEL, as a
        real FreeSWITCH reports a caller who gives up while it rings)."""
        if self.hungup.is_set():
            return
        if not self.answered:
            self.hangup("ORIGINATOR_CANCEL", disposition="recv_cancel")
            return
        self.channel.set_variables({"variable_sip_term_status": "200", "variable_sip_term_cause": "16",
                                    "variable_proto_specific_hangup_cause": "sip:200"})
        self.hangup("NORMAL_CLEARING", disposition="recv_bye")

    def hangup(self, cause: str, disposition: str | None = None) -> None:
        """CHANNEL_HANGUP (and CHANNEL_UNBRIDGE when bridged); the running app then completes and
        the rest of the sequence follows (_finish_hangup). `disposition`: how the SIP side ended,
        when the caller ended it (sip_hangup_disposition, on the events after CHANNEL_HANGUP)."""
        if self.hungup.is_set():
            return
        self.hungup.set()
        self.channel.times.hungup = report.microseconds()
        if not self.closed.is_set():  # after the close only the inbound side sees the hangup
            self.record.hangup_cause = cause
        self._cause = cause
        # Channel-State-Number turns 10 (CS_HANGUP) while Channel-State still says CS_EXECUTE.
        self.channel.set_values(Answer_State="hangup", Hangup_Cause=cause, Channel_State_Number="10")
        self.emit("CHANNEL_HANGUP")
        self._run_hooks("api_hangup_hook")
        if disposition:
            self.channel.set_variable("sip_hangup_disposition", disposition)
        if self.scenario.notice_before_completion and self.linger is not None and not self.linger_notice_sent:
            self.send_linger_notice()
        self._end_bridge("NORMAL_CLEARING")
        self.keypad.interrupt(HANGUP)
        if self.running is None:
            self._finish_hangup()

    def _end_bridge(self, cause: str) -> None:
        """The callee this channel is bridged to (if any) hangs up with `cause`."""
        if self.bridged_to is not None:
            leg, self.bridged_to = self.bridged_to, None
            callee.hung_up(leg, cause)
            self.publish(leg, "CHANNEL_HANGUP")
            bridge.set_bridge_end(self, cause)
            self.emit("CHANNEL_UNBRIDGE", Other_Leg_Unique_ID=leg.uuid)

    # --- a transfer ----------------------------------------------------------------------------

    def transfer(self, target: str, dialplan: str = "", context: str = "") -> str:
        """`uuid_transfer <uuid> <target> [<dialplan>] [<context>]` (mod_commands answers `+OK`):
        switch_ivr_session_transfer gives the channel a new caller profile and sets its
        transfer_source / transfer_history (`<epoch>:<profile uuid>:bl_xfer:<target>/<context>/
        <dialplan>`), hangs a bridged callee up with BLIND_TRANSFER (a ringing one's originate
        is cancelled), and moves the channel out of `socket`: the running application and the
        `socket` application complete, and the dialplan brings the channel back to the
        controller as a new connection (dialplan and context default to the profile's)."""
        if self.hungup.is_set() or self.transfer_to is not None:
            return NO_SUCH_CHANNEL
        channel = self.channel
        dialplan = dialplan or channel.lookup("dialplan") or "XML"
        context = context or channel.lookup("context") or "default"
        source = f"{int(time.time())}:{uuids.uuid4()}:bl_xfer:{target}/{context}/{dialplan}"
        index = int(channel.values.get("Caller-Profile-Index", "1")) + 1
        profile = {"Destination-Number": target, "Dialplan": dialplan, "Context": context,
                   "RDNIS": channel.lookup("destination_number") or "", "Transfer-Source": source,
                   "Profile-Index": str(index), "Profile-Created-Time": str(report.microseconds())}
        channel.set_headers({f"{prefix}-{name}": value for prefix in ("Channel", "Caller")
                             for name, value in profile.items()})
        history = channel.variable("transfer_history")
        if history is not None:  # a pushed variable is an array (ARRAY::a|:b)
            pushed = [*history.removeprefix("ARRAY::").split("|:"), source]
            channel.set_variable("transfer_history", "ARRAY::" + "|:".join(pushed))
        else:
            channel.set_variable("transfer_history", source)
        channel.set_variable("transfer_source", source)
        self.transfer_to = target
        self.record.transferred_to = target
        self.record.note("transfer", target)
        self._end_bridge("BLIND_TRANSFER")
        self.hungup.set()  # for this connection's applications the channel is gone: they return
        self.keypad.interrupt(HANGUP)
        if self.running is None:
            self._leave_for_transfer()
        return "+OK\n"

    def _leave_for_transfer(self) -> None:
        """The `socket` application ends; the channel is routed again and its `socket` connects
        to the controller once more."""
        if self._socket_completes():
            self._next = gevent.spawn(self._connect_again)

    def _socket_completes(self) -> bool:
        """The park under `socket` ends (CHANNEL_UNPARK) and `socket` completes, with whatever
        the last app left as its response (caller_hangup); False when it did already."""
        if self._finished:
            return False
        self._finished = True
        self.emit("CHANNEL_UNPARK")
        response = self.channel.variable("current_application_response") or "_none_"
        self.emit("CHANNEL_EXECUTE_COMPLETE", app_headers("socket", SOCKET_DATA, self._socket_app_uuid, response))
        return True

    def _connect_again(self) -> CallRecord | None:
        """The channel's next connection, played to its end; None if the controller could not be
        reached (the channel is then destroyed)."""
        if self.address is None:
            raise RuntimeError("a transferred call needs the controller's address (run_call sets it)")
        try:
            sock = _connected(self.address, self.timeout, self.tap)
        except OSError:
            self.publish(self.channel, "CHANNEL_DESTROY")
            if self.inbound is not None:
                self._leave_inbound()
            return None
        following = SimulatedCall(sock, self.scenario, self.inbound, self.address, earlier=self)
        return following.run(self.timeout)

    def _leave_inbound(self) -> None:
        """This connection no longer runs the channel for the inbound side (`uuid_transfer`)."""
        assert self.inbound is not None
        if self.inbound.calls.get(self.uuid) is self:
            del self.inbound.calls[self.uuid]

    def _finish_hangup(self) -> None:
        if self.transfer_to is not None:
            self._leave_for_transfer()
            return
        if not self._socket_completes():
            return
        self.channel.set_values(Channel_State="CS_HANGUP")
        self.emit("CHANNEL_STATE")
        self.channel.set_values(Channel_State="CS_REPORTING", Channel_State_Number="11", Channel_Call_State="HANGUP",
                                Caller_Channel_Hangup_Time=str(self.channel.times.hungup))
        self.emit("CHANNEL_STATE")
        self._hangup_variables()
        self.emit("CHANNEL_HANGUP_COMPLETE")
        self._disconnect()

    def _hangup_variables(self) -> None:
        """What CHANNEL_HANGUP_COMPLETE carries on top (controller/lab/report.py): the cause, the
        call report from the channel's times, the last app (an app without argument leaves no
        last_arg: answer_nolinger), the digits dialed, how the SIP side ended (FreeSWITCH's BYE
        to an answered caller, its refusal otherwise, unless the caller ended it) and the RTP
        counters of an answered call."""
        channel = self.channel
        disposition = channel.variable("sip_hangup_disposition") or ("send_bye" if self.answered else "send_refuse")
        caller = (channel.values["Caller-Caller-ID-Name"], channel.values["Caller-Caller-ID-Number"])
        last = self.record.apps[-1] if self.record.apps else None
        found = report.hangup_complete(channel.times, self._cause, caller, last_app=last, digits=self.keypad.pressed,
                                       disposition=disposition)
        channel.set_variables({f"variable_{name}": value for name, value in found})

    def _disconnect(self) -> None:
        """Without linger: the goodbye notice and the close, at once (answer_nolinger). With
        linger: the `linger` notice, then after `linger N` seconds the goodbye and the close
        (caller_hangup); plain `linger` waits for the server to close."""
        if self.closed.is_set():
            return
        if self.linger is None:
            self._goodbye()
            return
        if not self.linger_notice_sent:
            self.send_linger_notice()
        if self.linger >= 0:
            self.later(self.scenario.scaled(self.linger), self._goodbye)

    def send_linger_notice(self) -> None:
        self.linger_notice_sent = True
        self.record.note("notice", "linger")
        self.send(render.disconnect_notice(self.uuid, self.channel.values["Channel-Name"], self.linger))

    def _goodbye(self) -> None:
        if self.closed.is_set():
            return
        self.record.note("notice", "disconnect")
        self.send(render.disconnect_notice(self.uuid, self.channel.values["Channel-Name"], None))
        self.record.closed_by = self.record.closed_by or "freeswitch"
        self.closed.set()


def app_headers(app: str, arg: str, event_uuid: str, response: str | None = None) -> tuple[tuple[str, str], ...]:
    """Application, Application-Data (when there is one), Application-Response (on
    EXECUTE_COMPLETE), Application-UUID: the order of the captures."""
    headers = [("Application", app)]
    if arg:
        headers.append(("Application-Data", arg))
    if response is not None:
        headers.append(("Application-Response", response))
    headers.append(("Application-UUID", event_uuid))
    return tuple(headers)


def run_call(
    address: tuple[str, int],
    scenario: Scenario,
    timeout: float = 30.0,
    inbound: InboundServer | None = None,
    tap: Callable[[gsocket.socket], gsocket.socket] | None = None,
) -> CallRecord:
    """Dial the controller and play one call until the socket closes (or `timeout` s); returns
    what happened (a call transferred meanwhile: once its later connections ended too, each in
    `after_transfer`). With `inbound`, every event of the call (both legs, CHANNEL_CREATE and
    CHANNEL_DESTROY included) is also published there. `tap` wraps the connected socket (a
    recorder of the wire exchange: controller/lab/recording.py); without it nothing changes."""
    call = SimulatedCall(_connected(address, timeout, tap), scenario, inbound, address)
    call.tap = tap
    return call.run(timeout)


def _connected(
    address: tuple[str, int], timeout: float, tap: Callable[[gsocket.socket], gsocket.socket] | None
) -> gsocket.socket:
    """A channel's `socket` connection to the controller, wrapped by `tap` when there is one."""
    sock = _dial(address, timeout)
    sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)  # as mod_event_socket does
    return tap(sock) if tap is not None else sock


def _dial(address: tuple[str, int], timeout: float) -> gsocket.socket:
    """A TCP connection to `address`. An IP address is dialled as it is (create_connection
    would ask the resolver's thread pool for it, a thread handoff for each call)."""
    host, port = address[:2]
    try:
        family = gsocket.AF_INET6 if ":" in host else gsocket.AF_INET
        gsocket.inet_pton(family, host)
    except OSError:
        sock = gsocket.create_connection(address, timeout=timeout)
        sock.settimeout(None)
        return sock
    sock = gsocket.socket(family, gsocket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.settimeout(None)
    except OSError:
        sock.close()
        raise
    return sock
