"""Giving freed heap back to the system once a burst is over.

glibc's malloc returns memory to the system on its own only from the top of its heap: what a
burst of work freed in the middle (2,000 ESL connections that were closed, a large request) stays
resident, so the process keeps its peak. `malloc_trim(0)` gives the free pages back (madvise);
it took 1-3 ms on the serve role's 25 MB heap after 2,000 connections, and returned 12 MB there.

The trimmer looks every CHECK_SECONDS at the process's resident size (/proc/self/statm) and at
the number of objects Python has allocated (`sys.getallocatedblocks`, 40 us for two million; no
walk of the heap), and trims once both say a burst is over: the resident size has grown by GROWTH
over its lowest level since the last trim, and the objects alive have fallen back from their
peak by an eighth of it (DROP). A steady load never trims (its objects do not fall), a load
still growing neither, and one burst trims once, when its connections are gone.
What no trim can return: CPython keeps each 1 MiB arena of small objects (512 bytes or less)
while a single object in it lives, so a burst leaves part of its peak there (docs/attacks.md,
esl-abandoned-2000). Without glibc (musl, macOS) there is nothing to call and no trimmer runs.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Callable

import gevent

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
GROWTH = 8 << 20
DROP = 8  # objects fallen by peak / DROP (and at least LEAST_DROP) since their peak: a burst ended
LEAST_DROP = 20_000
PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * PAGE


def glibc_trim() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)`, or None where the C library has none."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class HeapTrimmer:
    """Trims the heap after each burst (see the module's docstring); `check` is one look."""

    def __init__(self, trim: Callable[[], object], resident: Callable[[], int] = resident_bytes,
                 objects: Callable[[], int] = sys.getallocatedblocks, growth: int = GROWTH) -> None:
        self.trim = trim
        self.resident = resident
        self.objects = objects
        self.growth = growth
        self.trims = 0
        self._floor: int | None = None  # the lowest resident size since the last trim
        self._peak = 0  # the most objects alive at once since the last trim
        self._greenlet: gevent.Greenlet | None = None

    def check(self) -> bool:
        """Trim if a burst is over; whether it did."""
        now, alive = self.resident(), self.objects()
        self._floor = now if self._floor is None else min(self._floor, now)
        self._peak = max(self._peak, alive)
        ended = self._peak - alive >= max(LEAST_DROP, self._peak // DROP)
        if not ended or now - self._floor < self.growth:
            return False
        self.trim()
        self.trims += 1
        self._floor, self._peak = self.resident(), alive
        log.info("freed heap given back after a burst: resident %.0f -> %.0f MB", now / 2**20, self._floor / 2**20)
        return True

    def start(self, every: float = CHECK_SECONDS) -> None:
        self._greenlet = gevent.spawn(self._run, every)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()

    def _run(self, every: float) -> None:
        while True:
            gevent.sleep(every)
            try:
                self.check()
            except OSError as exc:  # (/proc unreadable: nothing to measure, nothing to trim)
                log.warning("heap trimmer stopped: %s", exc)
                return


def start_trimmer() -> HeapTrimmer | None:
    """A running trimmer for this process, where glibc has malloc_trim."""
    trim = glibc_trim()
    if trim is None:
        return None
    trimmer = HeapTrimmer(trim)
    trimmer.start()
    return trimmer
