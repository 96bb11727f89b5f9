"""PINs keyed in by callers, checked against the stored one (hotdesk, voicemail, conferences).

A caller may try many PINs and time each answer, so the check takes the same time whatever the
entry: both sides are hashed to digests of one size and those are compared with
`hmac.compare_digest`, which says nothing of where they differ, nor of the PIN's length.
"""

from __future__ import annotations

import hashlib
import hmac


def is_same(entered: str, pin: str) -> bool:
    """Whether the caller's entry is the PIN (an empty PIN is never matched)."""
    if not pin:
        return False
    return hmac.compare_digest(hashlib.sha256(entered.encode()).digest(), hashlib.sha256(pin.encode()).digest())
