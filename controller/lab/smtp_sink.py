"""An aiosmtpd handler for the mail benchmark: accepts every message and appends
`<Message-ID> <unix time>` to the file named by CONTROLLER_SINK_FILE (run inside aiosmtpd:
`python -m aiosmtpd -n -l HOST:PORT -c controller.lab.smtp_sink.TimingSink`)."""

from __future__ import annotations

import os
import re
import time
from typing import Any

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class TimingSink:
    def __init__(self) -> None:
        self.path = os.environ.get("CONTROLLER_SINK_FILE", "")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        if self.path:
            found = _MESSAGE_ID.search(envelope.content or b"")
            ident = found.group(1).decode() if found else "-"
            with open(self.path, "a", encoding="ascii") as sink:
                sink.write(f"{ident} {time.time():.6f}\n")
        return "250 2.0.0 Ok: queued"
