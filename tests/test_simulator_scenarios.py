"""The simulator's behaviour beyond the captures, each driven by a scripted outbound server in the
test: subscriptions, the caller's keypad, digit collection, recording, bridge outcomes, the api,
linger and the end of the socket, many calls at a rate."""

import contextlib
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket
from gevent.event import Event
from gevent.queue import Queue
from gevent.server import StreamServer

from controller.esl import wire
from controller.lab.load import drive
from controller.lab.scenario import BridgeOutcome, Keypress, Scenario
from controller.lab.simulator import CallRecord, run_call


class Peer:
    """The server's end of one simulated call: send commands, read replies and events."""

    def __init__(self, sock: gsocket.socket) -> None:
        self.sock = sock
        self.frames = iter(wire.FrameReader(sock))
        self.events: list[wire.Event] = []
        self.notices: list[wire.Frame] = []
        self.uuid = ""

    def next(self) -> wire.Frame | None:
        with gevent.Timeout(5):
            frame = next(self.frames, None)
        if frame is not None and frame.is_event:
            self.events.append(wire.parse_event(frame))
        return frame

    def command(self, data: bytes) -> wire.Frame:
        """Send a command; its reply (events and notices read meanwhile are kept)."""
        self.sock.sendall(data)
        while (frame := self.next()) is not None:
            if frame.content_type in ("command/reply", "api/response"):
                return frame
            if frame.content_type == "text/disconnect-notice":
                self.notices.append(frame)
        raise AssertionError("closed before the reply")

    def api(self, *words: str) -> str:
        return self.command(wire.command("api", *words)).body.decode()

    def getvar(self, name: str) -> str:
        return self.command(wire.command("getvar", name)).reply_text

    def wait_variable(self, name: str, value: str) -> None:
        """Until the channel's variable has this value (asked over the api)."""
        with gevent.Timeout(5):
            while self.api("uuid_getvar", self.uuid, name) != value:
                gevent.sleep(0.005)

    def connect(self, *setup: bytes) -> wire.Frame:
        reply = self.command(wire.command("connect"))
        self.uuid = reply.headers["Unique-ID"]
        for data in setup:
            self.command(data)
        return reply

    def execute(self, app: str, arg: str = "", event_uuid: str = "") -> wire.Event:
        """Run an app and wait for its CHANNEL_EXECUTE_COMPLETE."""
        event_uuid = event_uuid or f"{app}-{len(self.events)}"
        assert self.command(wire.sendmsg(app, arg, event_uuid=event_uuid)).reply_text == "+OK"
        return self.until("CHANNEL_EXECUTE_COMPLETE", **{"Application-UUID": event_uuid})

    def until(self, name: str, **headers: str) -> wire.Event:
        for event in self.events:
            if event.name == name and all(event.get(k) == v for k, v in headers.items()):
                return event
        while (frame := self.next()) is not None:
            event = self.events[-1] if frame.is_event else None
            if event is not None and event.name == name and all(event.get(k) == v for k, v in headers.items()):
                return event
        raise AssertionError(f"closed before {name} {headers}")

    def rest(self) -> list[wire.Frame]:
        """Every frame until FreeSWITCH closes the socket."""
        frames = []
        while (frame := self.next()) is not None:
            frames.append(frame)
        return frames

    def names(self) -> list[str]:
        return [event.name for event in self.events]


@contextlib.contextmanager
def call(scenario: Scenario, timeout: float = 10) -> Iterator[tuple[Peer, gevent.Greenlet]]:
    """A listening server, the simulator dialling it, and the accepted connection."""
    accepted: Queue = Queue()
    done = Event()

    def handle(sock: gsocket.socket, _: Any) -> None:
        accepted.put(sock)
        done.wait(timeout)  # the test drives the socket; the server closes it when done

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    simulated = gevent.spawn(run_call, server.address, scenario, timeout)
    sock = accepted.get(timeout=5)
    try:
        yield Peer(sock), simulated
    finally:
        done.set()
        sock.close()
        simulated.join(timeout=timeout)
        server.stop(timeout=1)


FAST = 0.01
MYEVENTS = wire.command("myevents")


