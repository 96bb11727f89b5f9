"""The CPU policy of the roles on a box they share with FreeSWITCH (docs/deployment.md).

FreeSWITCH runs its threads at real-time priority (set_auto_priority in its switch_core.c:
SCHED_FIFO 1 for each call's session thread, 99 for the SIP stack, the event dispatcher and the
timer), so a process under the normal scheduler only gets a core that none of them wants. The
systemd units therefore start the call path (`controller serve`, or `controller run` with every
role under it) at SCHED_RR priority 1, level with the call threads. Under `controller run` the
API and the mail sender inherit that policy from the supervisor; neither is on the call path
(a late email is still sent, a late call is a lost call), and a CPU-heavy request or template at
real-time priority would take turns with the calls' media, so they go back to the normal
scheduler as they start. Leaving real-time needs no privilege; entering it needs the unit's.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

REALTIME = frozenset(getattr(os, name) for name in ("SCHED_FIFO", "SCHED_RR") if hasattr(os, name))


def is_realtime(pid: int = 0) -> bool:
    """Whether the thread `pid` (0: the calling one) runs under a real-time policy."""
    if not REALTIME:
        return False
    try:
        return os.sched_getscheduler(pid) in REALTIME
    except OSError:
        return False


def leave_realtime(role: str) -> bool:
    """Move every thread of this process that runs at real-time priority to the normal
    scheduler (Linux schedules threads, not processes: sched_setscheduler applies to one).
    Threads started later inherit the caller's policy. True when something was moved."""
    if not REALTIME:
        return False
    moved = 0
    for thread in _threads():
        if is_realtime(thread):
            try:
                os.sched_setscheduler(thread, os.SCHED_OTHER, os.sched_param(0))
            except OSError as exc:  # a thread that ended meanwhile
                log.debug("thread %d stays real-time: %s", thread, exc)
                continue
            moved += 1
    if moved:
        log.info("%s: runs under the normal scheduler (started at real-time priority: that is for the calls)", role)
    return moved > 0


def _threads() -> list[int]:
    try:
        return [int(entry.name) for entry in Path("/proc/self/task").iterdir()]
    except OSError:
        return [0]
