"""Calls whose end could not reach Redis, kept on local disk until it answers again.

When a call ends, its termination handlers claim it, build jobs and enqueue them: all on Redis.
If Redis cannot serve at that moment (restarting, loading, unreachable), the call is not dropped:
its snapshot (controller/call.py: the channel data, the flags the events set, the handlers still
to run) is written to `<data_dir>/spool/calls/<uuid>.json` (written to a temporary file, fsynced,
renamed, the folder fsynced: a file is there whole or not at all), as Postfix keeps a message in
its queue before it says yes. A drainer in the serving process hands the spooled calls back once
Redis answers: it rebuilds each call, runs its handlers through the usual claim and removes the
file only when they ran. A spooled call replayed twice sends once, because every job carries an
idempotency key that the queue accepts once; a call that another controller's watcher completed
meanwhile is skipped by the claim. At start-up the drainer takes over what a killed process left.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import gevent

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
DRAIN_EVERY = 1.0  # seconds between two looks at the spool
DRAIN_LIMIT = 30.0  # the longest wait between two tries while Redis stays away


class Spool:
    """One folder of JSON documents, each written durably under its own name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, name: str, document: Mapping[str, Any]) -> Path:
        """Write (or replace) one document; it is on disk when this returns."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / (_SAFE_NAME.sub("_", name) + ".json")
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as out:
            json.dump(document, out)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
        _fsync_folder(self.folder)
        return path

    def items(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Each document kept, oldest first; an unreadable one is set aside as `.bad`."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.json"), key=_age):
            try:
                yield path, json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.error("spool: %s cannot be read; set aside as %s.bad", path, path.name)
                with contextlib.suppress(OSError):
                    path.replace(path.with_name(path.name + ".bad"))

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def __len__(self) -> int:
        return len(list(self.folder.glob("*.json"))) if self.folder.is_dir() else 0


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def call_spool(data_dir: str) -> Spool:
    return Spool(Path(data_dir) / "spool" / "calls")


Replay = Callable[[Mapping[str, Any]], bool]  # runs a spooled call's handlers; False: Redis still away


class Drainer:
    """Hands spooled calls back while the process runs: at once, then every second while there
    is something to hand, backing off while Redis stays away."""

    def __init__(self, spool: Spool, replay: Replay) -> None:
        self.spool = spool
        self.replay = replay
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()

    def drain(self) -> int:
        """Replay what the spool holds; how many calls were handed back. Stops at the first call
        that Redis still cannot take (the others would fail the same way)."""
        handed = 0
        for path, snapshot in self.spool.items():
            try:
                done = self.replay(snapshot)
            except Exception:
                log.exception("spool: call %s could not be replayed; kept", path.stem)
                done = False
            if not done:
                break
            self.spool.remove(path)
            handed += 1
        if handed:
            log.info("spool: %d call(s) handed back to Redis, %d left", handed, len(self.spool))
        return handed

    def _run(self) -> None:
        wait = DRAIN_EVERY
        while True:
            stuck = len(self.spool) > 0 and self.drain() == 0
            wait = min(DRAIN_LIMIT, wait * 2) if stuck else DRAIN_EVERY
            gevent.sleep(wait)
