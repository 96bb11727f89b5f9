"""aiosmtpd handlers for the tests (run inside the aiosmtpd subprocess)."""

from typing import Any


class Reject550:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        return "550 5.1.1 No such user here"
