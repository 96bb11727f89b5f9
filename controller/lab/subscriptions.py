"""Which events an outbound socket receives, as mod_event_socket keeps its `event_list`:

- `myevents` subscribes to a fixed list of channel events (MYEVENTS, from parse_command), not
  to everything: RECORD_*, PLAYBACK_*, CHANNEL_CALLSTATE... only come with `event plain`;
- `event plain NAME ...` adds names, `ALL` every event;
- `nixevent NAME ...` removes names (after `ALL`: every event but those);
- `noevents` removes everything.
"""

from __future__ import annotations

from collections.abc import Iterable

MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
    "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
    "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
})


class Subscriptions:
    """One listener's event list."""

    __slots__ = ("_all", "_excluded", "_mine", "_names")

    def __init__(self) -> None:
        self._names: set[str] = set()
        self._all = False
        self._excluded: set[str] = set()
        self._mine = False

    def myevents(self) -> bool:
        """False when `myevents` was already sent (FreeSWITCH refuses it a second time)."""
        if self._mine:
            return False
        self._mine = True
        self.add(MYEVENTS)
        return True

    def add(self, names: Iterable[str]) -> None:
        for name in names:
            if name == "ALL":
                self._all = True
                self._excluded.clear()
            else:
                self._names.add(name)
                self._excluded.discard(name)

    def nix(self, names: Iterable[str]) -> None:
        for name in names:
            if name == "ALL":
                self.clear()
            else:
                self._names.discard(name)
                if self._all:
                    self._excluded.add(name)

    def clear(self) -> None:
        self._mine = False
        self._names.clear()
        self._all = False
        self._excluded.clear()

    def wants(self, event: str) -> bool:
        return event in self._names or (self._all and event not in self._excluded)
