"""Callflow document validation: Kazoo's callflows schema, then Kazoo's rules that a schema cannot
say, then each node's `data` against its module's schema. Every problem is reported with the
JSON path where it is, so that `flows check` and the API can say exactly which field is wrong.

Rules beyond the schema (Kazoo crossbar's `cb_callflows`):
- a callflow has at least one number or pattern, and a `flow`;
- every pattern compiles (RE2: linear time, no backreferences or lookaround);
- a node's `data` is validated by its module's schema; a module that does not exist here is an
  error naming the closest known one (a typo such as `missed_call_alret` would otherwise load,
  and the executor would skip it at every call: the alert would never fire).
Number uniqueness needs the store and is checked there.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator
from typing import Any

from controller.callflows import schema
from controller.callflows.patterns import PatternError, compile_pattern
from controller.errors import DocumentError

_PLAIN_MEMBER = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")


@dataclasses.dataclass(frozen=True)
class Report:
    """The outcome of validating one document."""

    errors: list[DocumentError]
    warnings: list[str]

    @property
    def is_valid(self) -> bool:
        return not self.errors


def _schema_errors(name: str, document: Any, source: str, prefix: str) -> Iterator[DocumentError]:
    for error in schema.errors(name, document):
        path = prefix + error.json_path[1:]
        yield DocumentError(source, path, _message(error))


def _message(error: Any) -> str:
    """jsonschema's message, but for "one of these fields is required" (an anyOf of required
    lists), which it words as "... is not valid under any of the given schemas"."""
    branches = error.validator_value if error.validator == "anyOf" else None
    if isinstance(branches, list) and branches and all(
            isinstance(b, dict) and set(b) == {"required"} for b in branches):
        names = [name for branch in branches for name in branch["required"]]
        return f"needs {' or '.join(repr(name) for name in names)}"
    return str(error.message)


def _walk(node: Any, path: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every well-formed action node of a flow tree with its JSON path."""
    if not isinstance(node, dict):
        return
    yield node, path
    children = node.get("children")
    if isinstance(children, dict):
        for key, child in children.items():
            yield from _walk(child, f"{path}.children{_member(key)}")


def _member(key: str) -> str:
    """A JSON path member written as jsonschema writes it (`.key` or `['key']`)."""
    if _PLAIN_MEMBER.fullmatch(key):
        return f".{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"['{escaped}']"


def _rule_errors(doc: dict[str, Any], source: str) -> Iterator[DocumentError]:
    numbers, patterns = doc.get("numbers") or [], doc.get("patterns") or []
    if not numbers and not patterns:
        yield DocumentError(source, "$", "a callflow needs at least one number or pattern")
    if "flow" not in doc:
        yield DocumentError(source, "$.flow", "a callflow needs a flow")
    for index, pattern in enumerate(patterns if isinstance(patterns, list) else []):
        if isinstance(pattern, str):
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                yield DocumentError(source, f"$.patterns[{index}]", str(exc))


def _module_findings(doc: dict[str, Any], source: str, report: Report) -> None:
    for node, path in _walk(doc.get("flow"), "$.flow"):
        module, data = node.get("module"), node.get("data", {})
        if not isinstance(module, str) or not isinstance(data, dict):
            continue
        validator = schema.module_validator(module)
        if validator is None:
            report.errors.append(DocumentError(source, f"{path}.module", unknown_module(module)))
            continue
        name = module + schema.MODULE_SUFFIX
        report.errors.extend(_schema_errors(name, data, source, f"{path}.data"))


def unknown_module(module: str) -> str:
    """The error for a module that does not exist, with the closest known name if one is close."""
    close = difflib.get_close_matches(module, sorted(schema.module_names()), n=1, cutoff=0.6)
    return f"unknown module {module!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def check_callflow(doc: Any, source: str = "callflow", prefix: str = "$") -> Report:
    """Validate one callflow document; `prefix` is its JSON path inside a larger document."""
    report = Report(errors=[], warnings=[])
    report.errors.extend(_schema_errors("callflow.json", doc, source, "$"))
    if isinstance(doc, dict):
        report.errors.extend(_rule_errors(doc, source))
        _module_findings(doc, source, report)
    if prefix != "$":
        report = _reprefix(report, prefix)
    return report


def _reprefix(report: Report, prefix: str) -> Report:
    errors = [DocumentError(e.source, prefix + e.path[1:], e.reason) for e in report.errors]
    warnings = [w.replace(": $", f": {prefix}", 1) for w in report.warnings]
    return Report(errors=errors, warnings=warnings)


def require_valid(doc: Any, source: str = "callflow") -> None:
    """Raise the first error of a callflow document (for callers that need one answer)."""
    report = check_callflow(doc, source)
    if report.errors:
        raise report.errors[0]
