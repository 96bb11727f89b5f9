"""Kazoo's pattern rules: longest capture wins, ties to the later pattern in CouchDB's order,
RE2 refuses what could backtrack."""

import pytest

from controller.callflows.patterns import (
    Pattern,
    PatternError,
    PatternSet,
    best_capture,
    collation_key,
    compile_pattern,
    named_captures,
)


def patternset(*sources: str) -> PatternSet:
    return PatternSet([Pattern(s, f"cf-{s}", compile_pattern(s)) for s in sources])


@pytest.mark.parametrize(
    ("pattern", "number", "capture"),
    [
        (r"^\*97$", "*97", "*97"),  # no group: the whole match
        (r"^\*98(\d+)$", "*981001", "1001"),  # one group
        (r"^(\d)(\d{3})$", "1234", "234"),  # the longest group, not the first
        (r"^(\d\d)(\d\d)$", "1234", "12"),  # equal lengths: the earliest group
        (r"^9(\d+)?$", "9", ""),  # a group that took no part counts as empty
        (r"555", "+15551234", "555"),  # unanchored search, as Kazoo's re:run
        (r"^\*7$", "*8", None),
    ],
)
def test_best_capture_follows_kazoo(pattern: str, number: str, capture: str | None) -> None:
    assert best_capture(compile_pattern(pattern), number) == capture


def test_longest_capture_wins_across_patterns() -> None:
    found = patternset(r"^\+1(\d{3})", r"^\+1(\d{10})$").best("+15551234567")
    assert found is not None
    assert found[0].source == r"^\+1(\d{10})$"
    assert found[1] == "5551234567"


def test_tie_goes_to_the_later_pattern_in_couchdb_order_as_kazoo_tests_them_last_first() -> None:
    # Both capture "1234". CouchDB sorts symbols before digits, so "^\d(\d+)$" comes before
    # "^2(\d+)$" in Kazoo's pattern view; Kazoo tests the view's rows last first and keeps
    # the first of equal captures: "^2(\d+)$", whatever order the callflows were saved in.
    found = patternset(r"^\d(\d+)$", r"^2(\d+)$").best("21234")
    assert found is not None and found[0].source == r"^2(\d+)$"
    found = patternset(r"^2(\d+)$", r"^\d(\d+)$").best("21234")
    assert found is not None and found[0].source == r"^2(\d+)$"


def test_patterns_sort_as_couchdb_collates_their_text() -> None:
    ordered = [r"^\*2(\d+)$", r"^+1(\d+)$", "^1", "^1a", "^1A", "^1b"]
    assert sorted(reversed(ordered), key=collation_key) == ordered
    found = patternset(r"^\*2(\d+)$", r"^.2(\d+)$").best("*21234")  # '.' sorts before '\'
    assert found is not None and found[0].source == r"^\*2(\d+)$"


def test_no_pattern_matches() -> None:
    assert patternset(r"^\*97$", r"^1\d{3}$").best("555") is None
    assert PatternSet([]).best("555") is None


def test_pcre_named_groups_become_capture_groups() -> None:
    regex = compile_pattern(r"^\*98(?<mailbox>\d+)(?P<rest>#?)$")
    assert named_captures(regex, "*98100") == {"mailbox": "100"}


@pytest.mark.parametrize(
    "source",
    [r"(a+)+\1", r"(?<=1)2", r"(?!x)y", r"(unclosed", "x" * 2000],
)
def test_patterns_that_need_backtracking_or_are_broken_are_refused(source: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(source)


@pytest.mark.timeout(5)
def test_catastrophic_shape_runs_in_linear_time() -> None:
    # (a+)+$ against "aaaa...b" hangs a backtracking engine; RE2 answers at once.
    found = patternset(r"^(a+)+$").best("a" * 50_000 + "b")
    assert found is None


def test_thousands_of_patterns_pick_the_longest_capture() -> None:
    sources = [rf"^\*{i}(\d+)$" for i in range(3000)]
    found = patternset(*sources).best("*29995551")
    # "*2" + "9995551" beats "*29" + "995551", "*299" + ... and "*2999" + "5551".
    assert found is not None and found[0].source == r"^\*2(\d+)$"
    assert found[1] == "9995551"
