"""The calls in progress on this process, in memory (Kazoo's channels): what
`/v2/accounts/{id}/channels` lists, asked of the `serve` role over its socket (controller/roles.py).

A call is here from the moment it is placed in its account until its socket closes; then its
record goes to the CDR writer (controller/store/cdrs.py), which writes it with the other calls
that ended meanwhile. Nothing here touches Redis or blocks.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from controller.store.cdrs import CdrWriter, gregorian, record

ACCOUNT_ID = re.compile(r"[0-9a-zA-Z_-]{1,128}")


class LiveCalls:
    def __init__(self, cdrs: CdrWriter | None = None) -> None:
        self.cdrs = cdrs
        self._calls: dict[str, Any] = {}  # uuid -> Call

    def started(self, call: Any) -> None:
        self._calls[call.uuid] = call

    def ended(self, call: Any) -> None:
        """The call's socket is closing: it leaves the list and its record is written soon."""
        self._calls.pop(call.uuid, None)
        if self.cdrs is not None:
            self.cdrs.add(record(call))

    def __len__(self) -> int:
        return len(self._calls)

    def channels(self, aid: str) -> list[dict[str, Any]]:
        """The account's calls in progress, oldest first."""
        return [channel(call) for call in list(self._calls.values()) if call.account_id == aid]

    def answer(self, aid: str) -> bytes:
        """The `channels <account id>` question of the role socket."""
        if not ACCOUNT_ID.fullmatch(aid):
            return b"[]"
        return json.dumps(self.channels(aid), separators=(",", ":")).encode()


def channel(call: Any) -> dict[str, Any]:
    """One call in Kazoo's channel shape (cb_channels: uuid, caller and callee, direction,
    answered, other leg), with what the controller knows of it beside."""
    state = call.state
    return {
        "uuid": call.uuid,
        "account_id": call.account_id,
        "caller_id_name": call.caller_id_name,
        "caller_id_number": call.caller_id_number,
        "callee_id_name": call.header("Caller-Callee-ID-Name"),
        "callee_id_number": call.header("Caller-Callee-ID-Number"),
        "destination": call.destination,
        "direction": "inbound",
        "is_internal": call.is_internal,
        "answered": state.answered,
        "bridged": state.bridged,
        "other_leg": state.other_leg or "",
        "callflow_id": call.callflow_id,
        "timestamp": gregorian(call.started_at),
        "started": call.started_at,
        "elapsed_s": max(0, int(time.time() - call.started_at)),
        "media_server": call.header("FreeSWITCH-Switchname"),
        "core_uuid": call.header("Core-UUID"),
    }
