"""How the long-running commands wait: until SIGTERM or SIGINT."""

from __future__ import annotations

import signal

import gevent
from gevent.event import Event


def wait_for_stop_signal() -> None:
    """Block this greenlet (not the hub) until the process gets SIGTERM or SIGINT."""
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    stopping.wait()
