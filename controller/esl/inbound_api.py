"""API commands on FreeSWITCH's inbound event socket, for the HTTP API: what is parked
(`valet_info`), who is in a conference (`conference <name> json_list`), and the actions on them
(`conference <name> mute <id>`, `kick`, ...).

The HTTP API runs in a process of its own, away from the ESL server and its watcher, so each
question opens its own short connection to each configured FreeSWITCH (CONTROLLER_FREESWITCH),
authenticates, asks, and closes: the answer is FreeSWITCH's own state at that moment, right after
a controller restart too, as Kazoo's ecallmgr asks its nodes rather than remembering.

Callers build commands from operator text only; names derived from tenant data go through
`token` first (no space, line break or expansion character can reach the command line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from gevent import socket as gsocket

from controller.config import EslEndpoint
from controller.errors import ESLProtocolError
from controller.esl import wire

TIMEOUT = 5.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_.@+-]")


class FreeswitchUnavailableError(Exception):
    """No configured FreeSWITCH answered (`endpoint` the last one tried, `reason` why)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(f"FreeSWITCH {endpoint}: {reason}")
        self.endpoint = endpoint
        self.reason = reason


def token(text: object) -> str:
    """A word of an API command made from tenant data (a lot or conference name): only letters,
    digits and `_.@+-` survive."""
    return _UNSAFE.sub("_", str(text))


def ask(endpoint: EslEndpoint, *commands: str, timeout: float = TIMEOUT) -> list[str]:
    """Run `api <command>` for each command on one new connection; their bodies, in order."""
    try:
        sock = gsocket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as exc:
        raise FreeswitchUnavailableError(str(endpoint), str(exc)) from exc
    try:
        frames = iter(wire.FrameReader(sock))
        _expect(frames, "auth/request")
        sock.sendall(wire.command(f"auth {endpoint.password}"))
        reply = _expect(frames, "command/reply")
        if not reply.reply_text.startswith("+OK"):
            raise FreeswitchUnavailableError(str(endpoint), f"auth refused: {reply.reply_text}")
        answers = []
        for command in commands:
            sock.sendall(wire.command("api " + command))
            answers.append(_expect(frames, "api/response").body.decode("utf-8", "replace"))
        return answers
    except (OSError, ESLProtocolError) as exc:
        raise FreeswitchUnavailableError(str(endpoint), str(exc)) from exc
    finally:
        sock.close()


def _expect(frames: Iterator[wire.Frame], content_type: str) -> wire.Frame:
    for frame in frames:
        if frame.content_type == content_type:
            return frame
    raise FreeswitchUnavailableError("-", f"connection closed before {content_type}")


def ask_each(endpoints: tuple[EslEndpoint, ...], *commands: str) -> list[list[str]]:
    """`ask` every FreeSWITCH that answers; raises only when none does (with several, the ones
    down are left out of the answer)."""
    answers, failure = [], None
    for endpoint in endpoints:
        try:
            answers.append(ask(endpoint, *commands))
        except FreeswitchUnavailableError as exc:
            failure = exc
    if failure is not None and not answers:
        raise failure
    return answers
