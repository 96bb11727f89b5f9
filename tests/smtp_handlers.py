"""aiosmtpd handlers for the tests (run inside the aiosmtpd subprocess)."""

from typing import Any

from aiosmtpd.handlers import Mailbox


class Reject550:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        return "550 5.1.1 No such user here"


class RefusingMailbox(Mailbox):
    """A Maildir server that refuses every recipient whose address starts with `refused`."""

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class PipeliningMailbox(RefusingMailbox):
    """The same, offering PIPELINING (aiosmtpd reads pipelined commands in order without saying so)."""

    async def handle_EHLO(  # noqa: N802 (aiosmtpd hook)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class GreylistingMailbox(RefusingMailbox):
    """The same, also greylisting: an address starting with `grey` is answered 451 the first time
    it is asked for and accepted after (as a greylisting server accepts a retry)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: set[str] = set()

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("grey") and address not in self.seen:
            self.seen.add(address)
            return "451 4.7.1 Greylisted, try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


class PipeliningGreylistingMailbox(GreylistingMailbox, PipeliningMailbox):
    """Greylisting and refusing, offering PIPELINING."""
