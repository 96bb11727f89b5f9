"""The channel variables FreeSWITCH runs commands or reads files by (controller/esl/hooks.py):
no callflow sets one, whatever the case, prefix or application that would assign it."""

import pytest

from controller.esl import hooks
from controller.esl.safety import multiset


@pytest.mark.parametrize("name", [
    "api_hangup_hook", "API_HANGUP_HOOK", "nolocal:execute_on_answer", "execute_on_answer_2", "api_on_answer",
    "execute_on_fax_success", "api_reporting_hook", "session_in_hangup_hook", "exec_after_bridge_app",
    "bridge_pre_execute_bleg_app", "record_post_process_exec_api", "sip_execute_on_image", "sound_prefix",
    "transfer_after_bridge",
])
def test_the_variables_freeswitch_acts_on_are_hooks(name: str) -> None:
    assert hooks.is_hook(name)


@pytest.mark.parametrize("name", [
    "department", "hangup_after_bridge", "continue_on_fail", "cav_execute_on_answer", "effective_caller_id_name",
    "playback_terminators", "sip_h_X-Account-ID", "default_language", "ringback",
])
def test_ordinary_variables_are_not(name: str) -> None:
    assert not hooks.is_hook(name)


@pytest.mark.parametrize(("app", "arg"), [
    multiset({"department": "sales", "api_hangup_hook": "system id"}),
    ("multiset", "a=1 execute_on_answer=bgsystem id"),
    ("set", "api_hangup_hook=system id"),
    ("export", "nolocal:execute_on_answer=bgsystem id"),
    ("uuid_setvar", "0d1e api_on_answer system id"),
    ("uuid_setvar_multi", "0d1e a=1;sound_prefix=/"),
])
def test_an_assignment_of_a_hook_is_refused(app: str, arg: str) -> None:
    assert "makes FreeSWITCH run commands" in (hooks.refusal(app, arg) or "")


@pytest.mark.parametrize(("app", "arg"), [
    multiset({"department": "sales", "note": "api_hangup_hook=system id"}),  # a value, not a name
    ("set", "department=execute_on_answer"),
    ("playback", "api_hangup_hook=system id"),  # not an assignment
])
def test_values_and_other_applications_are_left_alone(app: str, arg: str) -> None:
    assert hooks.refusal(app, arg) is None
