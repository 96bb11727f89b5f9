"""Rendering templates, which are user input, in the bounded sandbox of `sandbox.py`.

HTML bodies are auto-escaped (a caller ID name with markup stays text). Compiling a template
costs over a millisecond and rendering it tens of microseconds, so each Renderer keeps the
compiled templates in an LRU cache keyed by their source text: an edited template is a new source
(compiled on its next use), an unused one ages out. The cache is bounded in entries and in bytes,
by an estimate of what a compiled template holds (measured: about 25 bytes per source character
for the densest sources, under 5 KB for a small one; nothing of a template is evaluated while it
compiles, so no folded constant can make it bigger), and a template that fails or is refused is
dropped from it at once.

Limits, each a TemplateError naming it: a source over MAX_SOURCE characters or MAX_TOKENS
tokens (compiling costs about 4 KB of transient memory and 15 us per token: 60,000 tokens took
0.8 s and 250 MB); the templates of one message compiled and rendered within TIME_LIMIT
(SIGALRM: CPU-bound template loops never yield to gevent), running past it being a
TemplateTimeError (the machine may only have been busy: worth a retry); their output over
MAX_OUTPUT characters (counted while it is produced); the run-time bounds of `bounds.py`.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import jinja2
import jinja2.meta

from controller.notify.bounds import LimitError
from controller.notify.sandbox import BoundedEnvironment

MAX_OUTPUT = 512 * 1024
OUTPUT_BATCH = 32  # output chunks made before they are counted (at most 16 MiB)
MAX_SOURCE = 128 * 1024
MAX_TOKENS = 5000  # of Jinja2's lexer: what compiling costs grows with them (the defaults have < 200)
TIME_LIMIT = 1.0
CACHE_SIZE = 512  # compiled sources kept per worker (a notification has five: subject, from, ...)
CACHE_BYTES = 32 * 1024 * 1024
ENTRY_BYTES = 8 * 1024  # a compiled template's estimated size: this plus PER_CHARACTER per character
PER_CHARACTER = 32

_UNAVAILABLE = object()


class TemplateError(Exception):
    """A template that does not compile, fails, runs too long or renders too much."""


class TemplateTimeError(TemplateError):
    """A template that ran past the time limit (perhaps only because the machine was busy)."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise TemplateTimeError(f"template ran longer than {seconds:g} s")

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


def estimated_bytes(source: str) -> int:
    """What a compiled template of this source is taken to hold in memory."""
    return ENTRY_BYTES + PER_CHARACTER * len(source)


class Renderer:
    """Sandboxed, time- and size-bounded rendering with a bounded cache of compiled templates."""

    def __init__(self, cache_size: int = CACHE_SIZE, time_limit: float = TIME_LIMIT,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.cache_size = cache_size
        self.cache_bytes = cache_bytes
        self.time_limit = time_limit
        self._environments = {html: BoundedEnvironment(html=html) for html in (False, True)}
        self._compiled: collections.OrderedDict[tuple[str, bool], jinja2.Template] = collections.OrderedDict()
        self.cached_bytes = 0  # the estimate of what the cache holds
        self.compilations = 0  # how many sources were compiled (cache misses)

    def __len__(self) -> int:
        return len(self._compiled)

    def __contains__(self, key: tuple[str, bool]) -> bool:
        return key in self._compiled

    def compile(self, source: str, html: bool) -> jinja2.Template:
        """The compiled template of a source, from the cache when it was seen recently."""
        key = (source, html)
        template = self._compiled.get(key)
        if template is not None:
            self._compiled.move_to_end(key)
            return template
        template = self._compile(source, html)
        self.compilations += 1
        self._keep(key, template)
        return template

    def _compile(self, source: str, html: bool) -> jinja2.Template:
        if len(source) > MAX_SOURCE:
            raise TemplateError(f"template over {MAX_SOURCE} characters")
        environment = self._environments[html]
        try:
            _check_tokens(environment, source)
            return environment.from_string(source)
        except TemplateError:
            raise
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template does not compile: {exc}") from exc
        except Exception as exc:  # a literal too big for int(), nesting too deep for the parser, ...
            raise TemplateError(f"template does not compile: {type(exc).__name__}: {exc}") from exc

    def _keep(self, key: tuple[str, bool], template: jinja2.Template) -> None:
        self._compiled[key] = template
        self.cached_bytes += estimated_bytes(key[0])
        while self._compiled and (len(self._compiled) > self.cache_size or self.cached_bytes > self.cache_bytes):
            self._forget(next(iter(self._compiled)))

    def _forget(self, key: tuple[str, bool]) -> None:
        if self._compiled.pop(key, None) is not None:
            self.cached_bytes -= estimated_bytes(key[0])

    def names(self, source: str) -> set[str]:
        """The top-level names a template's source uses (`caller_id` for `{{ caller_id.name }}`)."""
        environment = self._environments[False]
        try:
            _check_tokens(environment, source)
            return jinja2.meta.find_undeclared_variables(environment.parse(source))
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(f"template does not compile: {exc}") from exc

    def render(self, source: str, macros: Mapping[str, Any], *, html: bool = False) -> str:
        return self.render_all([(source, html)], macros)[0]

    def render_all(self, sources: Sequence[tuple[str, bool]], macros: Mapping[str, Any]) -> list[str]:
        """Render several templates (source, is HTML) with the same values."""
        return self.render_parts([(source, html, macros) for source, html in sources])

    def render_parts(self, parts: Sequence[tuple[str, bool, Mapping[str, Any]]]) -> list[str]:
        """Render the templates of one message (source, is HTML, values), compiled and rendered
        under one time limit, their outputs together under MAX_OUTPUT. A template that fails
        leaves the cache."""
        outputs: list[str] = []
        with _time_limit(self.time_limit):
            for source, html, macros in parts:
                try:
                    template = self.compile(source, html)
                    outputs.append(_render_one(template, macros, MAX_OUTPUT - sum(map(len, outputs))))
                except BaseException:
                    self._forget((source, html))
                    raise
        return outputs


def _render_one(template: jinja2.Template, macros: Mapping[str, Any], budget: int) -> str:
    try:
        return _produce(template, macros, budget)
    except TemplateError:
        raise
    except LimitError as exc:
        raise TemplateError(f"template over its limits: {exc}") from exc
    except Exception as exc:  # the sandbox's SecurityError, a failing filter, ...
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from exc


def _check_tokens(environment: jinja2.Environment, source: str) -> None:
    for count, _ in enumerate(environment.lexer.tokeniter(source, None), 1):
        if count > MAX_TOKENS:
            raise TemplateError(f"template over {MAX_TOKENS} tokens (tags, names, operators, literals)")


def _produce(template: jinja2.Template, macros: Mapping[str, Any], budget: int) -> str:
    """The template's output, stopped once it passes `budget` characters. Chunks are counted by
    the batch (each is at most 512 KiB, `sandbox._printable`): a loop in Python over every chunk
    cost more than the rest of the render. The template's own render function is run, as
    `Template.render` runs it (`generate` adds a generator frame per chunk)."""
    parts: list[str] = []
    size = 0
    chunks = template.root_render_func(template.new_context(dict(macros)))
    try:
        while batch := list(itertools.islice(chunks, OUTPUT_BATCH)):
            size += sum(map(len, batch))
            if size > budget:
                raise TemplateError(f"template output over {MAX_OUTPUT} bytes")
            parts += batch
    finally:
        chunks.close()  # type: ignore[attr-defined]
    return "".join(parts)