def test_no_event_reaches_the_socket_before_a_subscription() -> None:
    with call(Scenario(time_scale=FAST)) as (peer, _):
        peer.connect()
        peer.command(wire.sendmsg("answer", event_uuid="a1"))
        peer.wait_variable("endpoint_disposition", "ANSWER")
        assert peer.events == []
        peer.command(MYEVENTS)
        peer.execute("playback", "hello.wav")
        assert peer.names()[:2] == ["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"]


def test_myevents_selects_the_channel_events_and_nixevent_takes_some_off() -> None:
    with call(Scenario(time_scale=FAST, record_seconds=0.01)) as (peer, _):
        peer.connect()
        assert peer.command(MYEVENTS).reply_text == "+OK Events Enabled"
        nix = wire.command("nixevent", "CHANNEL_EXECUTE", "CHANNEL_STATE", "CHANNEL_UNPARK")
        assert peer.command(nix).reply_text == "+OK events nixed"
        peer.execute("answer")
        peer.execute("record", "/tmp/x.wav 5")
        assert peer.command(MYEVENTS).reply_text == "-ERR aready enabled."
        peer.command(wire.sendmsg("hangup", ""))
        peer.rest()
        names = set(peer.names())
        assert {"CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"} <= names
        assert not names & {"CHANNEL_EXECUTE", "CHANNEL_STATE", "CHANNEL_UNPARK", "RECORD_START", "RECORD_STOP"}


def test_nixevent_after_all_keeps_every_other_event() -> None:
    with call(Scenario(time_scale=FAST)) as (peer, _):
        peer.connect(wire.command("event", "plain", "ALL"), wire.command("nixevent", "CHANNEL_EXECUTE"))
        peer.execute("answer")
        assert "CHANNEL_EXECUTE" not in peer.names() and "CHANNEL_ANSWER" in peer.names()
        assert peer.command(wire.command("nixevent")).reply_text == "-ERR no keywords supplied"


