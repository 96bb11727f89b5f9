"""How big a template may make anything: the checks that keep one render in bounded memory.

A template is tenant input and the sandbox keeps it from reaching Python's internals, but not from
asking Python for a huge value: `'a' * 10**9`, `3 ** 10**8`, `[s] * 100000 | join`, `'%999999999d'
% 1`. Such a value is built by one C call, which neither the render's time limit (a signal, seen
between bytecodes) nor its output limit (checked after) can stop, so each operation that can grow
a value is checked *before* it runs, against an estimate of what it would build:

- text: at most MAX_TEXT characters for any string (or the text a container would print as);
- sequences: at most MAX_ITEMS items made by `*` or `+` (Jinja's own `range` has the same limit);
- integers: at most MAX_INT_BITS bits made by `*` or `**`.

`weight` is that estimate for any value: the length of the text it prints as (a list of 100,000
references to one 500 KB string weighs 50 GB, though it takes 800 KB). Every check raises
LimitError, which the renderer reports as the template being over its limits.
"""

from __future__ import annotations

import numbers
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2.sandbox import SecurityError
from jinja2.utils import Namespace

MAX_TEXT = 512 * 1024
MAX_ITEMS = 100_000
MAX_INT_BITS = 10_000
MAX_JSON_INDENT = 8

_SMALL = 64  # what an opaque object (a loop, a macro, a generator) prints as, at most
_PLAIN = (str, bytes, int, float, type(None))
_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?[hlL]?(?P<kind>.)?")
_DIGITS = re.compile(r"\d+")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "**": operator.pow, "%": operator.mod,
}


class LimitError(SecurityError):
    """An operation would build a value over the template limits."""


def _check(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise LimitError(f"{what} over the template limit of {limit}")


# --- weight: the text a value prints as ------------------------------------------------------------

def weight(value: Any, limit: int = MAX_TEXT) -> int:
    """The length of the text `value` prints as, counted until it passes `limit` (then LimitError).
    Each container is visited once however often it is referenced (its weight counts each time)."""
    return _Weigher(limit).total(value)


class _Weigher:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: dict[int, int] = {}

    def total(self, value: Any) -> int:
        size = self.of(value)
        _check(size, self.limit, "a value's text")
        return size

    def of(self, value: Any) -> int:
        if isinstance(value, (str, bytes)):
            return len(value)
        if isinstance(value, bool) or value is None:
            return 5
        if isinstance(value, int):
            return value.bit_length() // 3 + 2
        if isinstance(value, float):
            return 24
        return self._container(value)

    def _container(self, value: Any) -> int:
        key = id(value)
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = 8  # a cycle prints as `[...]`
        size = self._items(value)
        self.seen[key] = size
        return size

    def _items(self, value: Any) -> int:
        if isinstance(value, Namespace):
            value = object.__getattribute__(value, "_Namespace__attrs")
        if isinstance(value, Mapping):
            parts: Iterable[Any] = (part for pair in value.items() for part in pair)
        elif isinstance(value, (list, tuple, set, frozenset, type({}.keys()), type({}.values()), type({}.items()))):
            parts = value
        else:
            return _SMALL
        size = 2
        for part in parts:
            size += self.of(part) + 2
            _check(size, self.limit, "a value's text")
        return size


# --- operators -----------------------------------------------------------------------------------

def binop(op: str, left: Any, right: Any) -> Any:
    """`left op right` for the sandbox's intercepted operators, refused when it would be too big."""
    if op == "*":
        _check_repeat(left, right)
    elif op == "**":
        _check_power(left, right)
    elif op == "+":
        _check_join(left, right)
    elif op == "%" and isinstance(left, (str, bytes)):
        check_percent(left if isinstance(left, str) else left.decode("latin-1"), right)
    return _OPS[op](left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral)


def _check_repeat(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        _check(int(left).bit_length() + int(right).bit_length(), MAX_INT_BITS, "an integer's bits")
        return
    sequence, count = (left, right) if _is_int(right) else (right, left)
    if _is_int(count) and hasattr(sequence, "__len__"):
        times = max(0, int(count))
        _check(len(sequence) * times, MAX_TEXT if isinstance(sequence, (str, bytes)) else MAX_ITEMS,
               "a repeated sequence's length")
        if not isinstance(sequence, (str, bytes)):
            _check(weight(sequence) * times, MAX_TEXT, "a repeated sequence's text")


def _check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent)) or exponent < 0 or abs(base) <= 1:
        return  # a float's power overflows by itself; 0, 1 and -1 stay small
    _check(int(base).bit_length() * int(exponent), MAX_INT_BITS, "a power's bits")


