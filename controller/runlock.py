"""The lock a `controller run` holds on `<data_dir>/run.lock` for as long as any of its processes
lives.

It is an flock: the kernel drops it when the last descriptor on it closes, however the processes
end (`kill -9` included), so it can never be left behind as a pid file can. The supervisor takes
it and its roles inherit it (the private Redis does not), hence:

- a free lock means nothing of an earlier run is alive: a private Redis still answering in the
  data directory is a leftover of a killed run, safe to stop;
- a lock held by a live supervisor (its pid is written in the file) means another run uses this
  data directory: refused;
- a lock held while the supervisor that wrote its pid is gone means that supervisor was killed
  and its roles are still finishing (draining calls, the job in hand): the new run waits for them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

import gevent

log = logging.getLogger(__name__)


class RunLockError(RuntimeError):
    """The data directory is in use by another run."""


class RunLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, wait: float) -> None:
        """Take the lock, waiting up to `wait` seconds for the roles of a killed run to end."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if not _try_lock(fd):
                self._wait_for_leftovers(fd, wait)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def _wait_for_leftovers(self, fd: int, wait: float) -> None:
        holder = _holder(fd)
        if holder is not None and is_controller(holder):
            raise RunLockError(f"another `controller run` (pid {holder}) is running on {self.path.parent}; "
                               "stop it first or set another CONTROLLER_DATA_DIR")
        log.warning("the roles of a killed `controller run` (pid %s) still hold %s; waiting up to %.0f s for them",
                    holder, self.path, wait)
        deadline = time.monotonic() + wait
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                raise RunLockError(f"the roles of a killed `controller run` (pid {holder}) still hold {self.path} "
                                   f"after {wait:.0f} s; end them (fuser {self.path}) and start again")
            gevent.sleep(0.2)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> int | None:
    """The pid the holding supervisor wrote (None if unreadable)."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def is_controller(pid: int) -> bool:
    """Whether `pid` is alive and runs `controller run` (not a stranger that reused the pid; a
    zombie's command line is empty)."""
    if Path("/proc/self").exists():
        try:
            words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return b"run" in words and any(word.endswith(b"controller") for word in words)
    try:  # no /proc here: alive is the best we know
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
