"""Each greenswitch defect the session fixes, reproduced over real TCP: a scripted FreeSWITCH
peer (raw bytes) or the simulator dials a server that runs our Session."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket
from gevent.event import AsyncResult
from gevent.server import StreamServer

from controller.errors import ChannelGoneError, CommandError
from controller.esl import wire
from controller.esl.confinement import Confinement
from controller.esl.session import Session
from controller.lab.scenario import Scenario
from controller.lab.simulator import run_call

Script = Callable[[Session], Any]


@pytest.fixture
def session_server() -> Iterator[Callable[[Script], tuple[tuple[str, int], AsyncResult]]]:
    """Starts a server whose handler runs `script(session)`; the result lands in an AsyncResult."""
    servers: list[StreamServer] = []

    def start(script: Script) -> tuple[tuple[str, int], AsyncResult]:
        outcome: AsyncResult = AsyncResult()

        def handle(sock: gsocket.socket, address: Any) -> None:
            session = Session(sock, address, command_timeout=0.5)
            try:
                outcome.set(script(session))
            except Exception as exc:
                outcome.set_exception(exc)
            finally:
                session.close()

        server = StreamServer(("127.0.0.1", 0), handle)
        server.start()
        servers.append(server)
        return server.address, outcome

    yield start
    for server in servers:
        server.stop(timeout=1)


def peer(address: tuple[str, int], *chunks: bytes, read_first: bool = True) -> gsocket.socket:
    """A scripted FreeSWITCH: waits for the first command, then writes raw bytes."""
    sock = gsocket.create_connection(address)
    if read_first:
        sock.recv(65536)
    for chunk in chunks:
        sock.sendall(chunk)
    return sock


CONNECT_REPLY = (
    b"Event-Name: CHANNEL_DATA\nUnique-ID: u-1\nCaller-Caller-ID-Name: Bob%0AEvent-Name: FORGED\n"
    b"Caller-Destination-Number: 1000\nContent-Type: command/reply\nReply-Text: %2BOK%0A\n\n"
)


def test_a_newline_in_the_caller_id_name_cannot_forge_a_header(session_server: Any) -> None:
    address, outcome = session_server(lambda s: dict(s.connect()))
    sock = peer(address, CONNECT_REPLY)
    data = outcome.get(timeout=5)
    sock.close()
    assert data["Caller-Caller-ID-Name"] == "Bob\nEvent-Name: FORGED"
    assert data["Event-Name"] == "CHANNEL_DATA"


def test_last_events_of_a_burst_and_close_are_not_lost(session_server: Any) -> None:
    seen: list[str] = []

    def script(session: Session) -> list[str]:
        session.listener = lambda name, event: seen.append(name)
        session.connect()
        session.myevents()  # no linger: FreeSWITCH sends its last events and closes at once
        session.execute("hangup", "NORMAL_CLEARING", timeout=5)
        session.wait_gone(5)
        gevent.sleep(0.05)
        return seen

    address, outcome = session_server(script)
    record = run_call(address, Scenario(), timeout=5)
    names = outcome.get(timeout=5)
    assert record.closed_by == "freeswitch"
    assert names[-1] == "CHANNEL_HANGUP_COMPLETE"
    assert "CHANNEL_HANGUP" in names


def test_a_peer_that_never_replies_times_out(session_server: Any) -> None:
    address, outcome = session_server(lambda s: s.connect())
    sock = peer(address)  # reads `connect`, answers nothing
    with pytest.raises(CommandError, match="no reply within"):
        outcome.get(timeout=5)
    sock.close()


def test_completion_is_matched_by_application_uuid_not_name(session_server: Any) -> None:
    def script(session: Session) -> str:
        session.connect()
        session.myevents()
        return session.execute("playback", "second.wav", timeout=5)["Application-Data"]

    address, outcome = session_server(script)
    sock = peer(address, CONNECT_REPLY)
    sock.recv(65536)  # myevents
    sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    sendmsg = sock.recv(65536).decode()
    event_uuid = next(line.split(": ")[1] for line in sendmsg.split("\n") if line.startswith("Event-UUID"))

    def completion(data: str, app_uuid: str) -> bytes:
        body = wire.encode_headers([
            ("Event-Name", "CHANNEL_EXECUTE_COMPLETE"), ("Application", "playback"),
            ("Application-Data", data), ("Application-UUID", app_uuid),
        ])
        return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body

    sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    sock.sendall(completion("first.wav", "some-other-uuid") + completion("second.wav", event_uuid))
    assert outcome.get(timeout=5) == "second.wav"
    sock.close()


def test_a_frame_without_content_type_does_not_kill_the_reader(session_server: Any) -> None:
    def script(session: Session) -> str:
        session.connect()
        return session.send("myevents")[0]

    address, outcome = session_server(script)
    sock = peer(address, CONNECT_REPLY)
    sock.recv(65536)
    sock.sendall(b"Reply-Text: +OK stray\n\nContent-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    assert outcome.get(timeout=5) == "+OK Events Enabled"
    sock.close()


def test_an_err_reply_raises(session_server: Any) -> None:
    def script(session: Session) -> Any:
        session.connect()
        session.myevents()
        session.linger(1)
        session.execute("hangup", "NORMAL_CLEARING", timeout=5)
        return session.send(f"api uuid_getvar {session.uuid} originate_disposition")

    address, outcome = session_server(script)
    run_call(address, Scenario(), timeout=5)
    with pytest.raises(CommandError, match="-ERR No such channel!"):
        outcome.get(timeout=5)


def test_a_body_cut_short_ends_the_session_instead_of_spinning(session_server: Any) -> None:
    def script(session: Session) -> Any:
        session.connect()
        session.myevents()
        return session.execute("answer", timeout=5)

    address, outcome = session_server(script)
    sock = peer(address, CONNECT_REPLY)
    sock.recv(65536)
    sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    sock.recv(65536)
    sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    sock.sendall(b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent")
    sock.close()
    with pytest.raises(ChannelGoneError):
        outcome.get(timeout=5)


def test_nothing_with_a_line_break_reaches_the_wire(session_server: Any) -> None:
    def script(session: Session) -> Any:
        session.connect()
        session.send("api status\nexit")

    address, outcome = session_server(script)
    sock = peer(address, CONNECT_REPLY)
    with pytest.raises(ValueError, match="line break"):
        outcome.get(timeout=5)
    sock.close()


def test_variables_from_callers_are_inert(session_server: Any) -> None:
    def script(session: Session) -> Any:
        session.connect()
        session.myevents()
        session.set_variables({"effective_caller_id_name": "${system(rm -rf /)}\r\nX: y"})
        session.execute("hangup", timeout=5)

    address, outcome = session_server(script)
    record = run_call(address, Scenario(), timeout=5)
    outcome.get(timeout=5)
    multiset = record.args_of("multiset")[0]
    assert "$" not in multiset and "\n" not in multiset
    assert "effective_caller_id_name=\uff04{system(rm -rf /)}  X: y" in multiset
    assert record.api_calls == []


def test_setup_takes_the_unread_events_off_and_survives_a_refused_nixevent(session_server: Any) -> None:
    """connect, myevents, nixevent and linger leave in one write; an -ERR to nixevent (a
    FreeSWITCH that would not have it) still gives the call its channel data."""
    address, outcome = session_server(lambda s: s.connect_and_subscribe(1)["Unique-ID"])
    sock = gsocket.create_connection(address)
    received = b""
    with gevent.Timeout(5):
        while received.count(b"\n\n") < 4:
            received += sock.recv(65536)
    lines = [block.split(b"\n")[0].decode() for block in received.split(b"\n\n") if block]
    assert [line.split()[0] for line in lines] == ["connect", "myevents", "nixevent", "linger"]
    nixed = set(lines[2].split()[1:])
    assert nixed >= {"CHANNEL_EXECUTE", "CHANNEL_STATE", "CHANNEL_UNPARK"}
    assert not nixed & {"CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE", "DTMF"}
    sock.sendall(
        CONNECT_REPLY
        + b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n"
        + b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"
        + b"Content-Type: command/reply\nReply-Text: +OK will linger 1 seconds\n\n"
    )
    assert outcome.get(timeout=5) == "u-1"
    sock.close()


def test_a_close_after_the_channel_is_gone_fails_what_still_waits_for_a_reply(session_server: Any) -> None:
    """Gone first (CHANNEL_HANGUP_COMPLETE), closed later: a command written in between fails
    with the close, not after its reply timeout."""

    def script(session: Session) -> tuple[float, str]:
        session.session_data = {"Unique-ID": "u-1"}
        session.wait_gone(5)
        started = time.monotonic()
        try:
            session.send("api uptime")
        except ChannelGoneError as exc:
            return time.monotonic() - started, str(exc)
        return -1.0, "answered"

    address, outcome = session_server(script)
    body = b"Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: u-1\n\n"
    sock = peer(address, b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body, read_first=False)
    sock.recv(65536)  # the api command
    sock.close()
    waited, why = outcome.get(timeout=5)
    assert why == "socket closed" and 0 <= waited < 0.4  # (the reply timeout is 0.5 s)


def test_an_api_command_naming_another_accounts_file_is_not_sent(session_server: Any) -> None:
    """A module's `uuid_displace` names a file as `playback` does: the same checks, before sending."""
    theirs = "/srv/voicemail/acct-other/box/m.wav"

    def script(session: Session) -> Any:
        session.connect()
        session.myevents()
        session.confinement = Confinement("acct-mine", ["/srv/voicemail"])
        with pytest.raises(CommandError, match="not in this account's folder"):
            session.api(f"uuid_displace {session.uuid} start '{theirs}' 0")
        with pytest.raises(CommandError, match="refused: a path climbs"):
            session.call_command("playback", "../../acct-other/box/m.wav")
        mine = session.api(f"uuid_getvar {session.uuid} uuid")  # its own: sent
        session.execute("hangup", timeout=5)
        return mine

    address, outcome = session_server(script)
    record = run_call(address, Scenario(), timeout=5)
    assert outcome.get(timeout=5).strip()
    assert not any(theirs in call for call in record.api_calls)
    assert "playback" not in record.app_names()


