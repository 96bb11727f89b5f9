"""SMTP sinks for the mail benchmark: they accept every message and append
`<Message-ID> <unix time> [data|bdat]` to a file, so the benchmark can match each email to its call.

- `python -m controller.lab.smtp_sink HOST:PORT FILE [GREYLIST]` is a minimal ESMTP responder on
  asyncio (EHLO with PIPELINING and CHUNKING, MAIL, RCPT, DATA, BDAT, RSET, NOOP, QUIT; every
  command accepted but RCPT of an address starting with `refused`, for the tests, and, as a
  greylisting server does, the first GREYLIST (default 0) RCPTs of each address starting with
  `greylist`, answered 451 and recorded as `<address> <unix time> greylisted`). aiosmtpd
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
_EHLO = b"250-sink\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"


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


class Greylist:
    """How many times each `greylist...` address is deferred before it is accepted; shared by
    the connections of one sink, so a retry on a new connection is counted too."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.seen: dict[bytes, int] = {}

    def defers(self, address: bytes) -> bool:
        if not address.startswith(b"greylist"):
            return False
        count = self.seen.get(address, 0)
        self.seen[address] = count + 1
        return count < self.times


class SinkProtocol(asyncio.Protocol):
    """One SMTP client connection: command lines, then after DATA the message until `.`, or after
    BDAT the number of bytes it announced."""

    def __init__(self, record: IO[str], greylist: Greylist | None = None) -> None:
        self.record = record
        self.greylist = greylist or Greylist(0)
        self.buffer = b""
        self.in_data = False
        self.chunk: tuple[int, bool] | None = None  # a BDAT's bytes still to come, and whether it is the last
        self.message = b""  # the BDAT chunks so far
        self.recipients = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        while self.buffer or self.chunk is not None:
            if self.chunk is not None:
                if not self._take_chunk(replies):
                    break
                continue
            if self.in_data:
                end = self.buffer.find(_END_OF_DATA)
                if end < 0:
                    break
                self.record.write(f"{message_id(self.buffer[:end])} {time.time():.6f} data\n")
                self.buffer, self.in_data, self.recipients = self.buffer[end + len(_END_OF_DATA):], False, 0
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                break
            self.buffer = rest
            replies.append(self.reply(line))
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
            if replies[-1].startswith(b"221"):
                self.transport.close()

    def _take_chunk(self, replies: list[bytes]) -> bool:
        """Consume a BDAT chunk (False: more bytes needed); after the last one, record the message."""
        assert self.chunk is not None
        size, last = self.chunk
        if len(self.buffer) < size:
            return False
        self.message += self.buffer[:size]
        self.buffer, self.chunk = self.buffer[size:], None
        if not self.recipients:
            replies.append(b"554 5.5.1 No valid recipients\r\n")
            self.message = b""
        elif last:
            self.record.write(f"{message_id(self.message)} {time.time():.6f} bdat\n")
            self.message, self.recipients = b"", 0
            replies.append(b"250 2.0.0 Ok: queued\r\n")
        else:
            replies.append(b"250 2.0.0 Ok: chunk\r\n")
        return True

    def reply(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"EHLO":
            return _EHLO
        if verb == b"RCPT":
            address = line[8:].lstrip(b" <").split(b">")[0].lower()
            if address.startswith(b"refused"):
                return b"550 5.1.1 No such user here\r\n"
            if self.greylist.defers(address):
                self.record.write(f"{address.decode('ascii', 'replace')} {time.time():.6f} greylisted\n")
                return b"451 4.7.1 Greylisted, try again later\r\n"
            self.recipients += 1
        if verb == b"BDAT":
            words = line.split()
            self.chunk = (int(words[1]), len(words) > 2 and words[2].upper() == b"LAST")
            return b""  # the reply comes once the chunk is in
        if verb in (b"MAIL", b"RSET"):
            self.recipients, self.message = 0, b""
        if verb == b"DATA":
            if not self.recipients:
                return b"554 5.5.1 No valid recipients\r\n"
            self.in_data = True
            self.buffer = b"\r\n" + self.buffer  # so a message with no body still ends with CRLF.CRLF
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"QUIT":
            return b"221 Bye\r\n"
        return b"250 OK\r\n"


async def serve(host: str, port: int, path: str, greylist: int = 0) -> None:
    deferred = Greylist(greylist)
    with open(path, "a", encoding="ascii", buffering=1) as record:
        server = await asyncio.get_running_loop().create_server(lambda: SinkProtocol(record, deferred), host, port)
        async with server:
            await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m controller.lab.smtp_sink HOST:PORT FILE [GREYLIST]", file=sys.stderr)
        return 2
    host, _, port = argv[0].rpartition(":")
    greylist = int(argv[2]) if len(argv) == 3 else 0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, int(port), argv[1], greylist))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
