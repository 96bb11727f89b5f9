"""API tokens (Crossbar's X-Auth-Token): random 32-byte secrets, shown once when created and stored
only as their sha256 digest (a digest of a random 256-bit value needs no salt or slow hash).

A token belongs to one account and reaches that account and its descendants; `admin` lets it
write (otherwise it only reads); `super` makes it a super admin: every account, and the system
notification templates. Tokens made by a login (`PUT /v2/user_auth`, `/v2/api_auth`) also name
the user they were made for (`owner_id`, none for an API key), how (`method`, Kazoo's
`cb_user_auth` / `cb_api_auth`) and expire (`expires`, a Unix time; 0: never), as Kazoo's do.
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
    expires: float = 0.0
    owner_id: str = ""
    method: str = ""

    @property
    def can_write(self) -> bool:
        return self.admin or self.super

    @property
    def is_live(self) -> bool:
        return not self.expires or self.expires > time.time()

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Tokens:
    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def create(self, account_id: str, *, admin: bool = False, super_admin: bool = False, lifetime: int = 0,
               owner_id: str = "", method: str = "") -> tuple[str, Token]:
        """A new token: returns the secret (to print once) and its stored record. `lifetime`:
        seconds until it expires (0: never)."""
        secret = secrets.token_urlsafe(32)
        now = time.time()
        token = Token(digest_of(secret), account_id, admin or super_admin, super_admin, now,
                      now + lifetime if lifetime else 0.0, owner_id, method)
        record = {k: v for k, v in token.as_dict().items() if k != "digest"}
        pipe = self._rds.pipeline(transaction=True)
        pipe.set(keys.api_token(token.digest), codec.dump(record), ex=lifetime or None)
        pipe.sadd(keys.API_TOKENS, token.digest)
        pipe.execute()
        return secret, token

    def lookup(self, secret: str) -> Token | None:
        """The token a secret stands for, or None (also once it expired)."""
        if not secret or len(secret) > 256:
            return None
        digest = digest_of(secret)
        token = _token(digest, codec.load(self._rds.get(keys.api_token(digest))))
        return token if token is not None and token.is_live else None

    def all(self) -> list[Token]:
        """Every live token; the digests of those that expired are forgotten on the way."""
        digests = sorted(str(d) for d in self._rds.smembers(keys.API_TOKENS))
        if not digests:
            return []
        records = self._rds.mget([keys.api_token(d) for d in digests])
        found = [_token(d, codec.load(r)) for d, r in zip(digests, records, strict=True)]
        gone = [d for d, t in zip(digests, found, strict=True) if t is None or not t.is_live]
        if gone:
            self._drop(gone)
        return [t for t in found if t is not None and t.is_live]

    def prune(self, sample: int = 20) -> int:
        """Forget the digests of expired tokens among a random sample (their records are gone
        already); a login calls it, so the set of digests does not grow with every login."""
        digests = [str(d) for d in self._rds.srandmember(keys.API_TOKENS, sample) or []]
        if not digests:
            return 0
        gone = [d for d, raw in zip(digests, self._rds.mget([keys.api_token(d) for d in digests]), strict=True)
                if raw is None]
        if gone:
            self._rds.srem(keys.API_TOKENS, *gone)
        return len(gone)

    def revoke_owner(self, account_id: str, owner_id: str) -> int:
        """Revoke the tokens a user's logins made (the user was deleted or changed password)."""
        gone = [t.digest for t in self.all() if t.account_id == account_id and t.owner_id == owner_id]
        self._drop(gone)
        return len(gone)

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


def _token(digest: str, record: Any) -> Token | None:
    if not isinstance(record, dict):
        return None
    return Token(digest, str(record["account_id"]), bool(record["admin"]), bool(record["super"]),
                 float(record["created"]), float(record.get("expires") or 0), str(record.get("owner_id") or ""),
                 str(record.get("method") or ""))
