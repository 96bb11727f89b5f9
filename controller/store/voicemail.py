"""Voicemail messages: the metadata of each recording left in a box (Kazoo's vmbox `messages`).

A message is `{"media_id", "timestamp", "length" (seconds), "caller_id_name", "caller_id_number",
"call_id", "media_path", "folder"}`; `folder` is `new`, `saved` or `deleted` (Kazoo keeps deleted
messages until they are purged; a box counts only new and saved ones). Messages are listed oldest
first, as a caller hears them.
"""

from __future__ import annotations

from typing import Any

import redis

from controller.errors import NotFoundError
from controller.store import codec, keys

FOLDERS = ("new", "saved", "deleted")


class VoicemailMessages:
    def __init__(self, rds: redis.Redis) -> None:
        self._rds = rds

    def add(self, aid: str, box_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Store a new message (its `media_id` is its id) and return it."""
        doc = {"folder": "new", **message}
        if doc["folder"] not in FOLDERS:
            raise ValueError(f"unknown voicemail folder {doc['folder']!r}")
        media_id = str(doc["media_id"])
        pipe = self._rds.pipeline(transaction=True)
        pipe.hset(keys.vm_messages(aid, box_id), media_id, codec.dump(doc))
        pipe.zadd(keys.vm_order(aid, box_id), {media_id: float(doc.get("timestamp") or 0)})
        pipe.execute()
        return doc

    def all(self, aid: str, box_id: str, folder: str | None = None) -> list[dict[str, Any]]:
        """The box's messages oldest first; only one folder's when `folder` is given."""
        ids = [str(i) for i in self._rds.zrange(keys.vm_order(aid, box_id), 0, -1)]
        if not ids:
            return []
        docs = self._rds.hmget(keys.vm_messages(aid, box_id), ids)
        found = [codec.load(d) for d in docs if d is not None]
        return [m for m in found if folder is None or m.get("folder") == folder]

    def get(self, aid: str, box_id: str, media_id: str) -> dict[str, Any]:
        doc = codec.load(self._rds.hget(keys.vm_messages(aid, box_id), media_id))
        if doc is None:
            raise NotFoundError("voicemail message", media_id)
        return dict(doc)

    def move(self, aid: str, box_id: str, media_id: str, folder: str) -> dict[str, Any]:
        """Put a message in another folder (save, mark deleted, back to new)."""
        if folder not in FOLDERS:
            raise ValueError(f"unknown voicemail folder {folder!r}")
        doc = self.get(aid, box_id, media_id)
        doc["folder"] = folder
        self._rds.hset(keys.vm_messages(aid, box_id), media_id, codec.dump(doc))
        return doc

    def remove(self, aid: str, box_id: str, media_id: str) -> bool:
        """Forget a message entirely (the recording file is the media server's to delete)."""
        pipe = self._rds.pipeline(transaction=True)
        pipe.hdel(keys.vm_messages(aid, box_id), media_id)
        pipe.zrem(keys.vm_order(aid, box_id), media_id)
        removed, _ = pipe.execute()
        return bool(removed)

    def counts(self, aid: str, box_id: str) -> dict[str, int]:
        """How many new and saved messages the box holds (what "box full" is measured on)."""
        counts = {"new": 0, "saved": 0}
        for doc in self._rds.hvals(keys.vm_messages(aid, box_id)):
            folder = codec.load(doc).get("folder")
            if folder in counts:
                counts[folder] += 1
        return counts

    def purge(self, aid: str, box_id: str) -> None:
        self._rds.delete(keys.vm_messages(aid, box_id), keys.vm_order(aid, box_id))
