"""Account revisions: bumped by every write to an account, followed by the processes that cache
what calls read from accounts (store/cache.py).

A writer bumps `account:{aid}:revision` and publishes the account id on `CHANNEL` in the same
transaction (`bump`). A process serving calls follows the channel (`RevisionWatch`): while its
subscription is confirmed and answering, an account it has seen no message for since it last
read the revision has not changed, so a call can use the cached view without asking Redis; a
message, a lost connection or a silent one sends the next call back to Redis for the revision.
This is what Kazoo does with its document-change notices over AMQP, with Redis' own pub/sub.
"""

from __future__ import annotations

import logging
import time

import gevent
import redis
from redis.client import Pipeline

from controller.store import keys

log = logging.getLogger(__name__)

CHANNEL = "controller:revisions"
# The watch pings Redis this often; with nothing heard for three intervals it stops vouching.
PING_SECONDS = 5.0
RETRY_SECONDS = 1.0


def bump(pipe: Pipeline, aid: str) -> None:
    """Stage the revision bump of an account and its notice (inside the writer's transaction)."""
    pipe.incr(keys.revision(aid))
    pipe.publish(CHANNEL, aid)


Stamp = tuple[int, int]


class RevisionWatch:
    """Follows `CHANNEL` in a greenlet and says, through `stamp`, whether an account may have
    changed: two equal stamps taken while the watch is live mean no notice came in between
    for that account and the subscription never lapsed (a reconnection starts a new
    generation, since notices published meanwhile were lost)."""

    def __init__(self, rds: redis.Redis, ping_seconds: float = PING_SECONDS) -> None:
        self._rds = rds
        self._ping = ping_seconds
        self._generation = 0
        self._changes: dict[str, int] = {}
        self._heard_any = 0  # notices for any account this generation
        self._live_until = 0.0
        self._greenlet: gevent.Greenlet | None = None

    @property
    def live(self) -> bool:
        return time.monotonic() < self._live_until

    def stamp(self, aid: str) -> Stamp | None:
        """The account's current stamp; None while the watch cannot vouch for anything."""
        if time.monotonic() >= self._live_until:
            return None
        return self._generation, self._changes.get(aid, 0)

    def any_stamp(self) -> Stamp | None:
        """A stamp for every account at once (equal stamps: no account changed in between);
        None while the watch cannot vouch for anything."""
        if time.monotonic() >= self._live_until:
            return None
        return self._generation, self._heard_any

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        self._lapse()
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=5)
            self._greenlet = None

    def _lapse(self) -> None:
        """Vouch for nothing seen so far: a new generation (notices may have been lost)."""
        self._live_until = 0.0
        self._generation += 1
        self._changes.clear()
        self._heard_any = 0

    def _run(self) -> None:
        while True:
            try:
                self._follow()
            except (redis.RedisError, OSError) as exc:
                log.warning("account revision notices interrupted (%s); calls read revisions from Redis", exc)
            except Exception:  # (whatever it is, the watch must lapse and come back, not die)
                log.exception("account revision notices interrupted; calls read revisions from Redis")
            finally:
                self._lapse()
            gevent.sleep(RETRY_SECONDS)

    def _follow(self) -> None:
        pubsub = self._rds.pubsub()
        try:
            pubsub.subscribe(CHANNEL)
            pinged = time.monotonic()
            while True:
                message = pubsub.get_message(timeout=self._ping)
                now = time.monotonic()
                if message is not None:
                    self._heard(message, now)
                if now - pinged >= self._ping:
                    pubsub.ping()
                    pinged = now
                if self._live_until and now >= self._live_until:
                    raise redis.ConnectionError(f"no reply from Redis for {3 * self._ping:g} s")
        finally:
            pubsub.close()

    def _heard(self, message: dict[str, object], now: float) -> None:
        kind = message.get("type")
        if kind == "message":
            aid = message.get("data")
            aid = aid.decode("utf-8", "replace") if isinstance(aid, bytes) else str(aid)
            self._changes[aid] = self._changes.get(aid, 0) + 1
            self._heard_any += 1
        elif kind == "subscribe":
            # Every confirmation, even one redis-py got by reconnecting on its own: notices
            # published before it may have been lost, so nothing cached before it is vouched for.
            self._lapse()
            log.info("following account revision notices")
        self._live_until = now + 3 * self._ping
