"""What may go on the wire from text we do not control: the one rule, in one place.

Two interpreters read what the controller sends FreeSWITCH. mod_event_socket reads lines, so a
line break in a value would end its header and start a forged one: no CR, LF or NUL ever reaches
a command (`one_line`). FreeSWITCH's variable expander (switch_channel_expand_variables_check)
reads every application argument, once before any application runs and again inside `set`,
`multiset` and `export`; it also re-expands the value of every variable it substitutes, so text
stored on the channel today is expanded again whenever anything later writes `${that_variable}`.
It acts on two characters only: `$` (`${var}`, `$${var}`, `${api(args)}` such as
`${system(...)}`) and the backslash (`\\$`, `\\\\` and `\\'`, which it drops, so `$\\'{` turns
into `${` one pass later). Removing `${` (the old rule) left those escapes.

The rule: text that a caller or a tenant controls (caller ID, DTMF, SIP headers, callflow values)
reaches FreeSWITCH only as a channel variable value, through `multiset` below, and every such
value is made `inert` as a whole, after it was composed: its `$` and `\\` become their full-width
forms (U+FF04, U+FF3C), so it holds neither character. With neither, the expander's gates
(`switch_string_var_check_const`, `switch_string_has_escaped_data`) do not open: the value comes
out of every pass, and of every later `${...}` that names it, exactly as it went in. UTF-8 keeps
ASCII bytes out of multi-byte characters, so no byte of a full-width form is a `$` or `\\`.
The text the caller sent is kept as it was by the controller itself (notifications use it).

Operator text that is meant for FreeSWITCH (a dial string's `${domain_name}`, a media path) goes
into application arguments with `one_line` only, and never carries caller text.
"""

from __future__ import annotations

from collections.abc import Mapping

_BREAKS = str.maketrans({"\r": " ", "\n": " ", "\x00": "", "\x1f": ""})
_EXPANDER = str.maketrans({"$": "\uff04", "\\": "\uff3c", "'": "\u2019"})


def one_line(text: object) -> str:
    """Operator-controlled text: line breaks become spaces, NUL is dropped. (Four scans of
    a clean string cost less than one translate, which looks up every character.)"""
    value = str(text)
    if "\n" in value or "\r" in value or "\x00" in value or "\x1f" in value:
        return value.translate(_BREAKS)
    return value


def inert(text: object) -> str:
    """Caller- or tenant-controlled text: one line, with no `$` and no backslash left for
    FreeSWITCH's expander to act on (each becomes its full-width look-alike), and no `'`, which
    FreeSWITCH's argument splitter (switch_separate_string, used by multiset and many apps)
    pairs as quotes across values: it becomes the typographic apostrophe (U+2019)."""
    value = one_line(text)
    if "$" in value or "\\" in value or "'" in value:
        return value.translate(_EXPANDER)
    return value


def multiset(variables: Mapping[str, str]) -> tuple[str, str]:
    """The `multiset` application setting several variables, names and values made inert (the
    unit separator delimits them: `one_line` keeps it out of every value)."""
    parts = [f"{inert(name)}={inert(value)}" for name, value in variables.items()]
    return "multiset", "^^\x1f" + "\x1f".join(parts)
