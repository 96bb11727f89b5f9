"""How `controller run` starts a child process (a role or the private Redis).

- In a session of its own: a Ctrl-C in the terminal (SIGINT to the foreground process group)
  or a signal to the supervisor's group reaches the supervisor alone, which then stops the
  children in their order (calls first, the private Redis last) instead of all at once.
- On Linux, with a parent-death signal (prctl PR_SET_PDEATHSIG): when the supervisor dies, even
  by `kill -9`, each child gets SIGTERM and ends as it would on a stop, so no role and no private
  Redis outlives its run. (Elsewhere the run's lock catches what is left: controller/runlock.py.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from gevent import subprocess

PR_SET_PDEATHSIG = 1


def spawn(
    argv: Sequence[str], env: Mapping[str, str] | None = None, pass_fds: Sequence[int] = (),
    stdout: int | IO[bytes] | None = None, stderr: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, to receive SIGTERM when this process dies."""
    return subprocess.Popen(
        list(argv), env=dict(env) if env is not None else None, pass_fds=tuple(pass_fds), stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, start_new_session=True, preexec_fn=_dying_with_parent(signal.SIGTERM),
    )


def _dying_with_parent(signum: int) -> Callable[[], None] | None:
    """The function the child runs between fork and exec to ask for `signum` when its parent
    dies (None where the system has no such request)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signum)
        if os.getppid() != parent:  # the parent died before the request: no signal would ever come
            os._exit(1)

    return preexec
