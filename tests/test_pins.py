"""PIN checks shared by hotdesk, voicemail and conferences: equal entries only, never an empty PIN,
whatever the lengths."""

from controller.modules import conferencing, pins


def test_a_pin_matches_only_the_same_digits() -> None:
    assert pins.is_same("1234", "1234")
    assert not pins.is_same("123", "1234") and not pins.is_same("12345", "1234") and not pins.is_same("4321", "1234")


def test_an_empty_pin_is_never_matched() -> None:
    assert not pins.is_same("", "") and not pins.is_same("1", "")


def test_a_conference_pin_makes_the_caller_a_moderator_or_a_member_by_the_list_holding_it() -> None:
    room = {"moderator": {"pins": ["9999"]}, "member": {"pins": ["1111", "2222"]}}
    assert conferencing.role_of(room, "9999") == "moderator"
    assert conferencing.role_of(room, "2222") == "member"
    assert conferencing.role_of(room, "222") is None and conferencing.role_of(room, "") is None
