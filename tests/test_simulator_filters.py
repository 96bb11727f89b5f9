"""`filter` on the simulator's event sockets, as mod_event_socket answers it and tests each event
(mod_event_socket.c: parse_command's `filter`, event_handler): a watcher that subscribes the
fewest events and filters them must get exactly what a real FreeSWITCH would send it."""

from collections.abc import Iterator

import gevent
import pytest
from gevent import socket as gsocket
from gevent.server import StreamServer

from controller.esl import wire
from controller.lab.inbound import InboundServer
from controller.lab.scenario import BridgeOutcome, Scenario
from controller.lab.simulator import run_call
from controller.lab.subscriptions import Filters

HEADERS = {"Event-Name": "CHANNEL_DESTROY", "Unique-ID": "abc-1", "Call-Direction": "outbound",
           "variable_controller_account_id": "acme"}


def passes(*filters: tuple[str, str]) -> bool:
    found = Filters()
    for header, value in filters:
        assert found.command(f"{header} {value}").startswith("+OK filter added.")
    return found.passes(HEADERS.get)


def test_no_filter_lets_every_event_through() -> None:
    assert Filters().passes(HEADERS.get)


def test_an_event_passes_when_one_filter_matches_its_header_case_aside() -> None:
    assert passes(("Unique-ID", "zzz"), ("Call-Direction", "OUTBOUND"))
    assert not passes(("Unique-ID", "zzz"))


def test_a_filter_on_a_header_the_event_lacks_keeps_it_back() -> None:
    assert not passes(("Other-Leg-Unique-ID", "abc-1"))


def test_a_negative_filter_keeps_back_what_it_matches_even_after_a_match() -> None:
    assert not passes(("Event-Name", "CHANNEL_DESTROY"), ("Call-Direction", "-outbound"))
    assert passes(("Event-Name", "CHANNEL_DESTROY"), ("Call-Direction", "-inbound"))


def test_a_value_between_slashes_is_a_regular_expression_with_its_flags() -> None:
    assert passes(("variable_controller_account_id", "/^ac/"))
    assert passes(("Unique-ID", "/ABC-\\d/i"))
    assert not passes(("Unique-ID", "/^bc/"))


def test_filter_replies_and_deletes_as_freeswitch_does() -> None:
    found = Filters()
    assert found.command("Unique-ID abc-1") == "+OK filter added. [Unique-ID]=[abc-1]"
    assert found.command("add Unique-ID abc-2") == "+OK filter added. [Unique-ID]=[abc-2]"
    assert found.command("Unique-ID") == "-ERR invalid syntax"
    assert found.command("delete Unique-ID abc-1") == "+OK filter deleted. [Unique-ID][abc-1]"
    assert found.passes({"Unique-ID": "abc-2"}.get) and not found.passes({"Unique-ID": "abc-1"}.get)
    assert found.command("delete all") == "+OK filter deleted. [all][]"
    assert not found


@pytest.fixture()
def inbound() -> Iterator[InboundServer]:
    server = InboundServer()
    server.start()
    yield server
    server.stop()


def subscribe(server: InboundServer, *commands: str) -> tuple[gsocket.socket, Iterator[wire.Frame], list[str]]:
    sock = gsocket.create_connection(server.address, timeout=5)
    frames = iter(wire.FrameReader(sock))
    next(frames)  # auth/request
    replies = []
    for command in ("auth ClueCon", *commands):
        sock.sendall(wire.command(command))
        replies.append(next(frames).reply_text)
    return sock, frames, replies


def bridging_server(*commands: str, events: list[str] | None = None) -> StreamServer:
    """An outbound ESL server that sends `commands` after myevents, then one bridge nobody
    answers, and closes after the hangup; the events it receives go into `events`."""

    def serve(sock: gsocket.socket, _: object) -> None:
        with sock:
            frames = iter(wire.FrameReader(sock))
            for command in ("connect", "myevents", *commands):
                sock.sendall(wire.command(command))
                next(frames)
            sock.sendall(b"sendmsg\ncall-command: execute\nexecute-app-name: bridge\n"
                         b"execute-app-arg: {leg_timeout=1}sofia/lab/1001@127.0.0.1:5090\n\n")
            for frame in frames:
                name = wire.parse_event(frame).name if frame.is_event else frame.content_type
                if events is not None:
                    events.append(name)
                if name in ("CHANNEL_HANGUP_COMPLETE", "text/disconnect-notice"):
                    return

    server = StreamServer(("127.0.0.1", 0), serve)
    server.start()
    return server


def test_an_inbound_watcher_gets_only_the_events_its_filters_let_through(inbound: InboundServer) -> None:
    sock, frames, replies = subscribe(inbound, "event plain CHANNEL_CREATE CHANNEL_DESTROY",
                                      "filter Call-Direction inbound")
    assert replies == ["+OK accepted", "+OK event listener enabled plain",
                       "+OK filter added. [Call-Direction]=[inbound]"]
    seen: list[tuple[str, str]] = []

    def collect() -> None:
        for frame in frames:
            event = wire.parse_event(frame)
            seen.append((event.name, event["Unique-ID"]))

    collector = gevent.spawn(collect)
    server = bridging_server()
    try:
        record = run_call(server.address, Scenario(bridges=(BridgeOutcome("no_answer", timeout=0.01),)),
                          timeout=10, inbound=inbound)
    finally:
        server.stop()
    assert record.app_names() == ["bridge"]
    with gevent.Timeout(10):
        while len(seen) < 2:
            gevent.sleep(0.01)
    gevent.sleep(0.1)  # nothing more comes: the callee's leg (outbound) is filtered out
    sock.close()
    collector.kill()
    assert seen == [("CHANNEL_CREATE", record.uuid), ("CHANNEL_DESTROY", record.uuid)]


def test_the_outbound_socket_filters_the_channels_own_events_too() -> None:
    events: list[str] = []
    server = bridging_server("filter Event-Name CHANNEL_HANGUP_COMPLETE", events=events)
    try:
        record = run_call(server.address, Scenario(bridges=(BridgeOutcome("no_answer", timeout=0.01),)), timeout=10)
        with gevent.Timeout(10):
            while "CHANNEL_HANGUP_COMPLETE" not in events:
                gevent.sleep(0.01)
    finally:
        server.stop()
    assert record.events == ["CHANNEL_HANGUP_COMPLETE"]
    assert [name for name in events if name.startswith("CHANNEL_")] == ["CHANNEL_HANGUP_COMPLETE"]
