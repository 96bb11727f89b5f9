"""do_not_disturb — switch do not disturb from a phone (Kazoo's cf_do_not_disturb), behind the
feature codes `*78` (activate) and `*79` (deactivate), or one that toggles.

Data: `action` (`activate`, `deactivate`, `toggle`), `id` (the user or device whose setting
changes; without it, the calling device's user, else the device itself).

The setting is Kazoo's `do_not_disturb.enabled` of the user or device document. While it is on,
`user`, `device` and `ring_group` do not ring that device (a user's: any of their devices), nor
its call forwarding (`forwarding`, as Kazoo's kz_endpoint builds no endpoint for it): a user
whose every device is left out has nothing to ring, and the flow goes on at once to the node's
`_` child (voicemail), so the call stays missed for `missed_call_alert`. The next call reads the
changed document.

The caller hears "do not disturb activated" or "deactivated" (also when it already was), and the
flow continues at `_`. An `id` naming no user or device falls back to the caller, as in Kazoo.
No document to change (a caller from outside the account) or an unknown action: "do not disturb
is not available"; the first stops the call, the second continues at `_`, as Kazoo does.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.call import Call
from controller.flow import DEFAULT_CHILD, Next
from controller.modules import bridging, calling
from controller.modules.prompts import Prompt, play
from controller.store.documents import Documents

log = logging.getLogger(__name__)

ACTIVATED = "Do not disturb activated."
DEACTIVATED = "Do not disturb deactivated."
NOT_AVAILABLE = "Do not disturb is not available."


def handle(data: dict[str, Any], call: Call) -> Next:
    holder = named(call, str(data.get("id") or "")) or calling.settings_holder(call)
    if holder is None:
        log.info("call %s: no user or device to apply do not disturb to", call.uuid)
        play(call, Prompt(text=NOT_AVAILABLE))
        return None
    store, doc = holder
    call.channel.execute("answer")
    current = bridging.is_do_not_disturb(doc)
    wanted = {"activate": True, "deactivate": False, "toggle": not current}.get(str(data.get("action") or ""))
    if wanted is None:
        play(call, Prompt(text=NOT_AVAILABLE))
        return DEFAULT_CHILD
    if wanted != current:
        store.update(call.account_id, str(doc["id"]), lambda stored: switched(stored, wanted))
        log.info("call %s: do not disturb of %s %r now %s", call.uuid, store.kind, doc["id"], wanted)
    play(call, Prompt(text=ACTIVATED if wanted else DEACTIVATED))
    return DEFAULT_CHILD


def named(call: Call, doc_id: str) -> tuple[Documents, dict[str, Any]] | None:
    """The user, else the device, the node's `id` names."""
    if not doc_id:
        return None
    for store in (call.services.users, call.services.devices):
        found = store.find(call.account_id, doc_id)
        if found is not None:
            return store, found
    return None


def switched(doc: dict[str, Any], enabled: bool) -> dict[str, Any]:
    setting = doc.get("do_not_disturb")
    return {**doc, "do_not_disturb": {**(setting if isinstance(setting, dict) else {}), "enabled": enabled}}
