"""The dialplan applications the simulator plays, each as FreeSWITCH answers it (see the
captures): `run(call, app, arg)` returns the Application-Response of the app's
CHANNEL_EXECUTE_COMPLETE; an app that ends the call calls `call.hangup(...)` itself, which
completes the running app right after CHANNEL_HANGUP."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from gevent.queue import Empty

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall

App = Callable[["SimulatedCall", str], str]

# Application-Response of an app interrupted by the caller hanging up.
HANGUP_RESPONSES = {"playback": "PLAYBACK ERROR", "speak": "PLAYBACK ERROR"}
RESPOND_CAUSES = {"404": "UNALLOCATED_NUMBER", "486": "USER_BUSY", "480": "NO_USER_RESPONSE",
                  "503": "NORMAL_TEMPORARY_FAILURE", "603": "CALL_REJECTED", "403": "CALL_REJECTED"}
_LEG_TIMEOUT = re.compile(r"(?:leg_timeout|call_timeout|originate_timeout)=(\d+)")


def answer(call: SimulatedCall, arg: str) -> str:
    if not call.answered and call.wait(call.scenario.answer_delay):
        call.answered = True
        call.set_values(Answer_State="answered")
        call.emit("CHANNEL_ANSWER")
        call.set_values(Channel_Call_State="ACTIVE")
    return "_none_"


def playback(call: SimulatedCall, arg: str) -> str:
    call.press_digits()
    if not call.wait(call.scenario.playback_seconds):
        return HANGUP_RESPONSES["playback"]
    return "FILE PLAYED"


def prompt(call: SimulatedCall, arg: str) -> str:
    call.press_digits()
    call.wait(call.scenario.playback_seconds)
    return "_none_"


def sleep(call: SimulatedCall, arg: str) -> str:
    milliseconds = int(arg) if arg.strip().isdigit() else 0
    call.wait(milliseconds / 1000)
    return "_none_"


def set_variable(call: SimulatedCall, arg: str) -> str:
    name, _, value = arg.partition("=")
    if name:
        call.set_variable(name.strip(), value)
    return "_none_"


def multiset(call: SimulatedCall, arg: str) -> str:
    items = arg[3:].split(arg[2]) if arg.startswith("^^") and len(arg) > 2 else arg.split()
    for item in items:
        set_variable(call, item)
    return "_none_"


def collect(call: SimulatedCall, arg: str) -> str:
    """play_and_get_digits MIN MAX TRIES TIMEOUT TERMINATORS FILE INVALID VAR REGEX DIGIT_TIMEOUT"""
    words = arg.split()
    maximum = int(words[1]) if len(words) > 1 and words[1].isdigit() else 1
    timeout = int(words[3]) / 1000 if len(words) > 3 and words[3].isdigit() else 5.0
    variable = words[7] if len(words) > 7 else "collected_digits"
    terminators = words[4] if len(words) > 4 else "#"
    call.press_digits()
    digits = ""
    wait = timeout
    while len(digits) < maximum and not call.hungup.is_set():
        try:
            digit = call.digits.get(timeout=wait)
        except Empty:
            break
        if digit in terminators:
            break
        digits += digit
        wait = int(words[9]) / 1000 if len(words) > 9 and words[9].isdigit() else timeout
    call.set_variable(variable, digits)
    return "_none_"


def bridge(call: SimulatedCall, arg: str) -> str:
    outcome = call.next_bridge()
    if outcome is None:
        return "_none_"
    call.set_variable("originate_disposition", "failure")
    call.set_values(Caller_Callee_ID_Name="Outbound Call", Caller_Callee_ID_Number=_callee(arg))
    if outcome.kind != "unreachable":  # an unreachable callee never rings
        call.emit("CHANNEL_PROGRESS")
    if outcome.kind == "answered":
        return _answered(call, outcome)
    match = _LEG_TIMEOUT.search(arg)
    timeout = outcome.timeout if outcome.timeout is not None else float(match.group(1)) if match else 60.0
    failures = {
        "no_answer": ("ALLOTTED_TIMEOUT", timeout, None),
        "busy": ("USER_BUSY", outcome.ring, "486"),
        "unreachable": ("NORMAL_TEMPORARY_FAILURE", 0.04, "503"),
    }
    cause, delay, sip_status = failures.get(outcome.kind, failures["no_answer"])
    if not call.wait(delay):
        return "_none_"
    for name in ("originate_disposition", "originate_failed_cause", "DIALSTATUS",
                 "last_bridge_hangup_cause", "bridge_hangup_cause"):
        call.set_variable(name, cause)
    if sip_status:
        call.set_variable("sip_invite_failure_status", sip_status)
    if call.variable("continue_on_fail") not in ("true", cause):
        call.hangup(cause)  # FreeSWITCH hangs the caller up before completing the bridge
    return "_none_"


def _answered(call: SimulatedCall, outcome: object) -> str:
    ring = float(getattr(outcome, "ring", 0.01))
    talk = float(getattr(outcome, "talk", 0.01))
    if not call.wait(ring):
        return "_none_"
    other = "b-leg-" + call.uuid
    answer(call, "")
    call.set_variable("originate_disposition", "SUCCESS")
    call.set_variable("DIALSTATUS", "SUCCESS")
    call.set_variable("bridge_uuid", other)
    call.emit("CHANNEL_BRIDGE", Other_Leg_Unique_ID=other, Bridge_A_Unique_ID=call.uuid, Bridge_B_Unique_ID=other)
    call.bridged_to = other
    if call.inbound is not None:
        call.inbound.publish(call, "CHANNEL_BRIDGE", Other_Leg_Unique_ID=other)
    ended = call.wait(talk)
    call.set_variable("bridge_hangup_cause", "NORMAL_CLEARING")
    call.set_variable("last_bridge_hangup_cause", "NORMAL_CLEARING")
    if ended:
        call.bridged_to = None
        call.emit("CHANNEL_UNBRIDGE", Other_Leg_Unique_ID=other)
        if call.variable("hangup_after_bridge") == "true":
            call.hangup("NORMAL_CLEARING")
    return "_none_"


def _callee(dial: str) -> str:
    """The first endpoint's user part: `[..]user/1001@realm,...` -> 1001."""
    first = re.split(r"[,|]", re.sub(r"[\[{][^\]}]*[\]}]", "", dial))[0]
    return first.rsplit("/", 1)[-1].split("@")[0]


