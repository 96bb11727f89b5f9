"""The calls this process's outbound server took, for its inbound watcher.

The watcher completes calls whose controller died; a call taken here is completed here (its
session's end, or the spool's drainer while Redis is away), and were this process dead its
watcher would be too. So a CHANNEL_DESTROY for one of these needs no look in Redis: about one
read per call saved. The set forgets a call when its destroy goes by, and the oldest beyond
`limit` (destroys missed while the watcher was disconnected): such a call costs the watcher
its usual read, nothing worse.
"""

from __future__ import annotations

import collections


class LocalCalls:
    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._uuids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def add(self, uuid: str) -> None:
        self._uuids[uuid] = None
        if len(self._uuids) > self.limit:
            self._uuids.popitem(last=False)

    def pop(self, uuid: str) -> bool:
        """True (and forgotten) when the call was taken here."""
        return self._uuids.pop(uuid, False) is None

    def __len__(self) -> int:
        return len(self._uuids)
