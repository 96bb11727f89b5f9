"""Calling back the caller who left a message (`9` after a message; Kazoo's cf_voicemail
`callback` key, maybe_branch_call).

As Kazoo does, the caller's number is normalised (E.164 when it is a national or international
number, else as it is) and the account's callflow for it runs in place of the voicemail menus:
an extension rings its user, an outside number takes the `no_match` callflow (offnet), with
the call's destination set to that number as Kazoo sets the request. A message with no caller
number plays `vm-not_available`; a number no callflow takes plays
`fault-can_not_be_completed_as_dialed`; either way the message menu comes back.

Kept safe where Kazoo is not: the number comes from a caller, so only digits (and a leading `+`)
are dialled, and the lookup is the one of the call itself: an outside caller who logged in to a
box with its PIN reaches the account's callflows but not its `no_match` route to the telephone
network (Kazoo checks the box owner's call restrictions instead, and has no such gate).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import Branch
from controller.modules.numbers import to_e164
from controller.modules.prompts import Prompt
from controller.modules.voicemail_prompts import play

log = logging.getLogger(__name__)

NUMBER = re.compile(r"\+?[0-9]{1,32}")
NO_NUMBER = Prompt(file="voicemail/vm-not_available.wav")
CANNOT_DIAL = Prompt(file="voicemail/fault-can_not_be_completed_as_dialed.wav")


def callback(call: Call, message: Mapping[str, Any]) -> Branch | None:
    """The flow that calls the message's caller back, or None (a prompt said why)."""
    number = str(message.get("caller_id_number") or "").strip()
    if not NUMBER.fullmatch(number):
        log.info("call %s: message %s has no number to call back", call.uuid, message.get("media_id"))
        play(call, NO_NUMBER)
        return None
    number = to_e164(number, call.services.settings.country_code) or number
    services = call.services
    route = services.matcher.match(call.account_id, number, is_internal=call.is_internal, views=services.cache)
    if route is None:
        log.info("call %s: no callflow calls %s back", call.uuid, number)
        play(call, CANNOT_DIAL)
        return None
    log.info("call %s: calling %s back (callflow %s)", call.uuid, number, route.callflow_id)
    call.data = {**call.data, "Caller-Destination-Number": number}
    call.capture_group = route.capture_group
    call.capture_groups = dict(route.capture_groups)
    return Branch(flow=dict(route.callflow.get("flow") or {}), name=route.callflow_id)
