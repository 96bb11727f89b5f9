"""A worker process's own loop: requests in, replies out, one at a time, as JSON lines.

It runs the jobs of `jobs.py` in its main thread (where the Renderer's SIGALRM time limit works),
at a lower CPU priority than the roles (NICE), its address space capped at MEMORY_LIMIT (a
MemoryError is the request's; the worker then retires and is replaced). Replies go to the stdout
it was given; print() and warnings go to stderr, never into a reply.

    {"job": name, ...arguments}  -> {"ok": result}
                                 -> {"error": reason, "timeout": bool}   (refused: `jobs.py`)
                                 -> {"error": reason, "retire": true}    (out of memory)

It first writes {"ready": pid}, and ends at the end of its stdin (the API stopped or died).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
from typing import Any, BinaryIO

from controller.workers.jobs import JobRefusedError, Jobs

NICE = 10
MEMORY_LIMIT = 1 << 30


def answer(jobs: Jobs, request: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"ok": jobs.run(request)}
    except JobRefusedError as exc:
        return {"error": str(exc), "timeout": exc.timeout}
    except MemoryError:
        return {"error": f"over the worker's memory limit of {MEMORY_LIMIT >> 20} MiB", "retire": True}


def serve(requests: BinaryIO, replies: BinaryIO, jobs: Jobs) -> None:
    replies.write(json.dumps({"ready": os.getpid()}).encode() + b"\n")
    replies.flush()
    for line in requests:
        reply = answer(jobs, json.loads(line))
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()
        if reply.get("retire"):
            return


def main() -> int:
    os.nice(NICE)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the reply pipe is ours alone
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # (the API is gone)
        serve(sys.stdin.buffer, replies, Jobs())
    return 0
