"""What Kazoo's logins check: users' credentials (Crossbar's user_auth) and accounts' API keys
(api_auth), and the count of failed logins that throttles guessing.

Kazoo's user_auth sends `credentials`, the md5 (or sha1, `method: sha`) hex digest of
`username:password`, and Kazoo keeps that digest as it is: whoever reads the database can log in
with it, and cracks weak passwords at billions of guesses a second. Here the digest is only ever
stored through scrypt (N=2^14, r=8: about 16 MiB and tens of milliseconds a derivation), salted
with the account and the method: `derive`. A login derives its key once and looks it up in the
account's `logins` hash, so it costs one derivation however many users the account has; the user
record holds the same key again, compared in constant time. Passwords themselves are never kept.

An API key is 32 random bytes (64 hex digits, Kazoo's length); only its sha256 is kept (a digest
of a random 256-bit value needs no salt or slow hash), so it is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import redis

from controller.store import keys

METHODS: dict[str, Callable[[bytes], Any]] = {"md5": hashlib.md5, "sha": hashlib.sha1}
# What a user document is written with but never holds (Kazoo's users: the password, its
# confirmation, imported credentials).
USER_SECRETS = ("password", "confirm_password", "credentials")
CREDENTIALS = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}")
API_KEY = re.compile(r"[0-9a-fA-F]{64}")
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 1024 * 1024}


def kazoo_credentials(username: str, password: str, method: str = "md5") -> str:
    """What a Kazoo client sends: the digest of `username:password` (the username lowercased,
    as Kazoo stores it)."""
    return str(METHODS[method](f"{username.lower()}:{password}".encode()).hexdigest())


def derive(aid: str, method: str, credentials: str) -> str:
    """The slow, salted key a credentials digest is kept and looked up as (CPU-heavy: call it off
    the loop that answers requests)."""
    salt = f"controller user_auth {method} {aid}".encode()
    return hashlib.scrypt(credentials.lower().encode("ascii", "replace"), salt=salt, **SCRYPT).hex()


def derive_all(aid: str, username: str, password: str) -> dict[str, str]:
    """The keys of a new password, one per method."""
    return {method: derive(aid, method, kazoo_credentials(username, password, method)) for method in METHODS}


class Logins:
    """Users' derived credentials, accounts' API keys, failed logins."""

    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    # --- users ----------------------------------------------------------------------------------

    def set_user(self, aid: str, user_id: str, derived: dict[str, str]) -> None:
        """Replace a user's credentials with these derived keys (none: the user cannot log in)."""
        old = self._derived_of(aid, user_id)
        pipe = self._rds.pipeline(transaction=True)
        if old:
            pipe.hdel(keys.logins(aid), *old.values())
        if derived:
            pipe.hset(keys.logins(aid), mapping={key: user_id for key in derived.values()})
            pipe.hset(keys.login_of(aid), user_id, json.dumps(derived))
        else:
            pipe.hdel(keys.login_of(aid), user_id)
        pipe.execute()

    def has_user(self, aid: str, user_id: str) -> bool:
        return bool(self._rds.hexists(keys.login_of(aid), user_id))

    def user_for(self, aid: str, method: str, derived: str) -> str | None:
        """The user whose credentials derive to this key, or None."""
        user_id = self._rds.hget(keys.logins(aid), derived)
        if user_id is None:
            return None
        user_id = user_id.decode() if isinstance(user_id, bytes) else str(user_id)
        stored = self._derived_of(aid, user_id).get(method, "")
        return user_id if hmac.compare_digest(stored.encode(), derived.encode()) else None

    def _derived_of(self, aid: str, user_id: str) -> dict[str, str]:
        raw = self._rds.hget(keys.login_of(aid), user_id)
        found = json.loads(raw) if raw else {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    # --- accounts' API keys -----------------------------------------------------------------------

    def new_api_key(self, aid: str, given: str | None = None) -> str:
        """Make (or import, `given`: a Kazoo account's 64 hex digits) the account's API key,
        replacing the one it had; returns it (it is not kept)."""
        key = (given or secrets.token_hex(32)).lower()
        digest = hashlib.sha256(key.encode()).hexdigest()
        old = self.api_key_record(aid)
        pipe = self._rds.pipeline(transaction=True)
        if old:
            pipe.delete(keys.api_key(str(old["digest"])))
        pipe.set(keys.api_key(digest), aid)
        pipe.set(keys.account_api_key(aid), json.dumps({"digest": digest, "created": time.time()}))
        pipe.execute()
        return key

    def api_key_record(self, aid: str) -> dict[str, Any] | None:
        raw = self._rds.get(keys.account_api_key(aid))
        return dict(json.loads(raw)) if raw else None

    def account_for_api_key(self, key: str) -> str | None:
        if not API_KEY.fullmatch(key):
            return None
        digest = hashlib.sha256(key.lower().encode()).hexdigest()
        aid = self._rds.get(keys.api_key(digest))
        if aid is None:
            return None
        aid = aid.decode() if isinstance(aid, bytes) else str(aid)
        record = self.api_key_record(aid) or {}
        return aid if hmac.compare_digest(str(record.get("digest", "")).encode(), digest.encode()) else None

    def forget_account(self, aid: str) -> None:
        """Drop everything an account's logins kept (when the account is deleted)."""
        old = self.api_key_record(aid)
        pipe = self._rds.pipeline(transaction=True)
        if old:
            pipe.delete(keys.api_key(str(old["digest"])))
        pipe.delete(keys.logins(aid), keys.login_of(aid), keys.account_api_key(aid))
        pipe.execute()

    # --- failed logins ----------------------------------------------------------------------------

    def failures(self, scopes: list[str]) -> list[tuple[int, int]]:
        """(failed logins, seconds until the count resets) of each scope."""
        pipe = self._rds.pipeline(transaction=False)
        for scope in scopes:
            pipe.get(keys.login_failures(scope))
            pipe.ttl(keys.login_failures(scope))
        found = pipe.execute()
        return [(int(found[2 * n] or 0), max(0, int(found[2 * n + 1]))) for n in range(len(scopes))]

    def count_failure(self, scopes: list[str], window: int) -> None:
        """One more failed login for each scope; a count lasts `window` seconds from its first."""
        pipe = self._rds.pipeline(transaction=False)
        for scope in scopes:
            pipe.set(keys.login_failures(scope), 0, ex=window, nx=True)
            pipe.incr(keys.login_failures(scope))
        pipe.execute()