def test_event_plain_alone_delivers_only_the_named_events() -> None:
    with call(Scenario(time_scale=FAST)) as (peer, _):
        peer.connect(wire.command("event", "plain", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"))
        for app in ("answer", "playback", "hangup"):
            peer.command(wire.sendmsg(app, "x.wav" if app == "playback" else ""))
        peer.rest()
        assert peer.names() == ["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]


def test_channel_destroy_never_reaches_the_outbound_socket_even_when_subscribed() -> None:
    with call(Scenario(time_scale=FAST)) as (peer, simulated):
        peer.connect(MYEVENTS, wire.command("event", "plain", "ALL"), wire.command("linger", "1"))
        peer.command(wire.sendmsg("hangup", "NORMAL_CLEARING"))
        frames = peer.rest()
        assert "CHANNEL_DESTROY" not in peer.names()
        assert peer.names()[-1] == "CHANNEL_HANGUP_COMPLETE"
        assert [f.headers.get("Content-Disposition") for f in frames if not f.is_event] == ["linger", "disconnect"]
        assert simulated.get(timeout=5).closed_by == "freeswitch"


def test_without_linger_the_last_events_and_the_notice_come_in_one_burst_before_the_close() -> None:
    with call(Scenario()) as (peer, _):
        peer.connect(MYEVENTS)
        peer.sock.sendall(wire.sendmsg_hangup("USER_BUSY"))
        frames = peer.rest()
        assert frames[-1].content_type == "text/disconnect-notice"
        assert frames[-1].body.startswith(b"Disconnected, goodbye.")
        assert peer.until("CHANNEL_HANGUP_COMPLETE")["variable_hangup_cause"] == "USER_BUSY"


def test_linger_n_closes_n_seconds_after_the_hangup_in_freeswitch_time() -> None:
    with call(Scenario(time_scale=0.05, hangup_after=0.05)) as (peer, simulated):
        peer.connect(MYEVENTS, wire.command("linger", "2"))
        peer.until("CHANNEL_HANGUP_COMPLETE")
        started = time.monotonic()
        notices = [f for f in peer.rest() if f.content_type == "text/disconnect-notice"]
        assert [n.headers.get("Linger-Time") for n in notices] == ["2", None]
        assert time.monotonic() - started >= 0.09  # 2 s * 0.05
        assert simulated.get(timeout=5).hangup_cause == "ORIGINATOR_CANCEL"  # never answered: a CANCEL


def test_uuid_getvar_says_no_such_channel_once_hung_up_even_while_lingering() -> None:
    with call(Scenario(time_scale=FAST, variables=(("team", "sales"),))) as (peer, _):
        peer.connect(MYEVENTS, wire.command("linger"))
        getvar = wire.command("api", "uuid_getvar", peer.uuid, "team")
        assert peer.command(getvar).body == b"sales"
        assert peer.getvar("destination_number") == "15551234567"
        peer.execute("hangup", "CALL_REJECTED")
        peer.until("CHANNEL_HANGUP_COMPLETE")
        assert peer.command(getvar).body == b"-ERR No such channel!\n"
        assert peer.command(wire.sendmsg_hangup()).reply_text == "+OK"  # a no-op, still +OK


def test_prompt_bound_digits_feed_play_and_get_digits() -> None:
    scenario = Scenario(time_scale=0.1, keypresses=(Keypress("9"), Keypress("12#", source="ENDPOINT")))
    with call(scenario) as (peer, _):
        peer.connect(MYEVENTS)
        pin = "play_and_get_digits 2 4 3 2000 # enter.wav bad.wav pin \\d+ 500"
        peer.execute("play_and_get_digits", pin.split(" ", 1)[1])
        assert peer.getvar("pin") == "12"
        assert peer.getvar("read_result") == "success"
        dtmf = [(e["DTMF-Digit"], e["DTMF-Source"]) for e in peer.events if e.name == "DTMF"]
        assert dtmf == [("9", "RTP"), ("1", "ENDPOINT"), ("2", "ENDPOINT"), ("#", "ENDPOINT")]


def test_play_and_get_digits_collects_nothing_after_a_prompt_it_cannot_open() -> None:
    """As FreeSWITCH's switch_ivr_read: no digit is read unless the prompt played (a real
    FreeSWITCH without sound files fails every try at once); the keys wait for a prompt that plays."""
    scenario = Scenario(time_scale=0.1, missing_files=("gone",), keypresses=(Keypress("12#"),))
    with call(scenario) as (peer, _):
        peer.connect(MYEVENTS)
        started = time.monotonic()
        peer.execute("play_and_get_digits", "1 4 3 2000 # gone.wav silence_stream://250 pin \\d+ 500")
        assert time.monotonic() - started < 0.5
        assert peer.getvar("read_result") == "failure"
        peer.execute("read", "1 1 gone.wav first 100 #")
        assert peer.getvar("read_result") == "timeout"
        peer.execute("play_and_get_digits", "1 4 1 2000 # here.wav silence_stream://250 pin \\d+ 500")
        assert peer.getvar("pin") == "12"


def test_multiset_splits_and_unquotes_its_items_as_freeswitch_does() -> None:
    """switch_separate_string: paired single quotes are removed (a quoted run keeps the
    separator, even from one value to the next), a lone one stays, trailing spaces go (as on a
    real FreeSWITCH: a caller ID name "Pat 'the cat' Smith" set with multiset reads "Pat the
    cat Smith")."""
    with call(Scenario(time_scale=FAST)) as (peer, _):
        peer.connect(MYEVENTS)
        peer.execute("multiset", "^^|a=Pat 'the cat' Smith|b=O'Brien|d=trail  ")
        assert [peer.getvar(name) for name in "abd"] == ["Pat the cat Smith", "O'Brien", "trail"]
        peer.execute("multiset", "^^|e=O'Brien|f='x'")  # the quote of O'Brien pairs with the next one
        assert peer.getvar("e") == "OBrien|f=x'"


def test_read_times_out_without_digits_and_timed_presses_reach_a_later_read() -> None:
    scenario = Scenario(time_scale=FAST, keypresses=(Keypress("42", at=0.2),))
    with call(scenario) as (peer, _):
        peer.connect(MYEVENTS)
        peer.execute("read", "1 2 prompt.wav first 100 #")
        assert peer.getvar("read_result") == "timeout"
        peer.execute("sleep", "30000")  # digits pressed while sleeping stay queued
        peer.execute("read", "1 2 prompt.wav second 100 #")
        assert peer.getvar("second") == "42"


def test_a_terminator_stops_a_playback_and_other_digits_are_dropped() -> None:
    scenario = Scenario(playback_seconds=0.5, keypresses=(Keypress("3*"),))
    with call(scenario) as (peer, _):
        peer.connect(MYEVENTS)
        started = time.monotonic()
        complete = peer.execute("playback", "long.wav")
        assert time.monotonic() - started < 0.4
        assert complete["Application-Response"] == "FILE PLAYED"
        assert complete["variable_playback_terminator_used"] == "*"
        peer.execute("read", "1 1 x.wav digit 50 #")
        assert peer.getvar("digit") == ""


def test_a_missing_file_and_a_caller_hanging_up_mid_playback() -> None:
    scenario = Scenario(playback_seconds=5, missing_files=("nope",), hangup_during=("playback", 0.05))
    with call(scenario) as (peer, simulated):
        peer.connect(MYEVENTS)
        assert peer.execute("playback", "/media/nope.wav")["Application-Response"] == "FILE NOT FOUND"
        assert peer.execute("playback", "/media/yes.wav")["Application-Response"] == "PLAYBACK ERROR"
        socket_app = peer.until("CHANNEL_EXECUTE_COMPLETE", Application="socket")
        assert socket_app["Application-Response"] == "PLAYBACK ERROR"
        order = peer.names()[peer.names().index("CHANNEL_HANGUP"):]
        assert order == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE"]
        assert simulated.get(timeout=5).closed_by == "freeswitch"


def test_record_stops_when_the_caller_hangs_up_and_reports_its_length(tmp_path: Path) -> None:
    scenario = Scenario(record_seconds=30, hangup_during=("record", 0.1))
    target = str(tmp_path / "vm" / "msg.wav")
    with call(scenario) as (peer, simulated):
        # RECORD_* are not among myevents' events: they come with `event plain`.
        peer.connect(MYEVENTS, wire.command("event", "plain", "RECORD_START", "RECORD_STOP"), wire.command("linger"))
        peer.execute("answer")
        peer.execute("mkdir", str(tmp_path / "vm"))
        complete = peer.execute("record", f"{target} 120 200 3")
        names = peer.names()
        assert names.index("RECORD_START") < names.index("CHANNEL_HANGUP") < names.index("RECORD_STOP")
        assert peer.until("RECORD_STOP")["Record-File-Path"] == target
        assert 50 <= int(complete["variable_record_ms"]) < 5000
        peer.sock.close()
        path, seconds = simulated.get(timeout=5).recordings[0]
        assert path == target and 0.05 <= seconds < 5
    with wave.open(target) as recorded:
        assert abs(recorded.getnframes() / recorded.getframerate() - seconds) < 0.01


def test_record_into_a_missing_folder_records_nothing_and_hangs_up_as_freeswitch_does(tmp_path: Path) -> None:
    with call(Scenario(record_seconds=1)) as (peer, simulated):
        peer.connect(MYEVENTS, wire.command("event", "plain", "RECORD_START", "RECORD_STOP"), wire.command("linger"))
        peer.execute("answer")
        complete = peer.execute("record", f"{tmp_path}/missing/msg.wav 120 200 3")
        assert "variable_record_ms" not in complete
        assert "RECORD_START" not in peer.names()
        peer.sock.close()
        record = simulated.get(timeout=5)
        assert record.hangup_cause == "DESTINATION_OUT_OF_ORDER" and record.recordings == []


@pytest.mark.parametrize(
    ("outcome", "cause", "sip", "rang"),
    [("busy", "USER_BUSY", "486", True), ("rejected", "CALL_REJECTED", "603", True),
     ("unreachable", "NORMAL_TEMPORARY_FAILURE", "503", False), ("no_answer", "ALLOTTED_TIMEOUT", None, True)],
)
def test_a_failed_bridge_hangs_the_caller_up_with_its_cause(outcome: str, cause: str, sip: str | None,
                                                            rang: bool) -> None:
    with call(Scenario(time_scale=FAST, bridges=(BridgeOutcome(outcome),))) as (peer, simulated):
        peer.connect(MYEVENTS)
        complete = peer.execute("bridge", "{leg_timeout=20}sofia/lab/1001@127.0.0.1:5090")
        assert complete["Application-Response"] == "_none_"
        for variable in ("originate_disposition", "originate_failed_cause", "DIALSTATUS", "last_bridge_hangup_cause"):
            assert complete["variable_" + variable] == cause
        assert complete.get("variable_sip_invite_failure_status") == sip
        assert ("CHANNEL_PROGRESS" in peer.names()) is rang
        assert peer.names().index("CHANNEL_HANGUP") < peer.names().index("CHANNEL_EXECUTE_COMPLETE")
        assert simulated.get(timeout=5).hangup_cause == cause


def test_continue_on_fail_keeps_the_caller_and_the_next_attempt_gets_the_next_outcome() -> None:
    bridges = (BridgeOutcome("busy"), BridgeOutcome("answered", talk=0.02))
    with call(Scenario(bridges=bridges)) as (peer, simulated):
        peer.connect(MYEVENTS)
        peer.execute("set", "continue_on_fail=USER_BUSY,NO_ANSWER")
        peer.execute("set", "hangup_after_bridge=true")
        assert peer.execute("bridge", "user/1001@lab")["variable_DIALSTATUS"] == "USER_BUSY"
        assert "CHANNEL_HANGUP" not in peer.names()
        complete = peer.execute("bridge", "user/1002@lab")
        bridge = peer.until("CHANNEL_BRIDGE")
        assert bridge["Other-Leg-Unique-ID"] == complete["variable_bridge_uuid"]
        assert bridge["Other-Leg-Destination-Number"] == "1002"
        after = peer.names()[peer.names().index("CHANNEL_BRIDGE"):]
        assert after[:4] == ["CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE"]
        assert simulated.get(timeout=5).app_names() == ["set", "set", "bridge", "bridge"]


def test_an_internal_caller_is_an_authenticated_device_of_its_account() -> None:
    scenario = Scenario(internal_user="1001", account_id="acc-1", caller_name="Ann\nEvent-Name: FORGED")
    with call(scenario) as (peer, _):
        data = peer.connect()
        assert data.headers["variable_sip_authorized"] == "true"
        assert data.headers["variable_sip_auth_username"] == data.headers["variable_sip_from_user"] == "1001"
        assert data.headers["variable_controller_account_id"] == "acc-1"
        assert data.headers["Caller-Caller-ID-Name"] == "Ann\nEvent-Name: FORGED"
        assert data.headers["Event-Name"] == "CHANNEL_DATA"


def test_unknown_commands_apps_and_apis_answer_as_freeswitch_does() -> None:
    with call(Scenario(time_scale=FAST)) as (peer, _):
        peer.connect(MYEVENTS)
        assert peer.command(wire.command("fly")).reply_text == "-ERR command not found"
        assert peer.command(wire.command("api", "fly", "away")).body == b"-ERR fly Command not found!\n"
        assert peer.execute("fifo", "queue@default in")["Application-Response"] == "_none_"
        wrong = wire.sendmsg("answer", uuid="not-this-call")
        assert peer.command(wrong).reply_text == "-ERR invalid session id [not-this-call]"
        assert peer.command(wire.command("exit")).reply_text == "+OK bye"
        assert peer.rest() == []


def test_many_calls_at_a_given_rate_all_complete() -> None:
    def controller(sock: gsocket.socket, _: Any) -> None:
        with sock:
            peer = Peer(sock)
            peer.connect(MYEVENTS)
            peer.execute("answer")
            sock.sendall(wire.sendmsg_hangup())
            peer.rest()

    server = StreamServer(("127.0.0.1", 0), controller)
    server.start()
    try:
        result = drive(server.address, Scenario(), calls=40, rate=400, timeout=10)
    finally:
        server.stop(timeout=1)
    assert (result.completed, result.failures) == (40, 0)
    assert all(isinstance(r, CallRecord) and r.hangup_cause == "NORMAL_CLEARING" for r in result.records)
    assert result.peak_concurrent >= 1