def _check_join(left: Any, right: Any) -> None:
    if isinstance(left, (str, bytes)) and isinstance(right, (str, bytes)):
        _check(len(left) + len(right), MAX_TEXT, "a joined string's length")
    elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        _check(len(left) + len(right), MAX_ITEMS, "a joined sequence's length")
        _check(weight(left) + weight(right), MAX_TEXT, "a joined sequence's text")


def check_percent(template: str, args: Any) -> None:
    """`template % args` (and the `format` filter): refused when its fields' widths, precisions
    and values could make more than MAX_TEXT characters; a `*` width is refused outright."""
    size = len(template)
    for field in _PERCENT.finditer(template):
        if "*" in (field["width"], field["prec"]):
            raise LimitError("a `*` width or precision is not allowed in a template")
        size += int(field["width"] or 0) + int(field["prec"] or 0) + 330  # a float's digits
        if field["key"] is not None and isinstance(args, Mapping):
            size += weight(args.get(field["key"], ""))
        _check(size, MAX_TEXT, "a formatted string's length")
    if not isinstance(args, Mapping):
        _check(size + weight(args), MAX_TEXT, "a formatted string's length")


def check_spec(spec: str) -> None:
    """A `str.format` field's spec: no width or precision over MAX_TEXT."""
    for digits in _DIGITS.findall(spec):
        if len(digits) > 7 or int(digits) > MAX_TEXT:
            raise LimitError(f"a format width over the template limit of {MAX_TEXT}")


# --- methods of str and bytes --------------------------------------------------------------------

def _pad(text: Any, width: Any, *_: Any) -> int:
    return max(len(text), int(width))


def _tabs(text: Any, tabsize: Any = 8) -> int:
    return len(text) + text.count("\t" if isinstance(text, str) else b"\t") * max(0, int(tabsize))


def replaced_length(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    """The length of `text.replace(old, new, count)`, without making it."""
    found = text.count(old) if old else len(text) + 1
    if count is not None and int(count) >= 0:
        found = min(found, int(count))
    return len(text) + found * (len(new) - len(old))


def joined_length(separator: Any, items: list[Any]) -> int:
    return sum(weight(item) for item in items) + len(separator) * max(0, len(items) - 1)


def _translated(text: Any, table: Any) -> int:
    if not isinstance(table, Mapping):
        return len(text)
    longest = max((weight(v) for v in table.values()), default=1)
    return len(text) * max(1, longest)


SIZED_METHODS: dict[str, Callable[..., int]] = {
    "center": _pad, "ljust": _pad, "rjust": _pad, "zfill": _pad, "expandtabs": _tabs,
    "replace": replaced_length, "translate": _translated,
}


def bounded_method(method: Any) -> Callable[..., Any]:
    """A str or bytes method that would grow its text, checked first (`join` on a list it made)."""
    name, text = method.__name__, method.__self__

    def checked(*args: Any, **kwargs: Any) -> Any:
        if name == "join":
            items = list(args[0]) if args else []
            _check(joined_length(text, items), MAX_TEXT, "a joined string's length")
            return method(items, *args[1:], **kwargs)
        _check(SIZED_METHODS[name](text, *args, **kwargs), MAX_TEXT, f"the result of {name}()")
        return method(*args, **kwargs)

    return checked


def is_sized_method(value: Any) -> bool:
    """A bound method of a str or bytes that can make a longer text than its own."""
    name = getattr(value, "__name__", "")
    return (name == "join" or name in SIZED_METHODS) and isinstance(getattr(value, "__self__", None), (str, bytes))
