"""Documents are stored as compact JSON text."""

from __future__ import annotations

import json
from typing import Any


def dump(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def load(text: str | bytes | None) -> Any:
    return None if text is None else json.loads(text)


MAX_DEPTH = 128  # objects and arrays inside one another: a flow 60 nodes deep is 123 in its envelope


def plain_problem(doc: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a parsed JSON document cannot be stored and walked safely, or None: nested deeper
    than `max_depth` (validators and flow walkers recurse), or a string that is not Unicode text
    (JSON's `\\ud800` parses into a lone surrogate that no UTF-8 encoder takes). Walked without
    recursion, so the check itself cannot overflow."""
    pending: list[tuple[Any, int, str]] = [(doc, 1, "$")]
    while pending:
        value, depth, path = pending.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return f"{path}: not valid Unicode text (a lone surrogate)"
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            return f"{path}: nested deeper than {max_depth} levels"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and not _is_text(key):
                return f"{path}: a key that is not valid Unicode text (a lone surrogate)"
            pending.append((item, depth + 1, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"))
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
