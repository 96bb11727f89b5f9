"""Users written with Kazoo's login fields: `username` (stored lowercased, unique in the account, as
Kazoo's kzd_users does) and the write-only `password` (or `credentials`, the md5 or sha1 digest of
`username:password` that a Kazoo database kept, for users whose password is not known). The
document is stored without them; their derived keys go to the account's logins
(store/logins.py), which `PUT /v2/user_auth` checks. A new username needs the password again
(Kazoo's rule: the credentials digest includes it). New credentials, or deleting the user, revoke
the tokens the user's logins made.
"""

from __future__ import annotations

from typing import Any

from controller.api.errors import ApiError, invalid
from controller.api.logins import offload
from controller.store.documents import Documents
from controller.store.logins import USER_SECRETS, Logins, derive, derive_all
from controller.store.tokens import Tokens


class UserStore:
    """The users' store for the API's resource routes (resource.Store), keeping the logins."""

    def __init__(self, users: Documents, logins: Logins, tokens: Tokens) -> None:
        self.users, self.logins, self.tokens = users, logins, tokens

    def find(self, aid: str, doc_id: str) -> dict[str, Any] | None:
        return self.users.find(aid, doc_id)

    def all(self, aid: str) -> list[dict[str, Any]]:
        return self.users.all(aid)

    def save(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self._write(aid, doc, create=False)

    def create(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self._write(aid, doc, create=True)

    def delete(self, aid: str, doc_id: str) -> None:
        self.users.delete(aid, doc_id)
        self.logins.set_user(aid, doc_id, {})
        self.tokens.revoke_owner(aid, doc_id)

    def _write(self, aid: str, given: dict[str, Any], *, create: bool) -> dict[str, Any]:
        doc = {k: v for k, v in given.items() if k not in USER_SECRETS}
        if isinstance(doc.get("username"), str):
            doc["username"] = doc["username"].lower()
        self._check_unique(aid, doc)
        derived = self._derived(aid, doc, given.get("password"), given.get("credentials"))
        saved = self.users.create(aid, doc) if create else self.users.save(aid, doc)
        if derived is not None:
            self.logins.set_user(aid, doc["id"], derived)
            self.tokens.revoke_owner(aid, doc["id"])
        return saved

    def _check_unique(self, aid: str, doc: dict[str, Any]) -> None:
        username = doc.get("username")
        holder = next((u["id"] for u in self.users.all(aid) if username and u.get("username") == username
                       and u.get("id") != doc["id"]), None)
        if holder is not None:
            used = f"username {username!r} is used by user {holder!r}"
            raise ApiError(409, "conflict", {"username": {"unique": used}})

    def _derived(self, aid: str, doc: dict[str, Any], password: Any, credentials: Any) -> dict[str, str] | None:
        """The user's new login keys; None: they stay as they are."""
        username = str(doc.get("username") or "")
        if isinstance(password, str):
            if not username:
                raise invalid("username", "required", "a password needs a username: a login is username:password")
            return offload(derive_all, aid, username, password)
        if isinstance(credentials, str):
            method = "md5" if len(credentials) == 32 else "sha"
            return {method: offload(derive, aid, method, credentials)}
        old = self.users.find(aid, doc["id"]) or {}
        if str(old.get("username") or "") != username and self.logins.has_user(aid, doc["id"]):
            raise invalid("password", "required", "a new username needs the password again (a login is "
                                                  "username:password)")
        return None
