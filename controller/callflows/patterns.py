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


class PatternSet:
    """All the patterns of one account, in Kazoo's order (sorted by pattern text).

    An RE2 set finds in one pass which patterns match a number, so a lookup costs one scan of the
    number plus a capture run of only the patterns that matched, however many patterns exist.
    """

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = sorted(patterns, key=lambda p: (p.source, p.callflow_id))
        self._set = re2.Set.SearchSet(_options())
        for pattern in self.patterns:
            self._set.Add(pattern.source)
        self._set.Compile()

    def __len__(self) -> int:
        return len(self.patterns)

    def best(self, number: str) -> tuple[Pattern, str] | None:
        """The winning pattern and its capture: the longest capture wins, ties go to the earlier
        pattern in sorted order (only a strictly longer capture replaces the current winner)."""
        if not self.patterns:
            return None
        winner: tuple[Pattern, str] | None = None
        for index in sorted(self._set.Match(number) or ()):
            pattern = self.patterns[index]
            capture = best_capture(pattern.regex, number)
            if capture is None:
                continue
            if winner is None or len(capture) > len(winner[1]):
                winner = (pattern, capture)
        return winner


def named_captures(regex: re2._Regexp, number: str) -> dict[str, str]:
    """The named groups of a matching pattern (Kazoo's `capture_groups`); empty ones left out."""
    match = regex.search(number)
    if match is None:
        return {}
    return {name: value for name, value in match.groupdict().items() if value}
