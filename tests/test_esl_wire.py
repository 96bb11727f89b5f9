"""The ESL wire format against real FreeSWITCH captures, fed in arbitrary segments."""

import random
from pathlib import Path

import pytest

from controller.errors import ControllerError, ESLProtocolError
from controller.esl import wire
from controller.lab.capture import read_capture, received_stream

TRACES = Path(__file__).parent / "fixtures" / "esl-traces"
SCENARIOS = sorted(p.stem for p in TRACES.glob("*.txt") if ".inbound" not in p.name)


class Chunks:
    """A socket stand-in that returns the stream in the given piece sizes (then EOF)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos = data, sizes, 0

    def recv(self, _: int) -> bytes:
        size = self.sizes[self.pos % len(self.sizes)] if self.sizes else len(self.data)
        chunk = self.data[: max(1, size)]
        self.data = self.data[len(chunk) :]
        self.pos += 1
        return chunk


def frames_of(data: bytes, sizes: list[int]) -> list[wire.Frame]:
    return list(wire.FrameReader(Chunks(data, sizes)))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_captured_frame_parses_whatever_the_segmentation(scenario: str) -> None:
    path = TRACES / f"{scenario}.txt"
    stream = received_stream(path)
    expected = [b for b in read_capture(path) if b.received]
    whole = frames_of(stream, [])
    assert len(whole) == len(expected)
    rng = random.Random(scenario)
    for sizes in ([1], [7, 13, 1, 4096], [rng.randrange(1, 3000) for _ in range(50)]):
        pieces = frames_of(stream, sizes)
        assert [(f.headers, f.body) for f in pieces] == [(f.headers, f.body) for f in whole]


def test_connect_reply_is_decoded_and_replies_are_not() -> None:
    frames = frames_of(received_stream(TRACES / "answer.txt"), [])
    connect, myevents = frames[0], frames[1]
    assert connect.content_type == "command/reply"
    assert connect.headers["Reply-Text"] == "+OK\n"
    assert connect.headers["Caller-Destination-Number"] == "15551234567"
    assert len(connect.headers) > 150
    assert myevents.headers["Reply-Text"] == "+OK Events Enabled"


def test_events_are_named_cheaply_and_parsed_fully_on_demand() -> None:
    frames = frames_of(received_stream(TRACES / "answer.txt"), [])
    events = [wire.parse_event(f) for f in frames if f.content_type == "text/event-plain"]
    names = [e.name for e in events]
    assert names[:3] == ["CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE"]
    complete = events[2]
    assert complete["Application"] == "answer"
    assert complete["Application-Response"] == "_none_"
    completions = [e for e in events if e.name == "CHANNEL_EXECUTE_COMPLETE"]
    played = next(e for e in completions if e["Application"] == "playback")
    assert played["Application-Response"] == "FILE PLAYED"
    assert played["Application-Data"] == "tone_stream://%(500,500,440);loops=2"


def test_a_newline_in_a_caller_id_name_stays_inside_its_value() -> None:
    body = b"Event-Name: CHANNEL_ANSWER\nCaller-Caller-ID-Name: Bob%0AEvent-Name: FORGED\nUnique-ID: u1\n\n"
    frame = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body
    event = wire.parse_event(frames_of(frame, [5])[0])
    assert event.name == "CHANNEL_ANSWER"
    assert event["Caller-Caller-ID-Name"] == "Bob\nEvent-Name: FORGED"
    assert event["Unique-ID"] == "u1"


def test_an_event_body_of_its_own_is_not_read_as_headers() -> None:
    inner = b"Hangup-Cause: FORGED\nApplication-UUID: forged\n\n"
    body = b"Event-Name: MESSAGE\nUnique-ID: u1\nContent-Length: %d\n\n" % len(inner) + inner
    frame = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body
    parsed = frames_of(frame, [7])[0]
    event = wire.parse_event(parsed)
    assert wire.event_name(parsed) == event.name == "MESSAGE"
    assert event["Unique-ID"] == "u1"
    assert "Hangup-Cause" not in event and event.get("Application-UUID") is None
    assert dict(event) == {"Event-Name": "MESSAGE", "Unique-ID": "u1", "Content-Length": str(len(inner))}


def test_burst_then_close_yields_every_frame_before_the_end() -> None:
    path = TRACES / "answer_nolinger.txt"
    stream = received_stream(path)
    frames = frames_of(stream, [len(stream)])  # everything in one recv, then EOF
    assert frames[-1].content_type == "text/disconnect-notice"


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: text/event-plain\nContent-Length: 50\n\nEvent-Name: X\n",  # body cut short
        b"Content-Type: api/response\nContent-Length: -3\n\nabc",
        b"Content-Type: api/response\nContent-Length: lots\n\nabc",
        b"Content-Type: api/response\nContent-Length: 999999999999\n\n",
        b"this is not a header\n\n",
        b"Content-Type: command/reply\nReply-Text: +OK",  # header block cut short
    ],
)
def test_broken_frames_raise_instead_of_spinning(data: bytes) -> None:
    with pytest.raises(ESLProtocolError):
        frames_of(data, [3])


def test_a_frame_without_content_type_is_just_a_frame() -> None:
    frames = frames_of(b"Reply-Text: +OK\n\nContent-Type: command/reply\nReply-Text: +OK\n\n", [])
    assert [f.content_type for f in frames] == ["", "command/reply"]


def test_commands_cannot_carry_line_breaks() -> None:
    with pytest.raises(ValueError):
        wire.command("api status\nexit")
    with pytest.raises(ValueError):
        wire.sendmsg("playback", "file.wav\nexecute-app-name: system")
    sent = wire.sendmsg("playback", "tone_stream://%(100,0,440)", event_uuid="e1")
    assert sent == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        b"execute-app-arg: tone_stream://%(100,0,440)\nevent-lock: true\nEvent-UUID: e1\n\n"
    )


def captured_bodies() -> list[bytes]:
    bodies = []
    for path in sorted(TRACES.glob("*.txt")):
        reader = wire.FrameReader(None)
        reader.feed(received_stream(path))
        bodies.extend(frame.body for frame in reader if frame.is_event)
    return bodies


def test_encoding_reproduces_every_captured_event_body_byte_for_byte() -> None:
    bodies = captured_bodies()
    assert len(bodies) > 150
    for body in bodies:
        lines = body.decode().split("\n")[:-2]  # the block's blank line, then the body's end
        pairs = [(name, wire.decode_value(value)) for name, _, value in (line.partition(": ") for line in lines)]
        assert wire.encode_headers(pairs) == body


def test_values_are_encoded_as_switch_url_encode_does() -> None:
    assert wire.encode_value("tone_stream://%(500,500,440);loops=2") == "tone_stream%3A//%25(500,500,440)%3Bloops%3D2"
    assert wire.encode_value('"Bob" <sip:b@x>\n') == "%22Bob%22%20%3Csip%3Ab%40x%3E%0A"
    assert wire.encode_value("é+~") == "%C3%A9%2B~"
    # An existing upper-case escape is left alone (FreeSWITCH does not double-encode it).
    assert wire.encode_value("100%41 %4a") == "100%41%20%254a"


def test_command_reply_headers_are_written_raw_and_refuse_line_breaks() -> None:
    assert wire.frame_bytes({"Content-Type": "command/reply", "Reply-Text": "+OK will linger"}) == (
        b"Content-Type: command/reply\nReply-Text: +OK will linger\n\n"
    )
    assert wire.frame_bytes([("Content-Type", "api/response")], b"9\n") == (
        b"Content-Type: api/response\nContent-Length: 2\n\n9\n"
    )
    with pytest.raises(ValueError):
        wire.encode_headers({"Reply-Text": "+OK\nEvent-Name: X"}, encode=False)
    with pytest.raises(ValueError):
        wire.encode_headers({"Bad: name": "x"})


def test_parse_headers_keeps_the_first_occurrence_and_tolerates_blank_lines() -> None:
    block = b"Hangup-Cause: NO_ANSWER\nEmpty:\nHangup-Cause: FORGED\nName: a%20b\n\n"
    assert wire.parse_headers(block) == {"Hangup-Cause": "NO_ANSWER", "Empty": "", "Name": "a b"}
    assert wire.parse_headers(block, decode=False)["Name"] == "a%20b"


def test_a_frame_split_at_every_byte_boundary_parses_the_same() -> None:
    stream = (
        b"Content-Type: command/reply\nReply-Text: +OK\n\n"
        b"Content-Type: api/response\nContent-Length: 4\n\n\n\nOK\n"
    )
    whole = [(f.headers, f.body) for f in frames_of(stream, [])]
    assert whole[1][1] == b"\n\nOK"
    for cut in range(1, len(stream)):
        assert [(f.headers, f.body) for f in frames_of(stream, [cut, len(stream)])] == whole


def test_stray_blank_lines_between_frames_and_a_clean_eof_are_not_errors() -> None:
    frames = frames_of(b"\n\nContent-Type: command/reply\nReply-Text: +OK\n\n\n", [2])
    assert [f.reply_text for f in frames] == ["+OK"]
    assert frames_of(b"", [1]) == []


@pytest.mark.parametrize("length", ["+5", "²", "5 5", "0x10", ""])
def test_a_content_length_that_is_not_plain_decimal_is_refused(length: str) -> None:
    with pytest.raises(wire.FrameError):
        frames_of(f"Content-Type: api/response\nContent-Length: {length}\n\nhello".encode(), [])


def test_an_endless_header_block_is_refused() -> None:
    with pytest.raises(wire.FrameError, match="too large"):
        frames_of(b"X-Junk: " + b"a" * (wire.MAX_HEADER_BLOCK + 10), [65536])


def test_frame_error_is_a_protocol_error_of_the_controller() -> None:
    assert issubclass(wire.FrameError, ESLProtocolError)
    assert issubclass(wire.FrameError, ControllerError)


def test_command_builders() -> None:
    assert wire.command("linger", "5") == wire.command("linger 5") == b"linger 5\n\n"
    assert wire.sendmsg("answer", event_lock=False, uuid="u-1") == (
        b"sendmsg u-1\ncall-command: execute\nexecute-app-name: answer\n\n"
    )
    assert wire.sendmsg_hangup("NO_ANSWER") == b"sendmsg\ncall-command: hangup\nhangup-cause: NO_ANSWER\n\n"
    for build in (
        lambda: wire.command("api", "uuid_kill x\r"),
        lambda: wire.sendmsg("answer", uuid="u\nexecute-app-name: system"),
        lambda: wire.sendmsg_hangup("NORMAL\nCLEARING"),
        lambda: wire.sendmsg("playback", "a.wav", event_uuid="e\n"),
        lambda: wire.command(""),
    ):
        with pytest.raises(ValueError):
            build()


def test_commands_are_read_as_freeswitch_reads_them() -> None:
    stream = (
        b"connect\n\nmyevents\n\n"
        b"sendmsg\nCall-Command: execute\nexecute-app-name: playback\nevent-uuid: e1\n\n"
        b"sendmsg\ncall-command: execute\nexecute-app-name: speak\ncontent-length: 11\n\nhello\nworld"
        b"api uuid_getvar u1 x\n\n"
    )
    reader = wire.CommandReader(Chunks(stream, [3]))
    commands = list(reader)
    assert [c.line for c in commands] == ["connect", "myevents", "sendmsg", "sendmsg", "api uuid_getvar u1 x"]
    assert commands[2].headers == {"call-command": "execute", "execute-app-name": "playback", "event-uuid": "e1"}
    assert commands[3].body == b"hello\nworld"
    assert (commands[4].name, commands[4].arg) == ("api", "uuid_getvar u1 x")


def test_an_event_header_block_is_read_alike_by_the_short_path_and_the_general_one() -> None:
    body = b"Event-Name: CHANNEL_ANSWER\nUnique-ID: u1\n\n"
    usual = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body
    unusual = b"Content-Length: %d\nX-Extra: 1\nContent-Type: text/event-plain\n\n" % len(body) + body
    reader = wire.FrameReader(None)
    reader.feed(usual + unusual)
    frames = list(reader)
    assert [f.content_type for f in frames] == ["text/event-plain", "text/event-plain"]
    assert [f.body for f in frames] == [body, body]
    assert frames[1].headers["X-Extra"] == "1"
    assert wire.parse_event(frames[0]).name == "CHANNEL_ANSWER"


def test_application_uuid_is_the_last_line_of_its_name() -> None:
    block = b"Event-Name: CHANNEL_EXECUTE_COMPLETE\nvariable_x: Application-UUID%3A%20forged\nApplication-UUID: real\n"
    event = wire.Event(block)
    assert event.last("Application-UUID") == "real" == event["Application-UUID"]
    assert wire.Event(b"Event-Name: X\nApplication-UUID: only\nOther: 1").last("Application-UUID") == "only"
    assert wire.Event(b"Event-Name: X\n").last("Application-UUID") is None
