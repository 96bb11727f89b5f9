"""The benchmark's baseline: a bare greenswitch outbound application (greenswitch's own
OutboundESLServer and OutboundSession, no fixes) sending the same commands as the controller's
benchmark callflow: answer -> play -> bridge (no answer) -> hangup. It runs in its own process,
started by `controller lab bench`, so that both are measured against the same simulator."""

from __future__ import annotations

import argparse
import logging

from gevent import monkey

monkey.patch_all()

from greenswitch import esl

MEDIA = "tone_stream://%(100,0,440)"
DIAL = "{leg_timeout=1}user/1001@bench.example.com"


class BaselineApplication:
    """One call, with greenswitch's blocking calls (completion matched by application name)."""

    def __init__(self, session: esl.OutboundSession) -> None:
        self.session = session

    def run(self) -> None:
        session = self.session
        try:
            session.myevents()
            session.linger()
            session.call_command("answer", block=True, response_timeout=30)
            session.playback(MEDIA)
            session.call_command("set", "continue_on_fail=true", block=True, response_timeout=30)
            session.bridge(DIAL, block=True, response_timeout=30)
            session.call_command("hangup", "NO_ANSWER", block=True, response_timeout=30)
        except Exception:  # a bare application: any failure just ends the call
            logging.debug("baseline call ended early", exc_info=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-connections", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    server = esl.OutboundESLServer(
        bind_address="127.0.0.1",
        bind_port=args.port,
        application=BaselineApplication,
        max_connections=args.max_connections,
    )
    server.listen()


if __name__ == "__main__":
    main()
