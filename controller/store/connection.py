"""Builds the Redis client from the settings: a standalone server (`redis://`, `rediss://`,
`unix://`) or the master of a Redis Sentinel group when `redis_sentinels` is set."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from gevent.monkey import get_original
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


# The system's poll(2), not gevent's: asking whether a socket holds unread bytes, with no wait,
# needs no hub (gevent's takes a watcher and two switches for the same answer).
_poll = get_original("select", "poll")


class QuickPoll:
    """Mixed into the pool's connection class. redis-py asks every connection it hands out
    whether unread bytes wait on it (`can_read()`: a connection returned dirty is reconnected);
    under gevent that question cost 25-50 us of CPU per command, as much as the command itself.
    When the reply parser holds nothing and the socket has nothing to read, the answer is no at
    the cost of one poll(2); anything else goes to redis-py's own check, unchanged."""

    _sock: Any
    _parser: Any

    def can_read(self, timeout: float = 0) -> bool:
        sock = self._sock
        if timeout == 0 and sock is not None:
            reader = getattr(self._parser, "_reader", None)
            if reader is not None and not reader.has_data():
                poller = _poll()
                poller.register(sock.fileno(), select.POLLIN)
                if not poller.poll(0):
                    return False
        return super().can_read(timeout)  # type: ignore[misc]


def quick_poll(pool: redis.ConnectionPool) -> redis.ConnectionPool:
    """The pool, its connections answering `can_read()` without the hub (see QuickPoll)."""
    base = pool.connection_class
    if not issubclass(base, QuickPoll):
        pool.connection_class = type(f"QuickPoll{base.__name__}", (QuickPoll, base), {})
    return pool


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
        client = sentinel.master_for(
            settings.redis_sentinel_master,
            db=kwargs.get("db", 0),
            password=kwargs.get("password"),
            decode_responses=True,
            socket_timeout=5,
        )
        quick_poll(client.connection_pool)
        return client
    # A blocking pool: past `POOL_SIZE` connections a greenlet waits its turn (cooperatively)
    # instead of failing, which is what a burst of thousands of calls needs.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=POOL_SIZE, timeout=POOL_WAIT,
        decode_responses=True, socket_timeout=5, health_check_interval=30,
    )
    return redis.Redis(connection_pool=quick_poll(pool))


@contextmanager
def connected(settings: Settings) -> Iterator[redis.Redis]:
    """A client for one command's work, its connections closed at the end."""
    rds = connect(settings)
    try:
        yield rds
    finally:
        rds.connection_pool.disconnect()
