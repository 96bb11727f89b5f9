"""language — the language of the rest of the call's prompts (Kazoo's cf_language).

Data: `language` (required; `en`, `fr-ca`: two letters, optionally a region).

Kazoo sets the channel's `default_language`, which FreeSWITCH's phrase macros and sound lookups
read; the same variable is set here (one `multiset`, the value checked by the schema and made
inert anyway) and kept on the call (`call.kvs["language"]`). `tts` and `say` nodes still say
their own `language` (or their default) as written.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.esl.safety import multiset
from controller.flow import DEFAULT_CHILD, Next


def handle(data: dict[str, Any], call: Call) -> Next:
    language = str(data.get("language") or "").strip().lower()
    if language:
        call.kvs["language"] = language
        call.channel.execute(*multiset({"default_language": language}))
    return DEFAULT_CHILD
