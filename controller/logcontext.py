"""Log lines that say which call they are about.

Each call runs in its own greenlet, and a greenlet has its own context variables: the call's
lifecycle binds the call UUID and account once (`bind_call`), and every log line written while
that call runs — by the executor, a module, the session — carries them, without passing them
around. Two formats: `text` (`... call=<uuid> account=<id> message`) and `json` (one object per
line with `time`, `level`, `logger`, `message`, `call`, `account`), chosen by `log_format`.
"""

from __future__ import annotations

import contextvars
import json
import logging

_CALL: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("controller_call", default=("-", "-"))
TEXT = "%(asctime)s %(levelname)s %(name)s call=%(call_id)s account=%(account_id)s %(message)s"


def bind_call(call_id: str, account_id: str = "-") -> None:
    """From now on, this greenlet's log lines name this call and account."""
    _CALL.set((call_id or "-", account_id or "-"))


class CallFilter(logging.Filter):
    """Puts the bound call and account on every record (`-` outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id, record.account_id = _CALL.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record), "level": record.levelname, "logger": record.name,
            "message": record.getMessage(), "call": getattr(record, "call_id", "-"),
            "account": getattr(record, "account_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, fmt: str = "text") -> None:
    """The process's logging: one stderr handler with the call filter and the chosen format."""
    handler = logging.StreamHandler()
    handler.addFilter(CallFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
