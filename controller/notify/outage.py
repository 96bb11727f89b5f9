"""Waiting out a Redis outage: the mail sender's loop must outlive a restarted Redis, one still
loading its data (`BusyLoadingError`) or a replica promoted under it (`ReadOnlyError`).

Each failed try waits longer (doubling, capped), and the outage is one log line when it starts
and one when it is over, however many tries it takes: an operator sees it at once and the log is
not flooded.
"""

from __future__ import annotations

import logging
import time

from gevent.event import Event

log = logging.getLogger(__name__)


class Outage:
    """The backoff and the log lines of one role's Redis outages."""

    def __init__(self, role: str, first: float = 0.1, limit: float = 5.0) -> None:
        self.role = role
        self.first = first
        self.limit = limit
        self.started: float | None = None
        self.tries = 0

    @property
    def is_on(self) -> bool:
        return self.started is not None

    def wait(self, error: Exception, stopping: Event) -> None:
        """A try failed: say so if it is the first, then wait (less if `stopping` is set)."""
        if self.started is None:
            self.started = time.monotonic()
            log.error("%s: Redis unavailable (%s: %s); waiting for it", self.role, type(error).__name__, error)
        delay = min(self.limit, self.first * 2 ** self.tries)
        self.tries += 1
        stopping.wait(delay)

    def over(self) -> None:
        """A try succeeded: end the outage (one line) if there was one."""
        if self.started is not None:
            log.warning("%s: Redis is back after %.1f s (%d tries)", self.role, time.monotonic() - self.started,
                        self.tries)
            self.started, self.tries = None, 0
