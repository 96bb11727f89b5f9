"""say — say a number, date, address... with FreeSWITCH's `say` phrases (Kazoo's cf_say).

Data: `text` (required), `say_type` (`number`, `items`, `telephone_number`, `current_date`, ...;
Kazoo's list, which is mod_say's), `method` (`pronounced`, `iterated`, `counted`, `none`),
`language` (`en` by default), `gender` (for languages that inflect numbers), `terminators`.

FreeSWITCH's argument is `<lang>[:gender] <type> <method> <text>`; the text is the last word
group, so it may contain spaces. The call is answered first.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.esl.safety import inert, multiset
from controller.flow import DEFAULT_CHILD, Next
from controller.modules.play import terminators

GENDERS = {"masculine": "masculine", "feminine": "feminine", "neuter": "neuter"}


def argument(data: dict[str, Any]) -> str:
    language = inert(data.get("language", "en")).split("-")[0] or "en"
    gender = GENDERS.get(str(data.get("gender", "")))
    lang = f"{language}:{gender}" if gender else language
    kind = inert(data.get("say_type", "number")).upper().replace("-", "_")
    method = inert(data.get("method", "pronounced")).upper()
    return f"{lang} {kind} {method} {inert(data.get('text', '')).strip()}"


def handle(data: dict[str, Any], call: Call) -> Next:
    call.channel.execute_all([
        ("answer", ""),
        multiset({"playback_terminators": terminators(data.get("terminators"), "none")}),
        ("say", argument(data)),
    ])
    return DEFAULT_CHILD
