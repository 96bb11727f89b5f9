"""The caller's keypad and the channel's DTMF queue.

Every press is a DTMF event (DTMF-Digit, DTMF-Duration, DTMF-Source: the answer capture shows
`ENDPOINT` for SIP INFO and `RTP` for RFC 2833) and a digit queued on the channel, as
switch_channel_queue_dtmf does: the application running then consumes it (playback stops on a
terminator and drops the rest, play_and_get_digits and read collect them); an application that
reads no input (sleep, bridge) leaves the digits queued for the next one.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

import gevent
from gevent.event import Event
from gevent.queue import Empty, Queue

from controller.lab.scenario import Keypress

# Put on the queue by `uuid_break` (stops a playback) and by the hangup (wakes any reader).
BREAK = "break"
HANGUP = "hangup"

Emit = Callable[[str, tuple[tuple[str, str], ...]], None]


class Keypad:
    """Plays the scenario's keypresses and hands digits to the running application."""

    def __init__(self, presses: tuple[Keypress, ...], emit: Emit, hungup: Event) -> None:
        self._emit = emit
        self._hungup = hungup
        self._timed = [p for p in presses if p.at is not None]
        self._on_prompt = collections.deque(p for p in presses if p.at is None)
        self._queue: Queue = Queue()
        self._greenlets: list[gevent.Greenlet] = []
        self.pressed = ""

    def start(self) -> None:
        """Schedule the presses timed from the call's start."""
        for press in self._timed:
            self._greenlets.append(gevent.spawn_later(press.at or 0.0, self._press, press, 0.0))

    def prompt_started(self, app: str = "") -> None:
        """A prompt of application `app` started playing: the next prompt-bound press begins
        after its delay (a press bound to another application waits for one of those)."""
        if self._on_prompt and self._on_prompt[0].on in (None, app):
            press = self._on_prompt.popleft()
            self._greenlets.append(gevent.spawn(self._press, press, press.delay))

    def stop(self) -> None:
        gevent.killall(self._greenlets, block=False)

    def interrupt(self, reason: str) -> None:
        """Wake whoever waits for a digit (`BREAK` or `HANGUP`)."""
        self._queue.put(reason)

    def next_digit(self, timeout: float) -> str | None:
        """The next digit within `timeout` s; None on timeout or once the call hung up;
        `BREAK` if uuid_break interrupted the application."""
        if self._hungup.is_set():
            return None
        try:
            item: str = self._queue.get(timeout=max(0.0, timeout))
        except Empty:
            return None
        if item == HANGUP:
            self._queue.put(HANGUP)  # keep waking later readers
            return None
        return item

    def _press(self, press: Keypress, first_delay: float) -> None:
        delay = first_delay
        for digit in press.digits:
            if delay > 0 and self._hungup.wait(delay):
                return
            if self._hungup.is_set():
                return
            delay = press.interval
            self.pressed += digit
            self._emit("DTMF", (("DTMF-Digit", digit), ("DTMF-Duration", str(press.duration_ms)),
                                ("DTMF-Source", press.source)))
            self._queue.put(digit)