def hangup(call: SimulatedCall, arg: str) -> str:
    call.hangup(arg.strip() or "NORMAL_CLEARING")
    return "_none_"


def respond(call: SimulatedCall, arg: str) -> str:
    code = arg.split(maxsplit=1)[0] if arg.split() else "500"
    if code.startswith(("4", "5", "6")):
        call.hangup(RESPOND_CAUSES.get(code, "NORMAL_CLEARING"))
    return "_none_"


def record(call: SimulatedCall, arg: str) -> str:
    words = arg.split()
    limit = float(words[1]) if len(words) > 1 and words[1].isdigit() else 3600.0
    seconds = min(limit, call.scenario.record_seconds)
    call.wait(seconds)
    call.set_variable("record_seconds", str(int(seconds)))
    call.set_variable("record_ms", str(int(seconds * 1000)))
    return "_none_"


def generic(call: SimulatedCall, arg: str) -> str:
    return "_none_"


APPS: dict[str, App] = {
    "answer": answer, "pre_answer": generic, "playback": playback, "speak": prompt, "say": prompt,
    "gentones": prompt, "sleep": sleep, "set": set_variable, "export": set_variable,
    "multiset": multiset, "play_and_get_digits": collect, "read": collect, "bridge": bridge,
    "hangup": hangup, "respond": respond, "record": record,
}


def run(call: SimulatedCall, app: str, arg: str) -> str:
    return APPS.get(app, generic)(call, arg)
