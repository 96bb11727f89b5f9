"""Reads the ESL capture format (tests/fixtures/esl-traces/README.md): marker lines
`#### <<< RECV  #n  t=+0.012s  <wallclock>  len=N  [label]` (or `>>> SEND`), then exactly N raw
payload bytes and one newline; lines starting with `#` otherwise are notes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

_MARKER = re.compile(rb"^#### (<<< RECV|>>> SEND)\s+#(\d+)\s+t=\+\s*([0-9.]+)s.*?len=(\d+)[^\n]*\n", re.M)


@dataclasses.dataclass(frozen=True)
class Block:
    received: bool  # True: FreeSWITCH -> server; False: server -> FreeSWITCH
    number: int
    at: float
    payload: bytes


def read_capture(path: Path) -> list[Block]:
    data = path.read_bytes()
    blocks, pos = [], 0
    while (match := _MARKER.search(data, pos)) is not None:
        length = int(match.group(4))
        start = match.end()
        blocks.append(
            Block(match.group(1) == b"<<< RECV", int(match.group(2)), float(match.group(3)),
                  data[start : start + length])
        )
        pos = start + length + 1
    return blocks


def received_stream(path: Path) -> bytes:
    """Everything FreeSWITCH sent, in order: the byte stream a server reads."""
    return b"".join(block.payload for block in read_capture(path) if block.received)
