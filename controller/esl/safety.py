"""What may go on the wire from text we do not control.

Two dangers: a line break ends an ESL header and starts a forged one, so no CR or LF ever reaches
a command; and FreeSWITCH expands `${...}` (variables and API calls such as `${system(...)}`) in
application arguments, so caller-controlled text (caller ID name, DTMF, SIP headers) must not
carry `${`. Operator text (callflow data) may use FreeSWITCH variables on purpose, so it only
loses its line breaks.
"""

from __future__ import annotations

from collections.abc import Mapping

_BREAKS = str.maketrans({"\r": " ", "\n": " ", "\x00": "", "\x1f": ""})


def one_line(text: object) -> str:
    """Operator-controlled text: line breaks become spaces, NUL is dropped. (Four scans of
    a clean string cost less than one translate, which looks up every character.)"""
    value = str(text)
    if "\n" in value or "\r" in value or "\x00" in value or "\x1f" in value:
        return value.translate(_BREAKS)
    return value


def inert(text: object) -> str:
    """Caller-controlled text: one line, and no `${` left for FreeSWITCH to expand.

    Each `${` loses its `$`, repeated until none is left (`$${` -> `${` -> `{`)."""
    value = one_line(text)
    while "${" in value:
        value = value.replace("${", "{")
    return value


def multiset(variables: Mapping[str, str]) -> tuple[str, str]:
    """The `multiset` application setting several variables, values made inert (the unit
    separator delimits them: it cannot occur in a value)."""
    parts = [f"{inert(name)}={inert(value)}" for name, value in variables.items()]
    return "multiset", "^^\x1f" + "\x1f".join(parts)
