"""`python -m controller.notify.render_worker`: one worker of the API's render pool
(controller/notify/render_pool.py), a process of its own so that no template's CPU stalls the
loop that answers requests.

It renders with the mail sender's Renderer (the same sandbox, limits and cache) in its main
thread, where the SIGALRM time limit works, at a lower CPU priority than the roles (NICE), its
address space capped at MEMORY_LIMIT (a MemoryError is the template's, and the worker then
retires: it is replaced). Requests and replies are JSON lines on stdin and on the stdout it was
given (print() and warnings go to stderr, never into a reply):

    {"op": "render", "parts": [[source, is_html], ...], "macros": {...}}  -> {"ok": [output, ...]}
    {"op": "names", "source": source}                                     -> {"ok": [name, ...]}
    a refusal                                   -> {"error": reason, "timeout": bool, "retire": bool}

It first writes {"ready": pid}, and ends at the end of its stdin (the API stopped or died).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
from typing import Any, BinaryIO

from controller.notify.render import Renderer, TemplateError, TemplateTimeError

NICE = 10
MEMORY_LIMIT = 768 << 20


def answer(renderer: Renderer, request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request: its outputs, or why the template was refused."""
    try:
        if request.get("op") == "names":
            return {"ok": sorted(renderer.names(str(request["source"])))}
        parts = [(str(source), bool(html)) for source, html in request["parts"]]
        return {"ok": renderer.render_all(parts, request.get("macros") or {})}
    except TemplateTimeError as exc:
        return {"error": str(exc), "timeout": True}
    except TemplateError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": f"template over the memory limit of {MEMORY_LIMIT >> 20} MiB", "retire": True}


def serve(requests: BinaryIO, replies: BinaryIO, renderer: Renderer) -> None:
    replies.write(json.dumps({"ready": os.getpid()}).encode() + b"\n")
    replies.flush()
    for line in requests:
        reply = answer(renderer, json.loads(line))
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
        serve(sys.stdin.buffer, replies, Renderer())
    return 0


if __name__ == "__main__":
    sys.exit(main())
