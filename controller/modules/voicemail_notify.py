"""Keeping a message in a box and telling its owner: what a caller's message (`compose`) and a
forwarded one (`voicemail_forward.py`) share (Kazoo's kvm_message:new and forward_message, which
both end in the new-voicemail notification).

The `voicemail_to_email` job goes to the box's owner and its `notify_email_addresses`, and says
what the mail sender does with the message once the email reached them all (Kazoo's
after-notify action, `data.voicemail.after_notify`): `save` with the box's `save_after_notify`
(it wins, as in Kazoo), `delete` with `delete_after_notify` (controller/notify/after_notify.py);
none otherwise. A forward is keyed by its new message (two forwards in one call are two emails).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.notify.calldata import call_data, instance_of
from controller.notify.job import make_job


def is_full(call: Call, box: Mapping[str, Any]) -> bool:
    """Whether the box holds `max_message_count` new and saved messages (0: no limit)."""
    counts = call.services.messages.counts(call.account_id, box["id"])
    limit = int(box.get("max_message_count", 100))
    return bool(limit) and counts["new"] + counts["saved"] >= limit


def after_notify(box: Mapping[str, Any]) -> str:
    """Kazoo's after_notify_action: "save", "delete" or "" (nothing)."""
    if box.get("save_after_notify") is True:
        return "save"
    return "delete" if box.get("delete_after_notify") is True else ""


def keep(call: Call, box: dict[str, Any], recording: dict[str, Any], forwarded: bool = False) -> None:
    """Store a new message (the call's caller and time unless `recording` has its own) and
    queue its `voicemail_to_email` job."""
    message = call.services.messages.add(call.account_id, box["id"], {
        "timestamp": time.time(),
        "caller_id_name": call.caller_id_name,
        "caller_id_number": call.caller_id_number,
        "call_id": call.uuid,
        **recording,
    })
    counts = call.services.messages.counts(call.account_id, box["id"])
    about = {
        **counts_data(counts),
        "message_id": message["media_id"],
        "length": message["length"],
        "timestamp": message["timestamp"],
        "media_path": message["media_path"],
    }
    if after_notify(box):
        about["after_notify"] = after_notify(box)
    notify(call, box, "voicemail_to_email", about, key=message["media_id"] if forwarded else "")


def counts_data(counts: Mapping[str, int]) -> dict[str, int]:
    return {"new_count": counts["new"], "saved_count": counts["saved"]}


def notify(call: Call, box: Mapping[str, Any], kind: str, voicemail: dict[str, Any], key: str = "") -> None:
    """Queue a voicemail job for the box's owner; `key` tells apart jobs of one kind and call."""
    recipients: list[dict[str, Any]] = []
    if box.get("owner_id"):
        recipients.append({"type": "user", "id": str(box["owner_id"])})
    extra = [str(a) for a in box.get("notify_email_addresses") or []]
    if extra:
        recipients.append({"type": "email", "id": extra})
    about = {"box_id": str(box["id"]), "mailbox": str(box.get("mailbox", "")), **voicemail}
    if box.get("name"):
        about["box_name"] = str(box["name"])
    instance = instance_of(call) + (f"/{key}" if key else "")
    job = make_job(kind, call.account_id, call_data(call), instance=instance,
                   recipients=recipients, data={"voicemail": about})
    call.services.queue.enqueue(job)
