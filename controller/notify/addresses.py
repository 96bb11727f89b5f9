"""Who gets a notification (Kazoo teletype's to/cc/bcc rules), resolved at send time, and who it
comes from.

`original`: the job's recipients (a user id becomes that user's current email); `specified`: the
template's own `email_addresses`; `admins`: the account's admin users. When `to` resolves to no
one, the template's own addresses are used. Invalid addresses are dropped (and reported); no CR or
LF from any input can reach a header.

From and Reply-To are rendered from the template with the account's values only (never call
data), each value made `address_inert` first: an account name cannot add an address, quote or
comment one. What they render to must be one mailbox (`mailbox`), which is written back in its
canonical form; the Message-ID takes the domain of that address.
"""

from __future__ import annotations

import email.utils
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[^@\s<>,;\"'()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}")
# a sender may be a bare host (`no-reply@pbx1`, the packaged default on a host with no domain)
_SENDER = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@"
                     r"[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*")
_ADDRESS_SPECIALS = str.maketrans({c: " " for c in '()<>[]:;@\\,"\r\n\t'} | {"\x00": ""})


def is_valid(address: str) -> bool:
    """A plain ASCII address: an internationalised one needs SMTPUTF8 end to end, which the
    sender does not negotiate, so it is dropped (and logged) like any other unusable address."""
    return address.isascii() and bool(_ADDRESS.fullmatch(address))


def address_inert(text: object) -> str:
    """Tenant text placed in an address field (an account name as a display name): every
    character that separates, quotes, comments or routes an address becomes a space."""
    return " ".join(str(text).translate(_ADDRESS_SPECIALS).split())


def mailbox(text: str) -> tuple[str, str] | None:
    """The one mailbox (display name, address) that `text` holds, None when it holds no valid
    one or several (`Boss <ceo@bank.example>, x@evil.example`)."""
    text = text.strip()
    if _SENDER.fullmatch(text) and text.isascii():
        return "", text
    found = email.utils.getaddresses([text])
    if len(found) != 1:
        return None
    name, address = found[0]
    if not (address.isascii() and _SENDER.fullmatch(address)) or any(c in name for c in "\r\n\x00"):
        return None
    return name.strip(), address


def header(name: str, address: str) -> str:
    """A mailbox as a header value: the display name quoted (or RFC 2047-encoded) as needed."""
    return email.utils.formataddr((name, address)) if name else address


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
