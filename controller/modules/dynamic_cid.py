"""dynamic_cid — choose the caller ID of an outgoing call (Kazoo's cf_dynamic_cid), usually behind
a feature code pattern such as `^\\*2([0-9]{2,})$`.

Data: `action`:
- `manual` (the default, and what any action becomes when the pattern captured nothing): the
  caller is asked for the number (`media_id`, else a spoken prompt), `min_digits` and
  `max_digits` (10 and 10) within `interdigit_timeout` (ms, 2000), checked against
  `whitelist_regex` (RE2, `\\d+`): a good entry plays an accepting tone and becomes the caller ID
  number, anything else a rejection and the caller's own number stays; the flow continues at `_`;
- `static`: `caller_id` {`name`, `number`} (what is missing stays the caller's own);
- `list` / `lists`: the entries of the account's list `id` (`/v2/accounts/{id}/lists`, its
  `entries` Kazoo's list entries: `capture_group_key`, `capture_group_length` (2), `number`,
  `name`); the captured digits start with an entry's key, the rest is the number to call; with
  `idx_name` the key is that named capture group and the number the whole capture. The entry's
  caller ID is set, and the call goes where the rest goes (controller/modules/dialled.py); a
  list or entry not found stops the call, as Kazoo's bad destination does.

With `manual` and `static`, a capture is the number to call: the caller ID is set and the flow
continues at `_` with that number as the call's destination (Kazoo's "strip the feature code").
Caller IDs reach FreeSWITCH made inert. Kazoo's `enforce_call_restriction` and
`permit_custom_callflow` are taken but not enforced: every callflow the number reaches runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.callflows.patterns import PatternError, compile_pattern
from controller.esl.safety import inert
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import set_cid
from controller.modules.dialled import normalize, route_to
from controller.modules.media_refs import resolve
from controller.modules.prompts import Collect, Prompt, collect, file_prompt, play

log = logging.getLogger(__name__)

ENTER_CID = "Please enter the caller I D number for this call."
REJECTED = "Invalid caller I D. Using the default."
ACCEPT_TONE = "tone_stream://%(250,50,440)"


def handle(data: dict[str, Any], call: Call) -> Next:
    action = str(data.get("action") or "manual")
    captured = call.capture_group or ""
    if action in ("list", "lists") and captured:
        return from_list(data, call, captured)
    if action == "static":
        caller_id = data.get("caller_id") or {}
        set_caller_id(call, caller_id.get("number"), caller_id.get("name"))
    else:
        set_caller_id(call, manual_number(data, call), None)
    if captured:
        call.data = {**call.data, "Caller-Destination-Number": normalize(call, captured)}
    return DEFAULT_CHILD


def set_caller_id(call: Call, number: object, name: object) -> None:
    values = {}
    if number:
        values["effective_caller_id_number"] = inert(number)
        call.kvs["dynamic_cid"] = str(number)
    if name:
        values["effective_caller_id_name"] = inert(name)
    set_cid.present(call, values)


def manual_number(data: dict[str, Any], call: Call) -> str | None:
    """The number the caller keyed in, or None (a rejection was played)."""
    media = data.get("media_id")
    prompt = file_prompt(resolve(call, media)) if media else Prompt(text=ENTER_CID)
    how = Collect(max_digits=int(data.get("max_digits") or 10), min_digits=1,
                  interdigit_ms=int(data.get("interdigit_timeout") or 2000))
    digits = collect(call, prompt, how, "dynamic_cid_digits")
    if digits and len(digits) >= int(data.get("min_digits") or 10) and allowed(data, digits):
        play(call, Prompt(file=ACCEPT_TONE))
        return digits
    play(call, Prompt(text=REJECTED))
    return None


def allowed(data: dict[str, Any], digits: str) -> bool:
    try:
        return compile_pattern(str(data.get("whitelist_regex") or "\\d+")).search(digits) is not None
    except PatternError as exc:
        log.warning("dynamic_cid whitelist_regex refused: %s", exc)
        return False


def from_list(data: dict[str, Any], call: Call, captured: str) -> Next:
    index = str(data["idx_name"]) if data.get("idx_name") else None
    entry, rest = find_entry(list_entries(call, str(data.get("id") or "")), captured, call.capture_groups, index)
    if entry is None:
        log.info("call %s: no caller ID list entry for %r", call.uuid, captured)
        return None
    set_caller_id(call, entry.get("number"), entry.get("name"))
    return route_to(call, normalize(call, rest)) if rest else DEFAULT_CHILD


def list_entries(call: Call, list_id: str) -> list[dict[str, Any]]:
    """The entries of the account's stored list (none when the store has no such list)."""
    try:
        stored = call.services.document(call.account_id, "lists", list_id) if list_id else None
    except ValueError:  # not a document id
        stored = None
    return [e for e in (stored or {}).get("entries") or [] if isinstance(e, dict)]


def find_entry(
    entries: list[dict[str, Any]], captured: str, groups: Mapping[str, str], index: str | None
) -> tuple[dict[str, Any] | None, str]:
    """The entry whose key starts the captured digits (its `capture_group_length` long; or the
    named group `index`), and the number left to call."""
    for entry in entries:
        if index:
            key, rest = str(groups.get(index, "")), captured
        else:
            length = int(entry.get("capture_group_length") or 2)
            key, rest = captured[:length], captured[length:]
        if key and str(entry.get("capture_group_key", "")) == key:
            return entry, rest
    return None, ""
