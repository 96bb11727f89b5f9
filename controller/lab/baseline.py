"""The benchmark's baselines, each in its own process started by `controller lab bench`, so that
all are measured against the same simulator:

- a bare greenswitch outbound application (greenswitch's own OutboundESLServer and
  OutboundSession, no fixes) sending the same commands as the controller's benchmark callflow:
  answer -> play -> bridge (no answer) -> hangup;
- `--floor`: a raw gevent server speaking the same ESL dialogue with the least work possible
  (no parsing beyond the framing, no Redis, no callflow): what one call costs gevent and the
  kernel on this machine, and how much setup latency the simulator and the machine add anyway.
  `--floor --dialogue tone` speaks the dialogue of `controller lab bench-freeswitch`'s callflow
  instead (answer -> 200 ms tone -> hangup), against a real FreeSWITCH.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import uuid
from collections.abc import Iterator

from gevent import monkey

monkey.patch_all()

from gevent import socket as gsocket
from gevent.server import StreamServer
from greenswitch import esl

from controller.esl.session import UNREAD_EVENTS

MEDIA = "tone_stream://%(100,0,440)"
DIAL = "{leg_timeout=1}user/1001@bench.example.com"


class BaselineApplication:
    """One call, with greenswitch's blocking calls (completion matched by application name)."""

    def __init__(self, session: esl.OutboundSession) -> None:
        self.session = session

    def run(self) -> None:
        session = self.session
        try:
            session.myevents()
            session.linger()
            session.call_command("answer", block=True, response_timeout=30)
            session.playback(MEDIA)
            session.call_command("set", "continue_on_fail=true", block=True, response_timeout=30)
            session.bridge(DIAL, block=True, response_timeout=30)
            session.call_command("hangup", "NO_ANSWER", block=True, response_timeout=30)
        except Exception:  # a bare application: any failure just ends the call
            logging.debug("baseline call ended early", exc_info=True)


Frame = tuple[bytes, bytes]
Steps = tuple[tuple[str, str], ...]  # applications sent in one write


def frames(sock: gsocket.socket) -> Iterator[Frame]:
    """(header block, body) pairs: the framing and nothing else."""
    buffer = b""
    while True:
        end = buffer.find(b"\n\n")
        while end < 0:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
            end = buffer.find(b"\n\n")
        head = buffer[:end]
        at = head.find(b"Content-Length: ")
        length = int(head[at + 16 :].split(b"\n", 1)[0]) if at >= 0 else 0
        while len(buffer) < end + 2 + length:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
        yield head, buffer[end + 2 : end + 2 + length]
        buffer = buffer[end + 2 + length :]


def sendmsg(app: str, arg: str, event_uuid: str) -> bytes:
    argument = f"execute-app-arg: {arg}\n" if arg else ""
    return (
        f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n{argument}"
        f"event-lock: true\nEvent-UUID: {event_uuid}\n\n"
    ).encode()


def floor_call(sock: gsocket.socket, address: object, dialogue: tuple[Steps, ...] | None = None) -> bool:
    """The controller's commands for the benchmark call, on a raw socket; False when the peer
    went before the call was set up (a probe of the port, not a call)."""
    received = frames(sock)
    replies = 0
    with contextlib.suppress(OSError):
        sock.sendall(SETUP)
        for head, _ in received:
            replies += b"command/reply" in head
            if replies == 4:
                break
    if replies < 4:
        sock.close()
        return False
    for steps in dialogue or FLOOR_STEPS:
        last = str(uuid.uuid4())
        uuids = [str(uuid.uuid4()) for _ in steps[:-1]] + [last]
        sock.sendall(b"".join(sendmsg(app, arg, u) for (app, arg), u in zip(steps, uuids, strict=True)))
        for _, body in received:
            if body.startswith(b"Event-Name: CHANNEL_EXECUTE_COMPLETE") and last.encode() in body:
                break
    for head, body in received:
        if b"disconnect-notice" in head or body.startswith(b"Event-Name: CHANNEL_HANGUP_COMPLETE"):
            break
    sock.close()
    return True


SETUP = b"connect\n\nmyevents\n\nnixevent %s\n\nlinger 1\n\n" % " ".join(UNREAD_EVENTS).encode()
FLOOR_STEPS = (
    (("answer", ""), ("multiset", "^^\x1fplayback_terminators=none"), ("playback", MEDIA)),
    (("multiset", "^^\x1fcontinue_on_fail=true\x1fhangup_after_bridge=true\x1fcall_timeout=1"), ("bridge", DIAL)),
    (("hangup", "NO_ANSWER"),),
)
TONE = "tone_stream://%(200,0,440)"
TONE_STEPS = (
    (("answer", ""), ("multiset", "^^\x1fplayback_terminators=none"), ("playback", TONE)),
    (("hangup", "NORMAL_CLEARING"),),
)


def tone_call(sock: gsocket.socket, address: object) -> None:
    floor_call(sock, address, TONE_STEPS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-connections", type=int, default=100_000)
    parser.add_argument("--floor", action="store_true", help="the raw gevent server instead of greenswitch")
    parser.add_argument("--dialogue", choices=("bench", "tone"), default="bench",
                        help="the floor's calls: lab bench's, or answer -> tone -> hangup")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.floor:
        handler = tone_call if args.dialogue == "tone" else floor_call
        StreamServer(("127.0.0.1", args.port), handler, backlog=4096).serve_forever()
        return
    server = esl.OutboundESLServer(
        bind_address="127.0.0.1",
        bind_port=args.port,
        application=BaselineApplication,
        max_connections=args.max_connections,
    )
    server.listen()


if __name__ == "__main__":
    main()
