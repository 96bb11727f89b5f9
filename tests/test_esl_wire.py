"""The ESL wire format against real FreeSWITCH captures, fed in arbitrary segments."""

import random
from pathlib import Path

import pytest

from controller.errors import ESLProtocolError
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
