"""The Jinja2 environment notification templates run in: Jinja2's ImmutableSandboxedEnvironment
(no Python internals, no mutation of lists and dicts), plus the two things it leaves open.

1. Nothing of a template is evaluated while it compiles. Jinja2 folds constant expressions at
   compile time (its optimizer, and the compiler's own folding of `{{ ... }}` children and of
   `{% autoescape %}` values), outside any render limit: `{{ 3**(3*10**7) % 10 }}` ran 12.8 s in
   `from_string`. Here the optimizer is off (`optimized=False`), every operator is intercepted (an
   intercepted operator is never folded) and the code generator folds nothing but literal text.
2. Nothing grows past the limits of `bounds.py` while it renders: the operators (`call_binop`),
   `~`, the text a `{{ }}` prints (`finalize`), the buffers of blocks and macros (`concat`),
   the filters that can multiply their input, and the str/bytes methods that can (`center`,
   `replace`, `join`, `format`, ...). `lipsum` is gone (it makes text by the megabyte).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import _PassArg
from markupsafe import Markup

from controller.notify import bounds
from controller.notify.bounds import MAX_ITEMS, MAX_JSON_INDENT, MAX_TEXT, LimitError, weight

OPERATORS = frozenset(("+", "-", "*", "/", "//", "**", "%"))
_FAST = (str, int, float, bool, type(None), jinja2.Undefined)


class _UnfoldedCodeGenerator(CodeGenerator):
    """Jinja2's code generator without compile-time evaluation of template expressions."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def visit_EvalContextModifier(self, node: nodes.EvalContextModifier, frame: Frame) -> None:  # noqa: N802
        """`{% autoescape x %}`: only a literal is known while compiling; anything else is
        evaluated when the template runs (Jinja2 would try to evaluate it here)."""
        for keyword in node.options:
            self.writeline(f"context.eval_ctx.{keyword.key} = ")
            self.visit(keyword.value, frame)
            if isinstance(keyword.value, nodes.Const):
                setattr(frame.eval_ctx, keyword.key, keyword.value.value)
            else:
                frame.eval_ctx.volatile = True

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802
        """`a ~ b`: joined by the environment, which checks the length first."""
        markup = "context.eval_ctx.autoescape" if frame.eval_ctx.volatile else repr(bool(frame.eval_ctx.autoescape))
        self.write("environment.tilde((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f"), {markup})")


def _printable(value: Any) -> Any:
    """`finalize`: what a `{{ }}` prints is checked before it becomes text."""
    if not isinstance(value, _FAST):
        weight(value)
    return value


