"""One connection the replay (controller/lab/replay.py) writes to for all its calls: the server's
watcher on FreeSWITCH's inbound event socket, which gets CHANNEL_DESTROY (and CHANNEL_BRIDGE...)
of every channel. Whole frames, in the order given, never blocking the replay's loop: what the
socket does not take at once waits for EPOLLOUT."""

from __future__ import annotations

import select
import socket
import time


class Feed:
    """Frames to one already connected socket, inherited as a file descriptor."""

    def __init__(self, fd: int, poll: select.epoll) -> None:
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self.poll = poll
        self.pending = bytearray()
        self.waiting = False  # registered for EPOLLOUT
        self.sent = 0  # bytes

    @property
    def fileno(self) -> int:
        return self.sock.fileno()

    def write(self, data: bytes) -> None:
        self.pending += data
        if not self.waiting:
            self._send()

    def writable(self) -> None:
        """The socket takes more (EPOLLOUT)."""
        self._send()

    def _send(self) -> None:
        try:
            sent = self.sock.send(self.pending)
        except BlockingIOError:
            sent = 0
        except OSError:  # the watcher is gone: what it would have read is dropped, as FreeSWITCH does
            sent = len(self.pending)
        self.sent += sent
        del self.pending[:sent]
        if self.pending and not self.waiting:
            self.poll.register(self.fileno, select.EPOLLOUT)
            self.waiting = True
        elif not self.pending and self.waiting:
            self.poll.unregister(self.fileno)
            self.waiting = False

    def finish(self, timeout: float) -> None:
        """Write what is left (for up to `timeout` s), then close this copy of the descriptor:
        the connection stays open in the process that handed it down."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            select.select([], [self.sock], [], max(0.0, deadline - time.monotonic()))
            self._send()
        if self.waiting:
            self.poll.unregister(self.fileno)
            self.waiting = False
        self.sock.close()
