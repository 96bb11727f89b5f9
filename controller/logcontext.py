"""Log lines that say which call they are about.

Each call runs in its own greenlet, and a greenlet has its own context variables: the call's
lifecycle binds the call UUID and account once (`bind_call`), and every log line written while
that call runs — by the executor, a module, the session — carries them, without passing them
around. Two formats: `text` (`... call=<uuid> account=<id> message`) and `json` (one object per
line with `time` in ISO 8601 UTC, `level`, `logger`, `message`, `call`, `account`), chosen by
`log_format`.

A greenlet starts with an empty context: one spawned for a call (its session's reader) is given a
copy of the call's with `share_call`, so that its lines name the call too.

What a command tells the person who started it (where it listens, where mail goes, why it stopped)
goes through `announce`: `controller: <message>` in the text format, one JSON object like any log
line in the json format; on standard output, or standard error for a warning or an error.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import sys
from typing import Any, TextIO

_CALL: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("controller_call", default=("-", "-"))
TEXT = "%(asctime)s %(levelname)s %(name)s call=%(call_id)s account=%(account_id)s %(message)s"
ANNOUNCE = "controller.announce"


def bind_call(call_id: str, account_id: str = "-") -> None:
    """From now on, this greenlet's log lines name this call and account."""
    _CALL.set((call_id or "-", account_id or "-"))


def share_call(greenlet: Any) -> None:
    """Let another greenlet of this call (suspended or not started yet) log with this one's call
    and account: it runs from now on in a copy of the current context."""
    greenlet.gr_context = contextvars.copy_context()


class CallFilter(logging.Filter):
    """Puts the bound call and account on every record (`-` outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id, record.account_id = _CALL.get()
        return True


class JsonFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        """ISO 8601 in UTC, to the millisecond: `2026-01-31T09:15:02.123+00:00`."""
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        return moment.isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record), "level": record.levelname, "logger": record.name,
            "message": record.getMessage(), "call": getattr(record, "call_id", "-"),
            "account": getattr(record, "account_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class ConsoleHandler(logging.StreamHandler[TextIO]):
    """Standard output, or standard error from WARNING up; the streams are looked up at each line
    (a test may have replaced them)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        super().emit(record)


def announce(message: str, level: int = logging.INFO) -> None:
    """Tell the person who started the command (see the module's docstring)."""
    logging.getLogger(ANNOUNCE).log(level, message)


def configure(level: str, fmt: str = "text") -> None:
    """The process's logging: one stderr handler with the call filter and the chosen format, and
    the console handler of `announce` (whatever the level, the announcements are shown)."""
    handler = logging.StreamHandler()
    handler.addFilter(CallFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    console = ConsoleHandler()
    console.addFilter(CallFilter())
    console.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("controller: %(message)s"))
    announcer = logging.getLogger(ANNOUNCE)
    announcer.handlers[:] = [console]
    announcer.propagate = False
    announcer.setLevel(logging.INFO)
