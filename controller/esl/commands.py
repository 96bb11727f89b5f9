"""Commands to a FreeSWITCH over a short inbound event socket connection of their own: what the
API's `PUT /channels/{uuid}` does (Kazoo's cb_channels actions) with `uuid_kill` and
`uuid_transfer`.

Only what `channel_command` builds goes out: a call UUID and a transfer target that match strict
patterns (no spaces, no `$`, no line breaks: nothing FreeSWITCH's command parser or expander
reads as syntax), so no caller or tenant text reaches FreeSWITCH as anything but a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from controller.config import EslEndpoint
from controller.esl import inbound_api

UUID = re.compile(r"[0-9A-Za-z-]{8,64}")
TARGET = re.compile(r"\+?[0-9A-Za-z*#]{1,32}")
TIMEOUT = inbound_api.TIMEOUT
CONTEXT = "controller"  # conf/freeswitch/dialplan/controller.xml: the calls the controller takes
NO_CHANNEL = "-ERR No such channel"


class CommandRefusedError(Exception):
    """FreeSWITCH refused the command (its `-ERR` reply is the message)."""


def hangup_command(uuid: str) -> str:
    if not UUID.fullmatch(uuid):
        raise ValueError("not a call UUID")
    return f"uuid_kill {uuid} NORMAL_CLEARING"


def transfer_command(uuid: str, target: str) -> str:
    """Blind transfer of `uuid` to `target`, which the controller's context routes (the account's
    callflows run for it again, as Kazoo's transfer runs the target's callflow)."""
    if not UUID.fullmatch(uuid):
        raise ValueError("not a call UUID")
    if not TARGET.fullmatch(target):
        raise ValueError("target must be 1 to 32 digits, letters, * or # (an optional leading +)")
    return f"uuid_transfer {uuid} {target} XML {CONTEXT}"


def run(endpoints: Iterable[EslEndpoint], command: str, timeout: float = TIMEOUT) -> str:
    """Send `api <command>` to each FreeSWITCH in turn until one has the channel; its reply.
    CommandRefusedError when every one refused (the last `-ERR`), OSError when none answered.
    Each asking is inbound_api.ask: a connection of its own, authenticated, then closed."""
    refusal, failure = "", None
    for endpoint in endpoints:
        try:
            [reply] = inbound_api.ask(endpoint, command, timeout=timeout)
        except inbound_api.FreeswitchUnavailableError as exc:
            failure = exc
            continue
        if not reply.startswith("-ERR"):
            return reply
        refusal = reply
    if refusal:
        raise CommandRefusedError(refusal.strip())
    raise OSError(f"no FreeSWITCH answered: {failure}" if failure else "no FreeSWITCH configured")
