"""What the API asks the FreeSWITCHes themselves (CONTROLLER_FREESWITCH): parked calls and
conference participants are FreeSWITCH's state, read when asked (controller/esl/inbound_api.py).
None configured, or none answering: 503, saying which."""

from __future__ import annotations

from controller.api.context import ctx
from controller.api.errors import ApiError
from controller.esl import inbound_api


def unavailable(reason: str) -> ApiError:
    return ApiError(503, "service unavailable", {"freeswitch": {"unavailable": reason}})


def ask_each(*commands: str) -> list[list[str]]:
    """The answers of every configured FreeSWITCH that answers, one list per FreeSWITCH."""
    endpoints = ctx().services.settings.freeswitch
    if not endpoints:
        raise unavailable("no FreeSWITCH configured (CONTROLLER_FREESWITCH)")
    try:
        return inbound_api.ask_each(endpoints, *commands)
    except inbound_api.FreeswitchUnavailableError as exc:
        raise unavailable(str(exc)) from exc
