"""directory — dial by name: the caller spells the first letters of a name on the keypad, hears
the matches and picks one (Kazoo's cf_directory).

Data: `id`, the directory document (`/v2/accounts/{id}/directories`), whose settings are
Kazoo's: `search_fields` (`first_name`, `last_name` or `both`, the default: what is spelled),
`sort_by` (`last_name`, the default, or `first_name`: the order of the matches), `min_dtmf` (3:
keys needed before searching), `max_dtmf` (0: no limit of the directory's own; 32 keys are read
at most), `confirm_match` (true: a single match is confirmed with 1 first). Users are listed
through their `directories` map (directory_listing.py).

The dialogue, spoken by mod_flite in Kazoo's words (there are no sound files for it; no
apostrophe, which the text would carry as U+2019): "Please enter the first few letters of the
name of the person you are calling" (the entry ends with `#` or a 2 s pause); `0`
alone continues to the `_` child (Kazoo's return to the main menu); fewer keys than `min_dtmf`
says so and asks again; no match says so and asks again; one match is confirmed ("One match
found. To connect to <name>, press 1. To start over, press 3.") or taken; several are offered one
by one ("To call <name>, press 1. For the next result, press 2. To start over, press 3."), an
invalid key saying so, and "No more results" after the last. Three entries without enough keys,
or three offers of one name without an answer, end the call, as in Kazoo; ten searches in all
end it too. The picked user's callflow (their `directories` map) runs as a branch, else the
user's devices ring (a `user` node). A directory that does not exist, or lists nobody ("No match
found"), continues to `_`.

Names are tenant text: they are spoken through prompts.speak, which makes them inert.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Branch, Next
from controller.modules.directory_listing import Entry, listing, matches
from controller.modules.prompts import Collect, Prompt, collect, play

log = logging.getLogger(__name__)

MAX_DIGITS = 32
ENTRY_TRIES = 3
OFFER_TRIES = 3
MAX_SEARCHES = 10
START_OVER = "start_over"
STOP = "stop"
ASK = {
    "both": "Please enter the first few letters of the name of the person you are calling.",
    "first_name": "Please enter the first few letters of the first name of the person you are calling.",
    "last_name": "Please enter the first few letters of the last name of the person you are calling.",
}
NO_RESULTS = "No match found."
NO_MORE_RESULTS = "No more results."
INVALID_KEY = "Invalid key pressed."
PICK = Collect(max_digits=1, timeout_ms=5000, terminators="")


@dataclasses.dataclass(frozen=True)
class Settings:
    search_fields: str = "both"
    sort_by: str = "last_name"
    min_dtmf: int = 3
    max_dtmf: int = MAX_DIGITS
    confirm_match: bool = True

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Settings:
        """A directory document's settings, Kazoo's defaults filling the gaps; the caller's keys
        bounded to MAX_DIGITS whatever the document says."""
        most = _count(doc.get("max_dtmf"), 0) or MAX_DIGITS
        most = min(most, MAX_DIGITS)
        fields = doc.get("search_fields")
        return cls(search_fields=fields if fields in ASK else "both",
                   sort_by="first_name" if doc.get("sort_by") == "first_name" else "last_name",
                   min_dtmf=min(max(1, _count(doc.get("min_dtmf"), 3)), most), max_dtmf=most,
                   confirm_match=doc.get("confirm_match", True) is not False)

    @property
    def entry(self) -> Collect:
        return Collect(max_digits=self.max_dtmf, timeout_ms=5000, interdigit_ms=2000)


def handle(data: dict[str, Any], call: Call) -> Next:
    directory_id = str(data.get("id", ""))
    doc = call.services.document(call.account_id, "directories", directory_id) if directory_id else None
    if doc is None:
        log.warning("call %s: no directory %r in the account, continuing", call.uuid, directory_id)
        return DEFAULT_CHILD
    settings = Settings.of(doc)
    _, users, _, _ = call.services.group_context(call.account_id)
    entries = listing(users, directory_id, settings.sort_by)
    call.channel.execute("answer")
    if not entries:
        log.info("call %s: directory %s lists nobody", call.uuid, directory_id)
        say(call, NO_RESULTS)
        return DEFAULT_CHILD
    return search(call, settings, entries)


def search(call: Call, settings: Settings, entries: list[Entry]) -> Next:
    """Ask for letters until a user is picked, the caller leaves with 0, or the tries run out."""
    short_entries = 0
    for _ in range(MAX_SEARCHES):
        digits = collect(call, Prompt(text=ASK[settings.search_fields]), settings.entry, "directory_digits")
        if digits == "0":
            log.info("call %s: directory left with 0", call.uuid)
            return DEFAULT_CHILD
        if len(digits) < settings.min_dtmf:
            short_entries += 1
            if short_entries >= ENTRY_TRIES:
                break
            say(call, f"You need to specify a minimum of {settings.min_dtmf} letters of the name.")
            continue
        found = matches(entries, digits, settings.search_fields)
        log.info("call %s: directory entry %r matches %d", call.uuid, digits, len(found))
        picked = choose(call, settings, found)
        if isinstance(picked, Entry):
            return route(call, picked)
        if picked == STOP:
            return None
    say(call, NO_RESULTS)
    return None


def choose(call: Call, settings: Settings, found: list[Entry]) -> Entry | str:
    """The user the caller picks among the matches, START_OVER or STOP."""
    if not found:
        say(call, NO_RESULTS)
        return START_OVER
    if len(found) == 1:
        if not settings.confirm_match:
            return found[0]
        asked = f"One match found. To connect to {found[0].full_name}, press 1. To start over, press 3."
        return found[0] if collect(call, Prompt(text=asked), PICK, "directory_choice") == "1" else START_OVER
    return offer(call, found)


def offer(call: Call, found: list[Entry]) -> Entry | str:
    """Each match in turn: 1 picks it, 2 the next one, 3 starts over."""
    for entry in found:
        asked = (f"To call {entry.full_name}, press 1. For the next result, press 2. "
                 "To start over, press 3.")
        for _ in range(OFFER_TRIES):
            key = collect(call, Prompt(text=asked), PICK, "directory_choice")
            if key in ("1", "3"):
                return entry if key == "1" else START_OVER
            if key == "2":
                break
            if key:
                say(call, INVALID_KEY)
        else:
            say(call, NO_MORE_RESULTS)
            return STOP
    say(call, NO_MORE_RESULTS)
    return START_OVER


def route(call: Call, entry: Entry) -> Branch:
    """The picked user's callflow from their `directories` map, else their devices."""
    doc = call.services.callflows.find(call.account_id, entry.callflow_id)
    log.info("call %s: directory picked user %s", call.uuid, entry.user_id)
    if doc is not None and isinstance(doc.get("flow"), dict):
        return Branch(flow=doc["flow"], name=entry.callflow_id)
    log.info("call %s: no callflow %r for user %s, ringing the user", call.uuid, entry.callflow_id, entry.user_id)
    return Branch(flow={"module": "user", "data": {"id": entry.user_id}, "children": {}}, name="user " + entry.user_id)


def say(call: Call, text: str) -> None:
    play(call, Prompt(text=text))


def _count(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
