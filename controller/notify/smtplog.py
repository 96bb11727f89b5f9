"""The SMTP log (Kazoo's smtplog): one entry per delivery attempt, per account, newest first,
bounded to the last `KEEP` entries."""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis
from redis.client import Pipeline

from controller.store import codec, keys

KEEP = 1000


class SmtpLog:
    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def record(self, account_id: str, entry: dict[str, Any], pipe: Pipeline | None = None) -> str:
        """Add an entry; with `pipe`, as part of the caller's transaction (which the caller runs)."""
        entry = {"id": uuid.uuid4().hex, "created": time.time(), **entry}
        own = pipe is None
        pipe = self._rds.pipeline(transaction=True) if pipe is None else pipe
        pipe.lpush(keys.smtplog(account_id), codec.dump(entry))
        pipe.ltrim(keys.smtplog(account_id), 0, KEEP - 1)
        if own:
            pipe.execute()
        return str(entry["id"])

    def entries(self, account_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return [codec.load(raw) for raw in self._rds.lrange(keys.smtplog(account_id), 0, limit - 1)]
