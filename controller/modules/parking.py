"""What `park` and the parked_calls API share about FreeSWITCH's mod_valet_parking: the account's
lot, and what `valet_info` says is parked in it.

Each account parks in a lot of its own, named after the account id (`valet_park <lot> <slot>`),
so slot 101 of one office is not slot 101 of another. `valet_info <lot>` answers

    <lots>
      <lot name="LOT">
        <extension uuid="CHANNEL UUID">SLOT</extension>
      </lot>
    </lots>

(mod_valet_parking.c, valet_info_function): the calls holding a slot now.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from controller.esl.inbound_api import token

FIRST_SLOT = 101  # Kazoo's cf_park numbers automatic slots from 100 + 1
_EXTENSION = re.compile(r'<extension uuid="([^"]*)">([^<]*)</extension>')


def lot(account_id: str) -> str:
    """The account's parking lot (a word FreeSWITCH's argument splitter keeps whole)."""
    return "park_" + token(account_id)


def parked(valet_info: str) -> dict[str, str]:
    """Slot -> channel UUID, from a `valet_info <lot>` answer."""
    return {slot: uuid for uuid, slot in _EXTENSION.findall(valet_info)}


def free_slot(taken: Iterable[str], first: int = FIRST_SLOT) -> int:
    """The lowest slot from `first` on that nobody holds (Kazoo's find_slot_number)."""
    numbers = {int(s) for s in taken if s.isdigit()}
    slot = first
    while slot in numbers:
        slot += 1
    return slot


def is_slot(text: object) -> bool:
    """A slot is a number, as Kazoo's capture groups and `slot` values give it."""
    return isinstance(text, str) and text.isdigit() and len(text) <= 9
