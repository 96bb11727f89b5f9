"""Telephone number normalisation to E.164 (what carriers are offered), for `offnet`.

`+` numbers stay as they are; `00` (and the North American `011`) international prefixes become
`+`; with the country code `1` (North America), 10 digits are `+1` + the number and 11 digits
starting with 1 get a `+`; elsewhere a national number with its trunk `0` becomes `+<cc>` + the
number without it. Anything else (an extension, a short code) is not an E.164 number: None.
"""

from __future__ import annotations


def to_e164(number: str, country_code: str = "1") -> str | None:
    digits = number.strip()
    if digits.startswith("+"):
        return digits if digits[1:].isdigit() and 8 <= len(digits) <= 16 else None
    if not digits.isdigit():
        return None
    for prefix in ("011", "00") if country_code == "1" else ("00",):
        if digits.startswith(prefix) and len(digits) > len(prefix) + 6:
            return "+" + digits[len(prefix):]
    if country_code == "1":
        if len(digits) == 10 and digits[0] not in "01":
            return "+1" + digits
        if len(digits) == 11 and digits[0] == "1":
            return "+" + digits
        return None
    if digits.startswith("0") and len(digits) > 6:
        return f"+{country_code}{digits[1:]}"
    return None
