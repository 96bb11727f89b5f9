"""Who an email comes from when its template does not say (an empty `from`, as in the packaged
templates), as Kazoo's teletype falls back on the account's or reseller's default sender, then the
system's:

1. the account's own `notifications.from`, else that of the nearest parent account that has one
   (a reseller sets it once for all its customers);
2. the `mail_from` setting (CONTROLLER_MAIL_FROM);
3. `no-reply@<the account's realm>` when the realm is a domain name, else `no-reply@<this host's
   name>` when it has a domain, else `no-reply@localhost.localdomain`.

Each is one mailbox whose address has a domain: a bare host (`no-reply@pbx1`) is what receiving
servers refuse or file as spam. A `from` the template gives still comes first. Templates copied
before this rule carry the `from` the packaged ones had then, `no-reply@{{ system.hostname }}`:
it reads as empty, so that the rule above applies to them too.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from typing import Any

from controller.notify import addresses

log = logging.getLogger(__name__)

LEGACY_FROM = "no-reply@{{ system.hostname }}"
LAST_RESORT = "no-reply@localhost.localdomain"


def template_from(fields: dict[str, Any]) -> str:
    """The template's own `from`, "" when it leaves the choice to the rule above."""
    given = str(fields.get("from") or "").strip()
    return "" if given == LEGACY_FROM else given


def account_sender(lineage: Iterable[dict[str, Any] | None]) -> str:
    """The first usable `notifications.from` among account documents (the account, then its
    parents, nearest first), as a header value; "" when none has one."""
    for account in lineage:
        wanted = str(((account or {}).get("notifications") or {}).get("from") or "").strip()
        if not wanted:
            continue
        found = addresses.mailbox(wanted)
        if found is not None and addresses.is_valid(found[1]):
            return addresses.header(*found)
        log.warning("account %s: notifications.from %r is not one email address with a domain: ignored",
                    (account or {}).get("id"), wanted[:120])
    return ""


def default_sender(account: dict[str, Any], mail_from: str = "") -> str:
    """Steps 2 and 3 of the rule above."""
    if mail_from:
        return mail_from
    for domain in (str(account.get("realm") or ""), socket.gethostname()):
        candidate = f"no-reply@{domain.strip().lower()}"
        if addresses.is_valid(candidate):
            return candidate
    return LAST_RESORT
