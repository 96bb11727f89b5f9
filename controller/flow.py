"""The types a callflow module speaks with the executor.

A module is a Python module in `controller/modules/` with `handle(data, call) -> Next`:
- a child key (`"_"`, a digit, a hangup cause) to follow that child, or a tuple of keys to try in
  order (e.g. a failed bridge tries its hangup cause, then its SIP code); the executor falls back to
  `"_"` when none exists;
- a Branch to run another flow (the `callflow` module, `pivot`); when that flow ends the parent
  resumes at the branching node's `"_"` child;
- None to stop the flow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

DEFAULT_CHILD = "_"


@dataclasses.dataclass(frozen=True)
class Branch:
    """Run `flow` (a callflow's flow tree) next; `name` says where it came from, for logs."""

    flow: dict[str, Any]
    name: str


Next = str | tuple[str, ...] | Branch | None


class Module(Protocol):
    """The contract of a callflow module (see the module docstring)."""

    def handle(self, data: dict[str, Any], call: Any) -> Next: ...


# A termination handler: a module-level function called with the call and the data it was
# registered with, once, when the channel is gone.
TerminationHandler = Callable[[Any, dict[str, Any]], None]


def queues_jobs_only(handler: TerminationHandler) -> TerminationHandler:
    """Marks a termination handler whose only effect is `call.queue_job`: a call whose handlers
    are all such is finished in one Redis step (claim, its jobs queued, its state dropped:
    `CallStates.finish`), since running them before the claim changes nothing outside."""
    handler.queues_jobs_only = True  # type: ignore[attr-defined]
    return handler


def only_queue_jobs(handlers: list[tuple[TerminationHandler, dict[str, Any]]]) -> bool:
    return all(getattr(handler, "queues_jobs_only", False) for handler, _ in handlers)
