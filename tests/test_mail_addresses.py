"""Which addresses the mail sender accepts."""

import pytest

from controller.notify.addresses import is_valid


@pytest.mark.parametrize(("address", "valid"), [
    ("ann@office.test", True),
    ("first.last+tag@mail.example.com", True),
    ("josé@example.com", False),  # needs SMTPUTF8: dropped, never a crash at send time
    ("ann@exämple.com", False),
    ("ann@office.test\r\nBcc: x@evil.test", False),
    ("no-at-sign", False),
])
def test_addresses(address: str, valid: bool) -> None:
    assert is_valid(address) is valid
