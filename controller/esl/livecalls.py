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

from controller.config import EslEndpoint
from controller.esl import commands
from controller.store.cdrs import CdrWriter, gregorian, record

ACCOUNT_ID = re.compile(r"[0-9a-zA-Z_-]{1,128}")


class LiveCalls:
    def __init__(self, cdrs: CdrWriter | None = None, freeswitch: tuple[EslEndpoint, ...] = ()) -> None:
        self.cdrs = cdrs
        self.freeswitch = freeswitch  # where a transfer is sent (CONTROLLER_FREESWITCH)
        self._calls: dict[str, Any] = {}  # uuid -> Call

    def started(self, call: Any) -> None:
        self._calls[call.uuid] = call

    def ended(self, call: Any) -> None:
        """The call's socket is closing: it leaves the list and its record is written soon."""
        uuid = call.uuid
        if self._calls.get(uuid) is call:  # a transferred call may be back under a new session
            del self._calls[uuid]
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

    def transfer(self, question: str) -> bytes:
        """The `transfer <account id> <uuid> <target>` question: a blind transfer of one of the
        account's calls here. FreeSWITCH moves the channel out of its `socket` application
        (`uuid_transfer` into the controller's context: the target's callflow comes back as a new
        connection), then this call's connection is closed at once: its flow must neither go on
        nor hang up the channel that now runs elsewhere (left to itself it would, once its bridge
        returned). What the flow registered (a missed-call alert) is handed over to the flow
        that takes the call (Call.hand_over): it runs once, at the call's real end, judging the
        whole call. Answers `+OK`, or `-ERR` and why."""
        words = question.split(" ")
        if len(words) != 3 or not ACCOUNT_ID.fullmatch(words[0]):
            return b"-ERR expected: transfer ACCOUNT UUID TARGET"
        aid, uuid, target = words
        call = self._calls.get(uuid)
        if call is None or call.account_id != aid:
            return b"-ERR no such channel"
        try:
            command = commands.transfer_command(uuid, target)
        except ValueError as exc:
            return f"-ERR {exc}".encode()
        call.kvs["transferred_to"] = target
        call.hand_over()  # before the transfer: the flow that takes the call over adopts it
        try:
            commands.run(self.freeswitch, command)
        except (commands.CommandRefusedError, OSError) as exc:
            call.kvs.pop("transferred_to", None)
            call.take_back()
            return f"-ERR {exc}".encode()
        close = getattr(call.channel, "close", None)
        if close is not None:
            close()
        return b"+OK"


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
