"""Who gets a notification (Kazoo teletype's to/cc/bcc rules), resolved at send time.

`original`: the job's recipients (a user id becomes that user's current email); `specified`: the
template's own `email_addresses`; `admins`: the account's admin users. When `to` resolves to no
one, the template's own addresses are used. Invalid addresses are dropped (and reported); no CR or
LF from any input can reach a header.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[^@\s<>,;\"'()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}")


def is_valid(address: str) -> bool:
    """A plain ASCII address: an internationalised one needs SMTPUTF8 end to end, which the
    sender does not negotiate, so it is dropped (and logged) like any other unusable address."""
    return address.isascii() and bool(_ADDRESS.fullmatch(address))


def ids(recipient: dict[str, Any]) -> list[str]:
    ident = recipient.get("id")
    return [str(i) for i in ident] if isinstance(ident, list) else [str(ident or "")]


def recipient_users(
    recipients: Iterable[dict[str, Any]], users: dict[str, dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Each `user` recipient's id with its current document (None when unknown), in order."""
    for recipient in recipients:
        if recipient.get("type") == "user":
            for ident in ids(recipient):
                yield ident, users.get(ident)


def from_recipients(recipients: list[dict[str, Any]], users: dict[str, dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for recipient in recipients:
        if recipient.get("type") != "user":
            found.extend(ids(recipient))
            continue
        for ident, user in recipient_users([recipient], users):
            if user and user.get("email"):
                found.append(str(user["email"]))
            else:
                log.warning("recipient user %r unknown or without email: skipped", ident)
    return found


def resolve(
    rule: dict[str, Any] | None, recipients: list[dict[str, Any]], users: dict[str, dict[str, Any]]
) -> list[str]:
    """Addresses for one of to/cc/bcc."""
    rule = rule or {}
    kind = rule.get("type", "specified")
    specified = [str(a) for a in rule.get("email_addresses") or []]
    if kind == "original":
        found = from_recipients(recipients, users)
    elif kind == "admins":
        found = [str(u["email"]) for u in users.values() if u.get("priv_level") == "admin" and u.get("email")]
    else:
        found = specified
    return clean(found)


def clean(addresses: Iterable[str]) -> list[str]:
    kept: list[str] = []
    for raw in addresses:
        address = raw.strip()
        if not is_valid(address):
            log.warning("invalid email address %r dropped", address[:80])
        elif address.lower() not in (k.lower() for k in kept):
            kept.append(address)
    return kept
