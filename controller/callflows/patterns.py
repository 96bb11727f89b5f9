"""User-supplied callflow patterns, compiled with RE2.

Patterns come from account owners, so no pattern may stall the process. RE2 matches in time linear
in the input whatever the pattern, which rules out catastrophic backtracking by construction; the
price is that backreferences and lookaround (which need backtracking) are refused when a callflow is
saved, with RE2's own reason. PCRE-style named groups `(?<name>...)` and Python's `(?P<name>...)`
are both accepted. Kazoo runs `re:run(Number, Regex)`: an unanchored search, as here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import re2

MAX_PATTERN_LENGTH = 1024
_MAX_MEM = 8 << 20


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _MAX_MEM
    return options


class PatternError(ValueError):
    """A pattern RE2 cannot compile (syntax, backreference, lookaround, too large)."""


@dataclasses.dataclass(frozen=True)
class Pattern:
    """A compiled pattern of one callflow."""

    source: str
    callflow_id: str
    regex: re2._Regexp


def compile_pattern(source: str) -> re2._Regexp:
    """Compile one pattern or raise PatternError saying why it is refused."""
    if len(source) > MAX_PATTERN_LENGTH:
        raise PatternError(f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(source, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(f"not a valid RE2 expression: {reason}") from exc


def best_capture(regex: re2._Regexp, number: str) -> str | None:
    """Kazoo's `test_callflow_patterns` measure for one pattern: None when it does not match;
    otherwise its longest capture group (the earliest of equal length), or the whole match when
    the pattern has no group. A group that did not take part counts as empty."""
    match = regex.search(number)
    if match is None:
        return None
    if not regex.groups:
        return str(match.group(0))
    best = ""
    for group in match.groups():
        if group is not None and len(group) > len(best):
            best = group
    return best


# CouchDB's order of the printable ASCII characters in view keys (ICU's Unicode collation, as
# its "Views Collation" page lists it): symbols first, then digits, then letters with case
# second (a < A < b).
_COLLATION = " `^_-,;:!?.'\"()[]{}@*/\\&#%+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_RANK = {char: rank for rank, char in enumerate(_COLLATION)}


def collation_key(text: str) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """How CouchDB sorts a view key of ASCII text: by character, letters regardless of case,
    then by case, lowercase first (other characters after, by code point)."""
    primary = tuple(_RANK.get(char.lower(), len(_COLLATION) + ord(char)) for char in text)
    return primary, tuple(char.isupper() for char in text)


class PatternSet:
    """All the patterns of one account, in the order of Kazoo's pattern view (CouchDB's
    collation of the pattern text, then of the callflow id).

    An RE2 set finds in one pass which patterns match a number, so a lookup costs one scan of the
    number plus a capture run of only the patterns that matched, however many patterns exist.
    """

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = sorted(patterns, key=lambda p: (collation_key(p.source), collation_key(p.callflow_id)))
        self._set = re2.Set.SearchSet(_options())
        for pattern in self.patterns:
            self._set.Add(pattern.source)
        self._set.Compile()

    def __len__(self) -> int:
        return len(self.patterns)

    def best(self, number: str) -> tuple[Pattern, str] | None:
        """The winning pattern and its capture: the longest capture wins, ties go to the later
        pattern in sorted order. Kazoo's cf_flow compiles the view's rows into a list by
        prepending each one, so it tests them last first and keeps the first of equal captures
        (only a strictly longer one replaces it)."""
        if not self.patterns:
            return None
        winner: tuple[Pattern, str] | None = None
        for index in sorted(self._set.Match(number) or ()):
            pattern = self.patterns[index]
            capture = best_capture(pattern.regex, number)
            if capture is None:
                continue
            if winner is None or len(capture) >= len(winner[1]):
                winner = (pattern, capture)
        return winner


def named_captures(regex: re2._Regexp, number: str) -> dict[str, str]:
    """The named groups of a matching pattern (Kazoo's `capture_groups`); empty ones left out."""
    match = regex.search(number)
    if match is None:
        return {}
    return {name: value for name, value in match.groupdict().items() if value}
