"""Rendering templates, which are user input, in Jinja2's ImmutableSandboxedEnvironment.

HTML bodies are auto-escaped (a caller ID name with markup stays text). Compiling a template
costs over a millisecond and rendering it tens of microseconds, so each Renderer keeps the
compiled templates in a bounded LRU cache keyed by their source text: an edited template is a
new source (compiled on its next use), an unused one ages out. A render is bounded in time
(SIGALRM: CPU-bound template loops never yield to gevent) and in size; a broken or hostile
template raises TemplateError.
"""

from __future__ import annotations

import collections
import contextlib
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT = 512 * 1024
TIME_LIMIT = 1.0
CACHE_SIZE = 512  # compiled sources kept per worker (a notification has five: subject, from, ...)


_UNAVAILABLE = object()


class TemplateError(Exception):
    """A template that does not compile, fails, runs too long or renders too much."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise TemplateError(f"template ran longer than {seconds:g} s")

    # Signals reach the main OS thread only, whichever greenlet runs there (threading's own idea of
    # the current thread is a greenlet once gevent has patched it, so ask the signal module).
    previous: Any = _UNAVAILABLE
    with contextlib.suppress(ValueError):  # raised in another OS thread: no time limit there
        previous = signal.signal(signal.SIGALRM, expired)
    if previous is _UNAVAILABLE:
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Renderer:
    """Sandboxed, time- and size-bounded rendering with a bounded cache of compiled templates."""

    def __init__(self, cache_size: int = CACHE_SIZE, time_limit: float = TIME_LIMIT) -> None:
        self.cache_size = cache_size
        self.time_limit = time_limit
        self._environments = {
            html: ImmutableSandboxedEnvironment(autoescape=html, undefined=jinja2.ChainableUndefined)
            for html in (False, True)
        }
        self._compiled: collections.OrderedDict[tuple[str, bool], jinja2.Template] = collections.OrderedDict()
        self.compilations = 0  # how many sources were compiled (cache misses)

    def __len__(self) -> int:
        return len(self._compiled)

    def compile(self, source: str, html: bool) -> jinja2.Template:
        """The compiled template of a source, from the cache when it was seen recently."""
        key = (source, html)
        template = self._compiled.get(key)
        if template is not None:
            self._compiled.move_to_end(key)
            return template
        try:
            template = self._environments[html].from_string(source)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template does not compile: {exc}") from exc
        self.compilations += 1
        self._compiled[key] = template
        if len(self._compiled) > self.cache_size:
            self._compiled.popitem(last=False)
        return template

    def render(self, source: str, macros: Mapping[str, Any], *, html: bool = False) -> str:
        return self.render_all([(source, html)], macros)[0]

    def render_all(self, sources: Sequence[tuple[str, bool]], macros: Mapping[str, Any]) -> list[str]:
        """Render several templates (source, is HTML) of one message under one time limit."""
        templates = [self.compile(source, html) for source, html in sources]
        outputs = []
        try:
            with _time_limit(self.time_limit):
                for template in templates:
                    outputs.append(template.render(macros))
        except TemplateError:
            raise
        except Exception as exc:  # the sandbox's SecurityError, a failing filter, ...
            raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from exc
        if sum(len(output) for output in outputs) > MAX_OUTPUT:
            raise TemplateError(f"template output over {MAX_OUTPUT} bytes")
        return outputs