def test_a_freeswitch_hook_is_never_assigned_and_the_simulator_runs_one_that_is(session_server: Any) -> None:
    """No set, export, multiset or uuid_setvar of a hook leaves the session (controller/esl/hooks.py);
    one that reached FreeSWITCH anyway would run at the hangup, as the simulator shows."""
    def script(session: Session) -> Any:
        session.connect()
        session.myevents()
        with pytest.raises(CommandError, match="api_hangup_hook makes FreeSWITCH run commands"):
            session.set_variables({"department": "sales", "api_hangup_hook": "system id"})
        with pytest.raises(CommandError, match="execute_on_answer makes FreeSWITCH run commands"):
            session.execute("export", "nolocal:execute_on_answer=bgsystem id")
        with pytest.raises(CommandError, match="api_on_answer makes FreeSWITCH run commands"):
            session.api(f"uuid_setvar {session.uuid} api_on_answer system id")
        # the raw wire, past every check: what FreeSWITCH would then do
        session._send(wire.sendmsg("set", "api_hangup_hook=system id", event_uuid=session.next_event_uuid()))
        session.execute("hangup", timeout=5)

    address, outcome = session_server(script)
    record = run_call(address, Scenario(), timeout=5)
    outcome.get(timeout=5)
    assert record.app_names() == ["set", "hangup"]
    assert record.api_calls == [("api_hangup_hook", "system id")]
