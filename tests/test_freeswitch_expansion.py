"""The simulator's variable expander (controller/lab/expand.py) against FreeSWITCH's own.

A real call reaches a small outbound ESL server of the test's own (on the port the dialplan's
`socket` dials) that runs `set probe_N=<text>` for each text below: FreeSWITCH expands the
argument, then `set` expands the value again. The value FreeSWITCH kept, read back from the
application's CHANNEL_EXECUTE_COMPLETE, must be what the port computes for the same two passes
with the channel's variables. The texts hold every escape and substitution form, but no API
call (that would run something).
"""

from collections.abc import Mapping

import pytest
from gevent import socket as gsocket
from gevent.event import AsyncResult
from gevent.server import StreamServer

from controller.esl.session import Session
from controller.lab.expand import expand
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]

TEXTS = [
    "plain text", "${uuid}", "$${uuid}", "${nosuch}", "x${nosuch}y", "${uuid}${uuid}", "${uuid}-$",
    "${uuid:0:8}", "${uuid:-4}", "${uuid:30}", "${${nosuch}uuid}", "$$x", "$", "${", "}{", "$x{uuid}",
    "\\", "\\\\", "\\$", "\\${uuid}", "\\\\${uuid}", "\\$${uuid}", "$\\'{uuid}", "$\\'\\'{uuid}",
    "$\\{uuid}", "\\'quoted\\'", "\\n\\t\\s", "%{uuid}", "%[a=b]c", "{a=b,c=d}", "a\\b\\\\c",
    "${sip_from_user}@${nosuch}", "$${${nosuch}}", "\uff04{uuid}\uff3c'", "${uuid}\\",
]


def probe(session: Session) -> tuple[Mapping[str, str], list[str]]:
    """Set each text on the channel; what FreeSWITCH kept (unset: empty)."""
    data = session.connect()
    session.myevents()
    kept = []
    for number, text in enumerate(TEXTS):
        completion = session.execute("set", f"probe_{number}={text}", timeout=5)
        kept.append(completion.get(f"variable_probe_{number}", ""))
    session.hangup()
    return data, kept


@pytest.fixture
def prober(fs: FreeSwitch) -> AsyncResult:
    """The outbound ESL server the dialplan dials for this test; its result, once a call came."""
    outcome: AsyncResult = AsyncResult()

    def handle(sock: gsocket.socket, address: tuple[str, int]) -> None:
        session = Session(sock, address, command_timeout=5)
        try:
            outcome.set(probe(session))
        except Exception as exc:
            outcome.set_exception(exc)
        finally:
            session.close()

    server = StreamServer(("127.0.0.1", fs.ports.controller_esl), handle)
    server.start()
    yield outcome
    server.stop(timeout=2)


def test_the_simulators_expander_agrees_with_freeswitchs_for_every_form(prober: AsyncResult, sipp: Sipp) -> None:
    caller = sipp.call("+15554441111")
    data, kept = prober.get(timeout=25)
    assert caller.wait() == 0, caller.report()

    def variable(name: str) -> str | None:
        return data.get("variable_" + name)

    def no_api(command: str, argument: str) -> str:
        raise AssertionError(f"no text here calls an API: {command}({argument})")

    expected = [expand(expand(text, variable, no_api), variable, no_api) for text in TEXTS]
    assert list(zip(TEXTS, kept, strict=True)) == list(zip(TEXTS, expected, strict=True))
