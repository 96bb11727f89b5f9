"""`/v2/accounts/{id}/directories` (Crossbar's cb_directories): dial-by-name directories as
stored, and on reading one, its `users` as Kazoo lists them: every user whose own `directories`
map names it, with the callflow the map names (`{user_id, callflow_id}`). A write's `users` is
not kept: a user joins or leaves a directory through the user's document, as in Kazoo, whose
listing comes from the users too (its `directories/users_listing` view)."""

from __future__ import annotations

from typing import Any

from controller.modules.directory_listing import listing
from controller.store.documents import Documents


class DirectoryStore:
    """The directories' store for the API's resource routes (resource.Store)."""

    def __init__(self, directories: Documents, users: Documents) -> None:
        self.directories, self.users = directories, users

    def find(self, aid: str, doc_id: str) -> dict[str, Any] | None:
        doc = self.directories.find(aid, doc_id)
        return None if doc is None else {**doc, "users": self.listed(aid, doc_id)}

    def all(self, aid: str) -> list[dict[str, Any]]:
        return self.directories.all(aid)

    def save(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self.directories.save(aid, _stored(doc))

    def create(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self.directories.create(aid, _stored(doc))

    def delete(self, aid: str, doc_id: str) -> None:
        self.directories.delete(aid, doc_id)

    def listed(self, aid: str, doc_id: str) -> list[dict[str, str]]:
        """Who is in the directory, by user id (whom the `directory` module offers)."""
        users = {str(user.get("id")): user for user in self.users.all(aid)}
        entries = sorted(listing(users, doc_id, "last_name"), key=lambda entry: entry.user_id)
        return [{"user_id": entry.user_id, "callflow_id": entry.callflow_id} for entry in entries]


def _stored(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "users"}
