"""What a worker process can be asked to do, by name (an explicit registry: a request names a
job, never a function). Each job takes the request's arguments and returns JSON values; a
template refused is a JobRefusedError carrying the Renderer's reason.

- `render`: the templates of one message (`parts`: [source, is HTML]) with `macros`, under the
  mail sender's Renderer and its limits (TIME_LIMIT by SIGALRM, output, sandbox bounds);
- `names`: the top-level names a template uses;
- `check_callflow`: a callflow document's errors, as `controller flows check` finds them
  (validating a large flow took over a second of CPU: 11,000 nodes, 0.9 MB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from controller.callflows.validate import check_callflow
from controller.notify.render import Renderer, TemplateError, TemplateTimeError


class JobRefusedError(Exception):
    """The work was refused (a template over its limits): `timeout` when it ran out of time."""

    def __init__(self, reason: str, timeout: bool = False) -> None:
        super().__init__(reason)
        self.timeout = timeout


class Jobs:
    """The jobs, with what they keep between requests (the Renderer's compiled templates)."""

    def __init__(self) -> None:
        self.renderer = Renderer()
        self.registry: dict[str, Callable[[dict[str, Any]], Any]] = {
            "render": self.render, "names": self.names, "check_callflow": self.check_callflow,
        }

    def run(self, request: dict[str, Any]) -> Any:
        job = self.registry.get(str(request.get("job")))
        if job is None:
            raise JobRefusedError(f"no job {request.get('job')!r}")
        return job(request)

    def render(self, request: dict[str, Any]) -> list[str]:
        parts = [(str(source), bool(html)) for source, html in request["parts"]]
        with _refusing():
            return self.renderer.render_all(parts, request.get("macros") or {})

    def names(self, request: dict[str, Any]) -> list[str]:
        with _refusing():
            return sorted(self.renderer.names(str(request["source"])))

    def check_callflow(self, request: dict[str, Any]) -> list[list[str]]:
        report = check_callflow(request["doc"], str(request.get("source") or "callflow"))
        return [[error.source, error.path, error.reason] for error in report.errors]


@contextmanager
def _refusing() -> Iterator[None]:
    """A template refused by the Renderer as a refused job."""
    try:
        yield
    except TemplateTimeError as exc:
        raise JobRefusedError(str(exc), timeout=True) from None
    except TemplateError as exc:
        raise JobRefusedError(str(exc)) from None
