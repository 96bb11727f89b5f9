"""Crossbar's list paging: `page_size` (1..1000, default 50) and `start_key` (the id to start at);
the answer carries `page_size` (how many came back), `start_key` and, when more remain,
`next_start_key`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Response, request

from controller.api.envelope import reply
from controller.api.errors import invalid

DEFAULT_PAGE = 50
MAX_PAGE = 1000


def _page_size() -> int:
    raw = request.args.get("page_size", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise invalid("page_size", "range", f"page_size must be an integer from 1 to {MAX_PAGE}")
    return int(raw)


def paged(
    items: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], str] | None = None, presorted: bool = False
) -> Response:
    """Reply with one page of items, sorted by `key` (the id by default) unless `presorted`, in
    which case `start_key` is the key of the first item wanted."""
    key = key or (lambda item: str(item.get("id", "")))
    size = _page_size()
    start = request.args.get("start_key")
    ordered = list(items) if presorted else sorted(items, key=key)
    if start is not None and presorted:
        ordered = ordered[next((i for i, item in enumerate(ordered) if key(item) == start), len(ordered)):]
    elif start is not None:
        ordered = [item for item in ordered if key(item) >= start]
    page, rest = ordered[:size], ordered[size:]
    extra: dict[str, Any] = {"page_size": len(page)}
    if start is not None:
        extra["start_key"] = start
    if rest:
        extra["next_start_key"] = key(rest[0])
    return reply(page, **extra)
