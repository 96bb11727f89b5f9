"""The API's worker processes: a bounded pool of long-lived children (`python -m
controller.workers`) fed JSON lines over pipes, for the work that must not run on the loop that
answers requests (template renders and checks, callflow validation: `jobs.py`).

A template's render is CPU-bound Python that never yields: in the API role it stalled `/healthz`
and every other request behind it (ten previews of a half-second template: `/healthz` 4.7 s). The
pool runs at most WORKERS jobs at once, one per worker; a request waits for a free worker up to
QUEUE_WAIT (WorkersBusyError, a 503, past it). The request's greenlet waits on the pipes through
gevent's cooperative file objects, so the loop goes on answering.

Limits: inside a worker, the job's own (the Renderer's TIME_LIMIT by SIGALRM, its output and
sandbox bounds); around it, a hard wall-clock limit per job (RENDER_LIMIT, CHECK_LIMIT) for what a
signal cannot interrupt: a worker that has not answered by then is killed (SIGKILL) and replaced,
and the request fails with an error naming the limit (for a template a TemplateTimeError, which
the API answers 400). A worker that dies or answers nonsense is replaced the same way. gipc
(gevent-cooperative processes) was not used: it forks the API process, whose listening socket,
Redis connections and hub the children would inherit; these workers are fresh interpreters that
import only what their jobs need.
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

from controller.errors import DocumentError
from controller.notify.render import TIME_LIMIT, TemplateError, TemplateTimeError

log = logging.getLogger(__name__)

WORKERS = 2
RENDER_LIMIT = 2 * TIME_LIMIT + 1.0  # seconds a worker may take to answer a render or a template check
CHECK_LIMIT = 10.0  # seconds for a callflow's validation (a 0.9 MB flow took 1.1 s of CPU)
QUEUE_WAIT = 10.0  # seconds a request may wait for a free worker
START_WAIT = 30.0  # seconds a new worker may take to import the renderer and say it is ready
STOP_WAIT = 2.0
WORKER_ARGV = (sys.executable, "-m", "controller.workers")


class WorkersBusyError(Exception):
    """Every worker stayed busy for QUEUE_WAIT: worth a retry later (the API answers 503)."""


class WorkRefusedError(Exception):
    """The worker refused the work (a template over its limits, the worker's memory limit):
    `timeout` when the work ran out of its own time (perhaps only because the machine was busy)."""

    def __init__(self, reason: str, timeout: bool = False) -> None:
        super().__init__(reason)
        self.timeout = timeout


class WorkerFailedError(Exception):
    """The worker ran past the hard limit (`overran`), died or answered nonsense: it was
    replaced, and the work was not done."""

    def __init__(self, reason: str, overran: bool = False) -> None:
        super().__init__(reason)
        self.overran = overran


class Worker:
    """One worker process; `ask` sends one request and waits (cooperatively) for its reply."""

    def __init__(self, argv: Sequence[str] = WORKER_ARGV) -> None:
        self.process = Popen(list(argv), stdin=PIPE, stdout=PIPE, close_fds=True)
        self.ready = False

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, request: Mapping[str, Any], limit: float) -> dict[str, Any]:
        """The worker's reply; WorkerFailedError when it overran `limit` or failed (it is then killed)."""
        try:
            if not self.ready:
                self._exchange(None, START_WAIT, "start")
                self.ready = True
            reply = self._exchange(json.dumps(request).encode() + b"\n", limit, "job")
        except BaseException:  # an overrun, a dead worker, or the request's greenlet killed: never reused
            self.kill()
            raise
        if reply.get("retire"):
            self.stop()
        return reply

    def _exchange(self, request: bytes | None, seconds: float, what: str) -> dict[str, Any]:
        """Write a request (None: only read), read the reply, all within `seconds`."""
        try:
            with gevent.Timeout(seconds, _OverranError(seconds)):
                if request is not None:
                    self.process.stdin.write(request)
                    self.process.stdin.flush()
                line = self.process.stdout.readline()
        except _OverranError:
            raise WorkerFailedError(f"ran past the hard limit of {seconds:g} s (its worker was stopped)",
                                    overran=True) from None
        except OSError as exc:
            raise WorkerFailedError(f"its worker broke ({exc})") from None
        if not line:
            raise WorkerFailedError(f"its worker ended during the {what} (exit status {self._exit_status()})")
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError:
            raise WorkerFailedError(f"its worker answered {line[:80]!r}") from None
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


class WorkerPool:
    """The API's workers; `render_all` and `names` as the Renderer has them, `check_callflow`."""

    def __init__(self, workers: int = WORKERS, render_limit: float = RENDER_LIMIT, check_limit: float = CHECK_LIMIT,
                 queue_wait: float = QUEUE_WAIT, make: Callable[[], Worker] = Worker) -> None:
        self.size = workers
        self.render_limit = render_limit
        self.check_limit = check_limit
        self.queue_wait = queue_wait
        self._make = make
        self._slots = BoundedSemaphore(workers)
        self._idle: LifoQueue[Worker] = LifoQueue()
        self._closed = False
        self.replaced = 0  # workers killed (an overrun, a crash) and replaced

    def start(self) -> None:
        """Start every worker now rather than at the first job (a role keeps them warm)."""
        for _ in range(self.size - self._idle.qsize()):
            self._idle.put(self._make())

    def render_all(self, sources: Sequence[tuple[str, bool]], macros: Mapping[str, Any]) -> list[str]:
        request = {"job": "render", "parts": [list(s) for s in sources], "macros": macros}
        outputs: list[str] = self._template_job(request)
        return outputs

    def names(self, source: str) -> set[str]:
        return set(self._template_job({"job": "names", "source": source}))

    def check_callflow(self, doc: Any, source: str = "callflow") -> list[DocumentError]:
        """The errors of a callflow document (`controller.callflows.validate.check_callflow`);
        WorkerFailedError when its validation overran CHECK_LIMIT, WorkRefusedError past the
        worker's memory limit."""
        found = self._ask({"job": "check_callflow", "doc": doc, "source": source}, self.check_limit)
        return [DocumentError(*error) for error in found]

    def _template_job(self, request: Mapping[str, Any]) -> Any:
        try:
            return self._ask(request, self.render_limit)
        except WorkRefusedError as exc:
            raise (TemplateTimeError if exc.timeout else TemplateError)(str(exc)) from None
        except WorkerFailedError as exc:
            if exc.overran:
                raise TemplateTimeError(f"template {exc}") from None
            raise TemplateError(f"template failed: {exc}") from None

    def _ask(self, request: Mapping[str, Any], limit: float) -> Any:
        """The job's result; WorkRefusedError, WorkerFailedError or WorkersBusyError."""
        if not self._slots.acquire(timeout=self.queue_wait):
            raise WorkersBusyError(f"all {self.size} API workers stayed busy for {self.queue_wait:g} s")
        worker = self._take()
        try:
            reply = worker.ask(request, limit)
        except BaseException:
            self.replaced += 1
            log.warning("API worker %s stopped and replaced", worker.process.pid)
            raise
        finally:
            self._give_back(worker)
        if "error" in reply:
            raise WorkRefusedError(str(reply["error"]), timeout=bool(reply.get("timeout")))
        return reply["ok"]

    def _take(self) -> Worker:
        try:
            worker = self._idle.get_nowait()
        except Empty:
            return self._make()
        return worker if worker.alive else self._make()

    def _give_back(self, worker: Worker) -> None:
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
