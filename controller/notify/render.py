"""Rendering templates, which are user input, in Jinja2's ImmutableSandboxedEnvironment.

HTML bodies are auto-escaped (a caller ID name with markup stays text). Compiled templates are
cached by their source (compiling costs over a millisecond, rendering tens of microseconds).
A render is bounded in time (SIGALRM: CPU-bound template loops never yield to gevent) and in
size; a broken or hostile template raises TemplateError.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT = 512 * 1024
TIME_LIMIT = 1.0


class TemplateError(Exception):
    """A template that does not compile, fails, runs too long or renders too much."""


@functools.cache
def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(autoescape=html, undefined=jinja2.ChainableUndefined, trim_blocks=False)


@functools.lru_cache(maxsize=2048)
def _compiled(source: str, html: bool) -> jinja2.Template:
    try:
        return _environment(html).from_string(source)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template does not compile: {exc}") from exc


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise TemplateError(f"template ran longer than {seconds:g} s")

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def render(source: str, macros: Mapping[str, Any], *, html: bool = False) -> str:
    return render_all([(source, html)], macros)[0]


def render_all(sources: Sequence[tuple[str, bool]], macros: Mapping[str, Any]) -> list[str]:
    """Render several templates (source, is HTML) of one message under one time limit."""
    templates = [_compiled(source, html) for source, html in sources]
    outputs = []
    try:
        with _time_limit(TIME_LIMIT):
            for template in templates:
                outputs.append(template.render(**macros))
    except TemplateError:
        raise
    except Exception as exc:  # the sandbox's SecurityError, a failing filter, ...
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from exc
    if sum(len(output) for output in outputs) > MAX_OUTPUT:
        raise TemplateError(f"template output over {MAX_OUTPUT} bytes")
    return outputs
