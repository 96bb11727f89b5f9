"""Fair turns on the ESL side: one connection cannot keep the process to itself.

gevent switches greenlets only when one waits; a socket that always has data ready (a peer
streaming blank lines or events as fast as it can) never makes its reader wait, so every other
call, the API and the health check would wait behind it. A call's reader therefore yields after a
bounded amount of work, and a connection that sends more frames than any FreeSWITCH channel
would (its events come a few dozen a call) is closed as a flood, with a log line.
"""

from __future__ import annotations

import time

import gevent

from controller.esl.wire import FrameError

YIELD_BYTES = 256 << 10  # received bytes between two turns given to others
YIELD_FRAMES = 64  # frames read between two turns given to others
FLOOD_FRAMES = 2000  # frames in one second from one call's connection: a flood


class Turns:
    """Counts what one reader did; gives the loop a turn now and then."""

    def __init__(self, flood_frames: int | None = FLOOD_FRAMES) -> None:
        self.flood_frames = flood_frames
        self._bytes = 0
        self._frames = 0
        self._window = time.monotonic()
        self._in_window = 0

    def received(self, size: int) -> None:
        """After each recv (wire._BlockReader's on_fill)."""
        self._bytes += size
        if self._bytes >= YIELD_BYTES:
            self._bytes = 0
            gevent.sleep(0)

    def framed(self) -> None:
        """After each frame; FrameError when the connection floods."""
        self._frames += 1
        if self._frames % YIELD_FRAMES == 0:
            gevent.sleep(0)
        if self.flood_frames is None:
            return
        now = time.monotonic()
        if now - self._window >= 1.0:
            self._window, self._in_window = now, 0
        self._in_window += 1
        if self._in_window > self.flood_frames:
            raise FrameError(f"flood: more than {self.flood_frames} frames in one second")
