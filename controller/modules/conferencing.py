"""What the `conference` module and the conferences API share about FreeSWITCH's mod_conference:
the room's name there, and how a caller joins it.

A room is `<account>_<conference id>` (letters, digits, `_` and `-` only: mod_conference reads
`@` as the profile and `+` as a PIN or flags in the `conference` application's argument), in
FreeSWITCH's `default` profile. What differs per room and per caller is set as the channel
variables mod_conference reads when a member joins (`conference_max_members` when the room is
made, `conference_enter_sound`, `conference_exit_sound`) and as member flags from a fixed list
(`mute`, `deaf`, `moderator`, `wait-mod`): no text of the document reaches the argument. PINs
are checked by the controller before the caller joins, never handed to FreeSWITCH.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from controller.modules import pins
from controller.modules.play import media_path

PROFILE = "default"
NO_SOUND = "silence_stream://10"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def room(account_id: str, conference_id: str) -> str:
    """The conference's name in FreeSWITCH."""
    return _UNSAFE.sub("_", f"{account_id}_{conference_id}")


@dataclasses.dataclass(frozen=True)
class Joining:
    """How one caller joins one room."""

    room: str
    moderator: bool = False
    muted: bool = False
    deaf: bool = False
    wait_for_moderator: bool = False
    variables: tuple[tuple[str, str], ...] = ()

    @property
    def flags(self) -> list[str]:
        chosen = {"moderator": self.moderator, "mute": self.muted, "deaf": self.deaf,
                  "wait-mod": self.wait_for_moderator and not self.moderator}
        return [flag for flag, on in chosen.items() if on]

    def argument(self) -> str:
        flags = "+flags{" + "|".join(self.flags) + "}" if self.flags else ""
        return f"{self.room}@{PROFILE}{flags}"


def joining(account_id: str, doc: Mapping[str, Any], moderator: bool, data: Mapping[str, Any]) -> Joining:
    """The room's settings for a member or a moderator (Kazoo's defaults: members join muted,
    moderators not); the node's play_entry_tone / play_exit_tone win over the document's."""
    role = doc.get("moderator" if moderator else "member") or {}
    variables: dict[str, str] = {}
    limit = doc.get("max_participants", doc.get("max_members"))
    if isinstance(limit, int) and limit > 1:
        variables["conference_max_members"] = str(limit)
    for key, variable in (("play_entry_tone", "conference_enter_sound"), ("play_exit_tone", "conference_exit_sound")):
        sound = tone(data.get(key, doc.get(key)))
        if sound is not None:
            variables[variable] = sound
    wait = doc.get("wait_for_moderator") is True or doc.get("require_moderator") is True
    return Joining(room(account_id, str(doc.get("id", ""))), moderator, role.get("join_muted", not moderator) is True,
                   role.get("join_deaf") is True, wait, tuple(variables.items()))


def tone(value: object) -> str | None:
    """A sound for mod_conference: None keeps the profile's tone, false plays nothing, a string
    is a tone or media path."""
    if value is False:
        return NO_SOUND
    if isinstance(value, str) and value.strip():
        path = media_path(value)
        return path if path.split() == [path] else None
    return None


def role_of(doc: Mapping[str, Any], pin: str) -> str | None:
    """`moderator` or `member` for the PIN entered, None for a wrong one."""
    for role in ("moderator", "member"):
        if pin and any(pins.is_same(pin, str(kept)) for kept in (doc.get(role) or {}).get("pins") or []):
            return role
    return None


def needs_pin(doc: Mapping[str, Any]) -> bool:
    return any((doc.get(role) or {}).get("pins") for role in ("member", "moderator"))


def by_number(docs: list[dict[str, Any]], number: str) -> tuple[dict[str, Any], str | None] | None:
    """The room a conference number reaches, with the role that number gives (None: by PIN)."""
    for doc in docs:
        if number in (doc.get("conference_numbers") or []):
            return doc, None
        for role in ("moderator", "member"):
            if number in ((doc.get(role) or {}).get("numbers") or []):
                return doc, role
    return None
