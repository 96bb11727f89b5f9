"""API tokens (Crossbar's X-Auth-Token): random 32-byte secrets, shown once when created and stored
only as their sha256 digest (a digest of a random 256-bit value needs no salt or slow hash).

A token belongs to one account and reaches that account and its descendants; `admin` lets it
write (otherwise it only reads); `super` makes it a super admin: every account, and the system
notification templates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from typing import Any

import redis

from controller.store import codec, keys


@dataclasses.dataclass(frozen=True)
class Token:
    digest: str
    account_id: str
    admin: bool
    super: bool
    created: float

    @property
    def can_write(self) -> bool:
        return self.admin or self.super

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Tokens:
    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def create(self, account_id: str, *, admin: bool = False, super_admin: bool = False) -> tuple[str, Token]:
        """A new token: returns the secret (to print once) and its stored record."""
        secret = secrets.token_urlsafe(32)
        token = Token(digest_of(secret), account_id, admin or super_admin, super_admin, time.time())
        record = {k: v for k, v in token.as_dict().items() if k != "digest"}
        pipe = self._rds.pipeline(transaction=True)
        pipe.set(keys.api_token(token.digest), codec.dump(record))
        pipe.sadd(keys.API_TOKENS, token.digest)
        pipe.execute()
        return secret, token

    def lookup(self, secret: str) -> Token | None:
        """The token a secret stands for, or None."""
        if not secret or len(secret) > 256:
            return None
        digest = digest_of(secret)
        record = codec.load(self._rds.get(keys.api_token(digest)))
        if record is None:
            return None
        return Token(digest, str(record["account_id"]), bool(record["admin"]), bool(record["super"]),
                     float(record["created"]))

    def all(self) -> list[Token]:
        digests = sorted(str(d) for d in self._rds.smembers(keys.API_TOKENS))
        if not digests:
            return []
        records = self._rds.mget([keys.api_token(d) for d in digests])
        return [Token(d, str(r["account_id"]), bool(r["admin"]), bool(r["super"]), float(r["created"]))
                for d, r in zip(digests, map(codec.load, records), strict=True) if r is not None]

    def revoke_account(self, account_id: str) -> int:
        """Revoke every token of an account (when it is deleted: an account created again later
        with the same id must not inherit them). Returns how many."""
        gone = [t.digest for t in self.all() if t.account_id == account_id]
        self._drop(gone)
        return len(gone)

    def revoke(self, digest_prefix: str) -> list[str]:
        """Revoke every token whose digest starts with the prefix (at least 8 hex digits)."""
        if len(digest_prefix) < 8:
            raise ValueError("give at least 8 hex digits of the token's digest")
        gone = [t.digest for t in self.all() if t.digest.startswith(digest_prefix.lower())]
        self._drop(gone)
        return gone

    def _drop(self, digests: list[str]) -> None:
        if digests:
            pipe = self._rds.pipeline(transaction=True)
            pipe.delete(*(keys.api_token(d) for d in digests))
            pipe.srem(keys.API_TOKENS, *digests)
            pipe.execute()
