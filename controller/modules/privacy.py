"""privacy — hide the caller's name, number or both from whoever the call reaches (Kazoo's
cf_privacy, usually behind a `*67` feature code pattern).

Data: `mode` (`full`, the default, or `yes`: name and number; `name`; `number`),
`endpoint_strategy` (`overwrite`, the default, or `merge`: kept on the call for the modules that
ring endpoints; Kazoo's endpoints merge their own caller_id_options then).

FreeSWITCH's `privacy` application sets the caller profile's hide flags (sofia then sends
`Privacy: id` and, to untrusted peers, an anonymous From), and the caller ID the next legs show
is set to Kazoo's anonymous defaults (`Anonymous` / `anonymous`) for what is hidden, in the same
write. When the callflow's pattern captured a number (`^\\*67(\\d+)$`), the call then goes where
that number goes (controller/modules/dialled.py); a number no callflow takes stops the call, as
in Kazoo. Without a capture the flow continues at `_`.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.esl.safety import multiset
from controller.flow import DEFAULT_CHILD, Next
from controller.modules.dialled import normalize, route_to

ANONYMOUS_NAME = "Anonymous"  # Kazoo's default_privacy_name
ANONYMOUS_NUMBER = "anonymous"  # Kazoo's default_privacy_number
# Kazoo's modes -> (hide name, hide number, FreeSWITCH's privacy argument)
MODES = {
    "full": (True, True, "full"),
    "yes": (True, True, "full"),
    "name": (True, False, "name"),
    "number": (False, True, "number"),
}


def hidden_caller_id(mode: str) -> dict[str, str]:
    """The effective caller ID variables that replace what the mode hides."""
    hide_name, hide_number, _ = MODES.get(mode, MODES["full"])
    found = {}
    if hide_name:
        found["effective_caller_id_name"] = ANONYMOUS_NAME
    if hide_number:
        found["effective_caller_id_number"] = ANONYMOUS_NUMBER
    return found


def handle(data: dict[str, Any], call: Call) -> Next:
    mode = str(data.get("mode") or "full")
    _, _, argument = MODES.get(mode, MODES["full"])
    variables = hidden_caller_id(mode)
    call.kvs.update(variables)  # what set_cid and prepend_cid build on (set_cid.presented)
    call.kvs["privacy_mode"] = argument
    call.kvs["use_endpoint_privacy"] = data.get("endpoint_strategy") == "merge"
    call.channel.execute_all([("privacy", argument), multiset(variables)])
    if not call.capture_group:
        return DEFAULT_CHILD
    return route_to(call, normalize(call, call.capture_group))
