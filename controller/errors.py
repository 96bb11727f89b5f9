"""Exceptions raised by the controller, in one place.

ControllerError is the root; every error a user can cause carries the context needed to fix it as
attributes (the configuration key, the file and JSON path of a document, the conflicting callflow)
and a message that already names them.

- ConfigError: a configuration value was refused at start-up (`key` names it).
- DocumentError: a JSON document is malformed or breaks its schema (`source`, `path`).
- ConflictError: a document would take something another one owns (a number: `owner`).
- NotFoundError: a referenced document does not exist (`kind`, `doc_id`).
- ChannelGoneError: the channel hung up or its socket closed while a module was using it.
- CommandError: FreeSWITCH answered a command with `-ERR` (`reply`), or did not answer in time.
- ESLProtocolError: the ESL byte stream is broken (malformed frame, lying Content-Length, a body
  cut short by EOF); it ends that one connection.
"""

from __future__ import annotations


class ControllerError(Exception):
    """Base of every error the controller raises on purpose."""


class ConfigError(ControllerError):
    """A configuration value is invalid; `key` is its environment variable name."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class DocumentError(ControllerError):
    """A document is invalid; `source` is where it came from, `path` the JSON path in it."""

    def __init__(self, source: str, path: str, reason: str) -> None:
        super().__init__(f"{source}: {path}: {reason}")
        self.source = source
        self.path = path
        self.reason = reason


class ConflictError(ControllerError):
    """A document claims something already owned by another document (`owner`)."""

    def __init__(self, what: str, owner: str) -> None:
        super().__init__(f"{what} is already used by {owner}")
        self.what = what
        self.owner = owner


class NotFoundError(ControllerError):
    """A referenced document does not exist."""

    def __init__(self, kind: str, doc_id: str) -> None:
        super().__init__(f"{kind} {doc_id!r} not found")
        self.kind = kind
        self.doc_id = doc_id


class ChannelGoneError(ControllerError):
    """The channel is gone (hung up, socket closed); nothing more can run on it."""


class CommandError(ControllerError):
    """FreeSWITCH refused a command (`-ERR ...`) or did not answer before the timeout."""

    def __init__(self, command: str, reply: str) -> None:
        super().__init__(f"{command}: {reply}")
        self.command = command
        self.reply = reply


class ESLProtocolError(ControllerError):
    """The ESL stream cannot be parsed; the connection it came from is closed."""
