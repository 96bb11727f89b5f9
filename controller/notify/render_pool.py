"""Rendering off the API's loop: a bounded pool of long-lived worker processes
(controller/notify/render_worker.py) fed over pipes.

A template's render is CPU-bound Python that never yields: in the API role it stalled `/healthz`
and every other request behind it (ten previews of a half-second template: `/healthz` 4.7 s). The
pool renders in at most WORKERS processes, each one request at a time; a request waits for a free
worker up to QUEUE_WAIT (RenderBusyError, a 503, past it). The API's greenlets wait on the pipes
through gevent's cooperative file objects, so the loop goes on answering.

Limits: inside a worker, the Renderer's own (TIME_LIMIT by SIGALRM for the templates of one
request, output, size, the sandbox's bounds); around it, a hard wall-clock limit (HARD_LIMIT),
for what a signal cannot interrupt: a worker that has not answered by then is killed (SIGKILL)
and replaced, and the request fails with a TemplateTimeError naming the limit. A worker that
dies or answers nonsense is replaced the same way. gipc (gevent-cooperative processes) was
not used: it forks the API process, whose listening socket, Redis connections and hub the
children would inherit; these workers are fresh interpreters that import only the renderer.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gevent
from gevent.lock import BoundedSemaphore
from gevent.queue import Empty, LifoQueue
from gevent.subprocess import PIPE, Popen, TimeoutExpired

from controller.notify.render import TIME_LIMIT, TemplateError, TemplateTimeError

log = logging.getLogger(__name__)

WORKERS = 2
HARD_LIMIT = 2 * TIME_LIMIT + 1.0  # seconds a worker may take to answer one request
QUEUE_WAIT = 10.0  # seconds a request may wait for a free worker
START_WAIT = 30.0  # seconds a new worker may take to import the renderer and say it is ready
STOP_WAIT = 2.0
WORKER_ARGV = (sys.executable, "-m", "controller.notify.render_worker")


class RenderBusyError(Exception):
    """Every worker stayed busy for QUEUE_WAIT: worth a retry later (the API answers 503)."""


class RenderWorker:
    """One worker process; `ask` sends one request and waits (cooperatively) for its reply."""

    def __init__(self, argv: Sequence[str] = WORKER_ARGV) -> None:
        self.process = Popen(list(argv), stdin=PIPE, stdout=PIPE, close_fds=True)
        self.ready = False

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, request: Mapping[str, Any], limit: float) -> dict[str, Any]:
        """The worker's reply; TemplateError when it overran `limit` or failed (it is then killed)."""
        try:
            if not self.ready:
                self._read(START_WAIT, "start")
                self.ready = True
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            reply = self._read(limit, "render")
        except BaseException:  # an overrun, a dead worker, or the request's greenlet killed: never reused
            self.kill()
            raise
        if reply.get("retire"):
            self.stop()
        return reply

    def _read(self, seconds: float, what: str) -> dict[str, Any]:
        try:
            with gevent.Timeout(seconds, _OverranError(seconds)):
                line = self.process.stdout.readline()
        except _OverranError:
            raise TemplateTimeError(f"template ran past the hard limit of {seconds:g} s "
                                    "(its render worker was stopped)") from None
        except OSError as exc:
            raise TemplateError(f"template failed: its render worker broke ({exc})") from None
        if not line:
            raise TemplateError(f"template failed: its render worker ended during the {what} "
                                f"(exit status {self._exit_status()})")
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError:
            raise TemplateError(f"template failed: its render worker answered {line[:80]!r}") from None
        return reply

    def _exit_status(self) -> int | None:
        try:
            status: int = self.process.wait(timeout=STOP_WAIT)
        except TimeoutExpired:
            return None
        return status

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self._reap()

    def stop(self) -> None:
        """End the worker as it would end with the API: its stdin closed (killed if it lingers)."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=STOP_WAIT)
        except TimeoutExpired:
            self.process.kill()
        self._reap()

    def _reap(self) -> None:
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


class _OverranError(Exception):
    pass


class RenderPool:
    """What the API renders through, with the Renderer's `render_all` and `names`."""

    def __init__(self, workers: int = WORKERS, hard_limit: float = HARD_LIMIT, queue_wait: float = QUEUE_WAIT,
                 make: Callable[[], RenderWorker] = RenderWorker) -> None:
        self.size = workers
        self.hard_limit = hard_limit
        self.queue_wait = queue_wait
        self._make = make
        self._slots = BoundedSemaphore(workers)
        self._idle: LifoQueue[RenderWorker] = LifoQueue()
        self._closed = False
        self.replaced = 0  # workers killed (an overrun, a crash) and replaced

    def start(self) -> None:
        """Start every worker now rather than at the first render (a role keeps them warm)."""
        for _ in range(self.size - self._idle.qsize()):
            self._idle.put(self._make())

    def render_all(self, sources: Sequence[tuple[str, bool]], macros: Mapping[str, Any]) -> list[str]:
        outputs: list[str] = self._ask({"op": "render", "parts": [list(s) for s in sources], "macros": macros})
        return outputs

    def names(self, source: str) -> set[str]:
        return set(self._ask({"op": "names", "source": source}))

    def _ask(self, request: Mapping[str, Any]) -> Any:
        if not self._slots.acquire(timeout=self.queue_wait):
            raise RenderBusyError(f"all {self.size} template workers stayed busy for {self.queue_wait:g} s")
        worker = self._take()
        try:
            reply = worker.ask(request, self.hard_limit)
        except BaseException:
            self.replaced += 1
            log.warning("render worker %s stopped and replaced", worker.process.pid)
            raise
        finally:
            self._give_back(worker)
        if "error" in reply:
            raise (TemplateTimeError if reply.get("timeout") else TemplateError)(reply["error"])
        return reply["ok"]

    def _take(self) -> RenderWorker:
        try:
            worker = self._idle.get_nowait()
        except Empty:
            return self._make()
        return worker if worker.alive else self._make()

    def _give_back(self, worker: RenderWorker) -> None:
        try:
            if self._closed:
                worker.stop()
            elif worker.alive:
                self._idle.put(worker)
            else:
                worker.kill()  # (reaped)
                self._idle.put(self._make())
        finally:
            self._slots.release()

    def close(self) -> None:
        """Stop the idle workers now, the busy ones as they finish."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().stop()
            except Empty:
                return
