"""Which events an outbound socket receives, as mod_event_socket keeps its `event_list`:

- `myevents` subscribes to a fixed list of channel events (MYEVENTS, from parse_command), not
  to everything: RECORD_*, PLAYBACK_*, CHANNEL_CALLSTATE... only come with `event plain`;
- `event plain NAME ...` adds names, `ALL` every event;
- `nixevent NAME ...` removes names (after `ALL`: every event but those);
- `noevents` removes everything.

And which of those events pass its filters (`filter`, `Filters`), as mod_event_socket's
event_handler tests them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from controller.esl.wire import Event

Lookup = Callable[[str], "str | None"]  # an event's header value by name

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

    def __bool__(self) -> bool:
        """Whether anything is subscribed."""
        return bool(self._names) or self._all


class Filters:
    """A listener's `filter` list: (header, value) pairs in the order given, the same header
    possibly several times. With none, every subscribed event goes out. With some, an event
    goes out when a filter matches it (its header has that value, case aside, or matches a
    `/regex/`); a value starting with `-` is a negative filter: a match keeps the event back
    whatever matched before (mod_event_socket.c, event_handler)."""

    __slots__ = ("_pairs",)

    def __init__(self) -> None:
        self._pairs: list[tuple[str, str]] = []

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def command(self, arg: str) -> str:
        """`filter <header> <value>` (or `filter add ...`), `filter delete <header> [<value>]`,
        `filter delete all`: the reply text FreeSWITCH gives."""
        header, _, value = arg.strip().partition(" ")
        if header.lower() == "delete" and value:
            header, _, value = value.partition(" ")
            if header.lower() == "all":
                self._pairs.clear()
            else:
                self._pairs = [(h, v) for h, v in self._pairs
                               if not (h.lower() == header.lower() and (not value or v == value))]
            return f"+OK filter deleted. [{header}][{value}]"
        if header.lower() == "add" and value:
            header, _, value = value.partition(" ")
        if not header or not value:
            return "-ERR invalid syntax"
        self._pairs.append((header, value))
        return f"+OK filter added. [{header}]=[{value}]"

    def passes(self, lookup: Lookup) -> bool:
        if not self._pairs:
            return True
        send = False
        for header, value in self._pairs:
            found = lookup(header)
            if found is None:
                continue
            wanted = value.lstrip("+- ")
            positive = not value[: len(value) - len(wanted)].rstrip(" ").endswith("-")
            if send and positive:
                continue
            if value.startswith("/"):  # the value as given, not after a sign (as FreeSWITCH tests it)
                matched = _regex(wanted).search(found) is not None
            else:
                matched = found.lower() == wanted.lower()
            if matched:
                if not positive:
                    return False
                send = True
        return send


def _regex(expression: str) -> re.Pattern[str]:
    """`/pattern/flags` as switch_regex_perform reads it (`i` caseless, `s` dot-all)."""
    pattern, _, options = expression[1:].rpartition("/")
    flags = (re.IGNORECASE if "i" in options else 0) | (re.DOTALL if "s" in options else 0)
    return re.compile(pattern if _ else expression[1:], flags)


def frame_lookup(frame: bytes) -> Lookup:
    """An event frame's header values by name, names compared without case as
    switch_event_get_header does; parsed only as far as asked."""
    event = Event(frame[frame.index(b"\n\n") + 2 :])

    def lookup(name: str) -> str | None:
        found = event.get(name)
        if found is None:
            lowered = name.lower()
            found = next((value for key, value in event.items() if key.lower() == lowered), None)
        return found

    return lookup
