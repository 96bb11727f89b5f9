"""Builds the Redis client from the settings: a standalone server (`redis://`, `rediss://`,
`unix://`) or the master of a Redis Sentinel group when `redis_sentinels` is set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis import exceptions
from redis.sentinel import Sentinel

from controller.config import Settings

POOL_SIZE = 64
POOL_WAIT = 10.0

# Errors that say Redis cannot serve now (down, restarting, still loading its data, a replica
# promoted under us, out of memory), not that a request was wrong: what is due is kept and tried
# again. BusyLoadingError and Sentinel's MasterNotFoundError are ConnectionErrors; EXEC aborts
# when a queued command was refused for such a reason.
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.ConnectionError, redis.TimeoutError, exceptions.ReadOnlyError, exceptions.OutOfMemoryError,
    exceptions.TryAgainError, exceptions.ClusterDownError, exceptions.ExecAbortError,
)


def connect(settings: Settings) -> redis.Redis:
    """A client with decoded (str) responses; connections are made lazily on first use."""
    if settings.redis_sentinels:
        base = redis.Redis.from_url(settings.redis_url)
        kwargs = base.connection_pool.connection_kwargs
        sentinel = Sentinel(
            list(settings.redis_sentinels),
            socket_timeout=5,
            password=kwargs.get("password"),
        )
        return sentinel.master_for(
            settings.redis_sentinel_master,
            db=kwargs.get("db", 0),
            password=kwargs.get("password"),
            decode_responses=True,
            socket_timeout=5,
        )
    # A blocking pool: past `POOL_SIZE` connections a greenlet waits its turn (cooperatively)
    # instead of failing, which is what a burst of thousands of calls needs.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=POOL_SIZE, timeout=POOL_WAIT,
        decode_responses=True, socket_timeout=5, health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)


@contextmanager
def connected(settings: Settings) -> Iterator[redis.Redis]:
    """A client for one command's work, its connections closed at the end."""
    rds = connect(settings)
    try:
        yield rds
    finally:
        rds.connection_pool.disconnect()