def _bounded_concat(parts: Iterable[str]) -> str:
    """The environment's `concat` (the buffers of blocks, macros and `{% set %}` blocks)."""
    items = parts if isinstance(parts, list) else list(parts)
    if sum(map(len, items)) > MAX_TEXT:
        raise LimitError(f"a block's text over the template limit of {MAX_TEXT}")
    return "".join(items)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with nothing folded at compile time and growth bounded at run time."""

    code_generator_class = _UnfoldedCodeGenerator
    intercepted_binops = OPERATORS

    def __init__(self, *, html: bool) -> None:
        super().__init__(autoescape=html, undefined=jinja2.ChainableUndefined, optimized=False, finalize=_printable)
        self.globals.pop("lipsum", None)
        self.filters = {name: _bounded_filter(name, func) for name, func in self.filters.items()}
        self.concat = _bounded_concat  # type: ignore[method-assign]

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return bounds.binop(operator, left, right)

    def tilde(self, values: tuple[Any, ...], markup: bool) -> str:
        if sum(weight(value) for value in values) > MAX_TEXT:
            raise LimitError(f"a joined string's length over the template limit of {MAX_TEXT}")
        return markup_join(values) if markup else str_join(values)

    def wrap_str_format(self, value: Any) -> Callable[..., Any] | None:
        """Every attribute a template reads passes here: the str and bytes methods that can grow
        a text come back checked (Jinja2 wraps `format` here the same way, for its sandbox)."""
        if bounds.is_sized_method(value):
            return bounds.bounded_method(value)
        if getattr(value, "__name__", "") in ("format", "format_map") and isinstance(
                getattr(value, "__self__", None), str):
            return _format_method(self, value)
        return None


# --- str.format ----------------------------------------------------------------------------------

class _BudgetFormatter(SandboxedFormatter):
    """The sandbox's formatter, counting what it makes: each field's spec and value are checked
    before the field is formatted (`string.Formatter` is Python: it stops between fields)."""

    def __init__(self, env: jinja2.Environment, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.size = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        bounds.check_spec(format_spec)
        if self.size + weight(value) > MAX_TEXT:
            raise LimitError(f"a formatted string's length over the template limit of {MAX_TEXT}")
        text = super().format_field(value, format_spec)
        self.size += len(text)
        if self.size > MAX_TEXT:
            raise LimitError(f"a formatted string's length over the template limit of {MAX_TEXT}")
        return text


class _BudgetEscapeFormatter(_BudgetFormatter, SandboxedEscapeFormatter):
    pass


def _format_method(env: jinja2.Environment, method: Any) -> Callable[..., str]:
    text, is_map = method.__self__, method.__name__ == "format_map"

    def formatted(*args: Any, **kwargs: Any) -> str:
        if is_map:
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one argument")
            kwargs, args = args[0], ()
        formatter = (_BudgetEscapeFormatter(env, escape=text.escape) if isinstance(text, Markup)
                     else _BudgetFormatter(env))
        return type(text)(formatter.vformat(text, args, kwargs))

    return formatted


# --- filters -------------------------------------------------------------------------------------

def _limit(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise LimitError(f"{what} over the template limit of {limit}")


def _text_length(value: Any) -> int:
    return len(value) if isinstance(value, str) else weight(value)


def _check_indent(a: dict[str, Any]) -> None:
    width, text = a.get("width", 4), a["s"]
    lines = text.count("\n") + 1 if isinstance(text, str) else weight(text)
    _limit(_text_length(text) + lines * (len(width) if isinstance(width, str) else int(width)), MAX_TEXT,
           "the result of indent")


def _check_wordwrap(a: dict[str, Any]) -> None:
    text, wrap = a["s"], a.get("wrapstring") or "\n"
    length = _text_length(text)
    breaks = length // max(1, int(a.get("width", 79))) + (text.count(" ") if isinstance(text, str) else length) + 1
    _limit(length + breaks * len(wrap), MAX_TEXT, "the result of wordwrap")


def _check_replace(a: dict[str, Any]) -> None:
    text, old, new = a["s"], str(a["old"]), str(a["new"])
    size = (bounds.replaced_length(text, old, new, a.get("count")) if isinstance(text, str)
            else weight(text) * max(1, len(new)))
    _limit(size, MAX_TEXT, "the result of replace")


def _check_join(a: dict[str, Any]) -> None:
    a["value"] = items = list(a["value"])
    _limit(bounds.joined_length(str(a.get("d", "")), items), MAX_TEXT, "the result of join")


def _check_sum(a: dict[str, Any]) -> None:
    a["iterable"] = items = list(a["iterable"])
    _limit(len(items), MAX_ITEMS, "the items of sum")
    if not all(isinstance(item, (int, float)) for item in items):
        weight(items)


def _check_format(a: dict[str, Any]) -> None:
    bounds.check_percent(str(a["value"]), a.get("kwargs") or a.get("args") or ())


def _check_tojson(a: dict[str, Any]) -> None:
    indent = a.get("indent")
    _limit(len(indent) if isinstance(indent, str) else int(indent or 0), MAX_JSON_INDENT, "the indent of tojson")


def _check_count(name: str) -> Callable[[dict[str, Any]], None]:
    def check(a: dict[str, Any]) -> None:
        _limit(int(a.get(name, 0)), MAX_TEXT if name == "width" else MAX_ITEMS, f"the {name} argument")
    return check


_FILTER_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "indent": _check_indent, "wordwrap": _check_wordwrap, "replace": _check_replace, "join": _check_join,
    "sum": _check_sum, "format": _check_format, "tojson": _check_tojson, "center": _check_count("width"),
    "batch": _check_count("linecount"), "slice": _check_count("slices"),
}


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose arguments are weighed (a container's text) and, for the filters that can
    multiply their input, whose result is estimated before it runs."""
    check = _FILTER_CHECKS.get(name)
    skip = 1 if _PassArg.from_obj(func) is not None else 0
    signature = _own_signature(func, skip) if check is not None else None

    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[skip:], *kwargs.values()):
            if not isinstance(value, _FAST):
                weight(value)
        if check is None or signature is None:
            return func(*args, **kwargs)
        bound = signature.bind(*args[skip:], **kwargs)
        check(bound.arguments)
        return func(*args[:skip], *bound.args, **bound.kwargs)

    return functools.update_wrapper(bounded, func)


def _own_signature(func: Callable[..., Any], skip: int) -> inspect.Signature:
    """A filter's signature without the context, eval context or environment Jinja2 passes first
    (the sync/async wrappers of some filters show their inner function's, which lacks it)."""
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    if skip and params and params[0].name in ("eval_ctx", "environment", "context"):
        params = params[1:]
    return signature.replace(parameters=params)
