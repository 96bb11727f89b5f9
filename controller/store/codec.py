"""Documents are stored as compact JSON text."""

from __future__ import annotations

import json
from typing import Any


def dump(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def load(text: str | bytes | None) -> Any:
    return None if text is None else json.loads(text)
