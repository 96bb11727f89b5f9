"""Who a dial-by-name directory lists, in what order, and whom a caller's keys spell (Kazoo's
cf_directory: get_directory_user, sort_users, filter_users; cf_util:alpha_to_dialpad).

A user is listed in a directory when the user's own `directories` map names it; the map's value
is the callflow a caller who picks the user goes to. Names are the users' `first_name` and
`last_name`, tenant text: only their letters count on the keypad (accents dropped: `é` is on 3,
where Kazoo keeps a..z only), and they are spoken only through prompts.speak, which makes them
inert.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

KEYPAD = {letter: digit for digit, letters in (("2", "abc"), ("3", "def"), ("4", "ghi"), ("5", "jkl"),
                                               ("6", "mno"), ("7", "pqrs"), ("8", "tuv"), ("9", "wxyz"))
          for letter in letters}


def dialpad(text: str) -> str:
    """The keys that spell `text`'s letters (`Lee` -> `533`); other characters are left out."""
    plain = unicodedata.normalize("NFKD", text).casefold()
    return "".join(KEYPAD[c] for c in plain if c in KEYPAD)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One user as the directory offers them."""

    user_id: str
    first_name: str
    last_name: str
    callflow_id: str

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def first_last_keys(self) -> str:
        return dialpad(self.first_name + self.last_name)

    @property
    def last_first_keys(self) -> str:
        return dialpad(self.last_name + self.first_name)

    def is_spelled_by(self, digits: str, search_fields: str) -> bool:
        """Kazoo's filter: the keys of the first name then the last name (`first_name`), the
        last then the first (`last_name`), or either (`both`) begin with the caller's digits."""
        if not digits:
            return False
        spellings = {"first_name": (self.first_last_keys,), "last_name": (self.last_first_keys,)}
        keys = spellings.get(search_fields, (self.first_last_keys, self.last_first_keys))
        return any(k.startswith(digits) for k in keys)


def listing(users: Mapping[str, Mapping[str, Any]], directory_id: str, sort_by: str) -> list[Entry]:
    """The users whose `directories` map names the directory, sorted by `sort_by` (`first_name`:
    first then last name; else last then first), then by id so that the order is stable."""
    entries = [entry for user_id, user in users.items() if (entry := _entry(user_id, user, directory_id))]
    if sort_by == "first_name":
        return sorted(entries, key=lambda e: (e.first_name.casefold(), e.last_name.casefold(), e.user_id))
    return sorted(entries, key=lambda e: (e.last_name.casefold(), e.first_name.casefold(), e.user_id))


def matches(entries: Iterable[Entry], digits: str, search_fields: str) -> list[Entry]:
    """The entries the caller's digits spell, in the listing's order."""
    return [entry for entry in entries if entry.is_spelled_by(digits, search_fields)]


def _entry(user_id: str, user: Mapping[str, Any], directory_id: str) -> Entry | None:
    directories = user.get("directories")
    callflow_id = directories.get(directory_id) if isinstance(directories, Mapping) else None
    if not isinstance(callflow_id, str):
        return None
    first, last = user.get("first_name"), user.get("last_name")
    return Entry(user_id=str(user_id), first_name=first if isinstance(first, str) else "",
                 last_name=last if isinstance(last, str) else "", callflow_id=callflow_id)
