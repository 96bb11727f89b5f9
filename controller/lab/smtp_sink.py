"""SMTP sinks for the mail benchmark: they accept every message and append
`<Message-ID> <unix time>` to a file, so the benchmark can match each email to its call.

- `python -m controller.lab.smtp_sink HOST:PORT FILE` is a minimal ESMTP responder on asyncio
  (EHLO with PIPELINING, MAIL, RCPT, DATA, RSET, NOOP, QUIT; every command accepted). aiosmtpd
  spends about 1.1 ms of CPU per message on this machine, which caps one connection near the rate
  a mail sender is asked to reach; this one spends a few tens of microseconds, so the benchmark
  measures the sender and not the server.
- `TimingSink` is the same recorder as an aiosmtpd handler (`python -m aiosmtpd -n -l HOST:PORT
  -c controller.lab.smtp_sink.TimingSink`, file named by CONTROLLER_SINK_FILE), for comparison
  with a full SMTP server implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from typing import IO, Any

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_END_OF_DATA = b"\r\n.\r\n"
_EHLO = b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"


def message_id(content: bytes) -> str:
    """The Message-ID of a message's header block, or "-"."""
    end = content.find(b"\r\n\r\n")
    found = _MESSAGE_ID.search(content, 0, len(content) if end < 0 else end)
    return found.group(1).decode("ascii", "replace") if found else "-"


class TimingSink:
    """aiosmtpd handler: records each message's arrival."""

    def __init__(self) -> None:
        self.path = os.environ.get("CONTROLLER_SINK_FILE", "")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        if self.path:
            with open(self.path, "a", encoding="ascii") as sink:
                sink.write(f"{message_id(envelope.content or b'')} {time.time():.6f}\n")
        return "250 2.0.0 Ok: queued"


class SinkProtocol(asyncio.Protocol):
    """One SMTP client connection: command lines until DATA, then the message until `.`."""

    def __init__(self, record: IO[str]) -> None:
        self.record = record
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        while self.buffer:
            if self.in_data:
                end = self.buffer.find(_END_OF_DATA)
                if end < 0:
                    break
                self.record.write(f"{message_id(self.buffer[:end])} {time.time():.6f}\n")
                self.buffer, self.in_data = self.buffer[end + len(_END_OF_DATA):], False
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                break
            self.buffer = rest
            replies.append(self.reply(line[:4].upper()))
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
            if replies[-1].startswith(b"221"):
                self.transport.close()

    def reply(self, verb: bytes) -> bytes:
        if verb == b"EHLO":
            return _EHLO
        if verb == b"DATA":
            self.in_data = True
            self.buffer = b"\r\n" + self.buffer  # so a message with no body still ends with CRLF.CRLF
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"QUIT":
            return b"221 Bye\r\n"
        return b"250 OK\r\n"


async def serve(host: str, port: int, path: str) -> None:
    with open(path, "a", encoding="ascii", buffering=1) as record:
        server = await asyncio.get_running_loop().create_server(lambda: SinkProtocol(record), host, port)
        async with server:
            await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m controller.lab.smtp_sink HOST:PORT FILE", file=sys.stderr)
        return 2
    host, _, port = argv[0].rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, int(port), argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
