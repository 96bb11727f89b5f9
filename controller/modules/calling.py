"""Whose settings a feature code changes: the account's device placing the call (Kazoo's
authorizing id) and the user it rings for (its owner, or the user logged in on it: see
`hotdesk`), as `call_forward`, `do_not_disturb` and `hotdesk` find them.

Both are read from Redis as they are now (not from the call's cached view of the account): the
module that reads them writes them back.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.modules import bridging
from controller.store.documents import Documents, device_by_sip_user

Doc = dict[str, Any]


def device(call: Call) -> Doc | None:
    """The calling device; None for a caller from outside the account."""
    username = bridging.calling_username(call)
    return device_by_sip_user(call.services.rds, call.account_id, username) if username else None


def owner(call: Call, found: Doc) -> Doc | None:
    """The user the device rings for (the first one logged in on it, else its owner)."""
    owner_id = next(iter(bridging.owner_ids(found)), "")
    return call.services.users.find(call.account_id, owner_id) if owner_id else None


def settings_holder(call: Call) -> tuple[Documents, Doc] | None:
    """Whose user-or-device settings the caller changes (Kazoo's cf_call_forward): the calling
    device's user, else the device itself; None for a caller from outside."""
    found = device(call)
    if found is None:
        return None
    user = owner(call, found)
    return (call.services.users, user) if user is not None else (call.services.devices, found)
