"""The `bridge` application as the captures show it, one BridgeOutcome per attempt.

- While the callee rings, the caller's CHANNEL_PROGRESS already carries a stale
  `originate_disposition=failure` (bridge, missed); an unreachable callee never rings
  (bridge_nolistener).
- Answered: CHANNEL_ANSWER then CHANNEL_BRIDGE with Other-Leg-Unique-ID; when the callee hangs up,
  CHANNEL_UNBRIDGE, and the caller is hung up only with hangup_after_bridge=true.
- Failed: originate_disposition, originate_failed_cause, DIALSTATUS, last_bridge_hangup_cause
  and bridge_hangup_cause carry the cause (ALLOTTED_TIMEOUT for a leg_timeout expiry, NO_ANSWER
  when the whole originate's call_timeout ends it first), sip_invite_failure_status the SIP code;
  the caller is hung up before the bridge completes unless continue_on_fail allows that cause
  (missed vs missed_continue).
  Application-Response is `_none_` either way.
- On an inbound connection the callee's leg shows CHANNEL_CREATE, CHANNEL_PROGRESS,
  CHANNEL_ANSWER, CHANNEL_HANGUP, CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY (its headers and
  variables: controller/lab/callee.py).
- The caller's leg gains the originate's variables: `originate_signal_bond` and `originated_legs`
  (`<callee uuid>;Outbound Call;<number>`) once the callee rings or fails, `originate_causes`
  (`<callee uuid>;<cause>`, `NONE` when answered) and `signal_bond` with the outcome, and the
  failure response's phrase (`sip_invite_failure_phrase`, `sip_hangup_phrase`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import gevent

from controller.lab import callee as callees
from controller.lab import report, switchboard
from controller.lab.channel import Channel
from controller.lab.scenario import BRIDGE_FAILURES, BridgeOutcome

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall

_LEG_TIMEOUT = re.compile(r"(?:leg_timeout|call_timeout|originate_timeout)=(\d+)")
_LEG_LIMIT = re.compile(r"leg_timeout=(\d+)(?:,leg_delay_start=(\d+))?")
PICKED_OFF = "PICKED_OFF"
BRIDGED_AFTER = 0.005  # seconds: the uuid_bridge of an intercepted caller follows its bridge's end
FAILURE_VARIABLES = ("originate_disposition", "originate_failed_cause", "DIALSTATUS", "last_bridge_hangup_cause")


def bridge(call: SimulatedCall, arg: str) -> str:
    outcome = call.next_bridge()
    if outcome is None:
        return "_none_"
    leg = callees.leg(call.channel, callee_of(arg), arg)
    # Stale values while the originate runs (CHANNEL_PROGRESS in the bridge and missed captures).
    call.channel.set_variable("originate_disposition", "failure")
    call.channel.set_variable("DIALSTATUS", "INVALIDARGS")
    call.publish(leg, "CHANNEL_CREATE")
    if outcome.kind == "answered":
        return _answered(call, leg, outcome, arg)
    cause, sip_status, rings = BRIDGE_FAILURES[outcome.kind]
    if outcome.kind == "no_answer":
        cause = _unanswered_cause(call, arg)
    if rings:
        _ringing(call, leg)
    picker = _ring(call, leg, arg if rings else "", _ring_time(call, outcome, arg))
    if picker is not None:
        return _picked_off(call, leg, picker)
    if call.hungup.is_set():
        _cancelled(call, leg)
        return "_none_"
    _failed(call, leg, cause, sip_status)
    _end_leg(call, leg, cause, destroy=False)
    if not _continues(call.channel.variable("continue_on_fail"), cause):
        call.hangup(cause)  # FreeSWITCH hangs the caller up before completing the bridge
    callees.destroyed(leg)
    call.publish(leg, "CHANNEL_DESTROY")
    return "_none_"


def _ring(call: SimulatedCall, leg: Channel, dial: str, seconds: float) -> SimulatedCall | None:
    """The callee rings for `seconds` (listed on the switchboard while it does, when `dial`);
    the call that intercepted it meanwhile, if one did (lab/switchboard.py)."""
    if not dial:
        call.wait(seconds)
        return None
    ringing = call.scenario.switchboard.add(call, leg, dial)
    try:
        gevent.wait([call.hungup, ringing.picked], timeout=seconds, count=1)
    finally:
        call.scenario.switchboard.remove(ringing)
    return ringing.picked.get() if ringing.picked.ready() and not call.hungup.is_set() else None


def _picked_off(call: SimulatedCall, leg: Channel, picker: SimulatedCall) -> str:
    """Another call took the ringing call (FreeSWITCH's intercept): the callee's leg ends with
    PICKED_OFF, which the bridge fails with, and the caller is answered and bridged to the
    other call (uuid_bridge, after the bridge app returned)."""
    _failed(call, leg, PICKED_OFF, None)
    _end_leg(call, leg, PICKED_OFF)
    call.answer()
    call.later(BRIDGED_AFTER, lambda: call.emit("CHANNEL_BRIDGE", Other_Leg_Unique_ID=picker.uuid))
    switchboard.together(call, picker)
    return "_none_"


def _originated(call: SimulatedCall, leg: Channel) -> None:
    """The originate's bond to its callee, on the caller's leg (missed: from the ringing on)."""
    if call.channel.variable("originate_signal_bond") is None:
        number = leg.values["Caller-Destination-Number"]
        call.channel.set_variables({"variable_originate_signal_bond": leg.uuid,
                                    "variable_originated_legs": f"{leg.uuid};Outbound Call;{number}"})


def _failed(call: SimulatedCall, leg: Channel, cause: str, sip_status: str | None) -> None:
    """The failure on the caller's leg (missed, bridge_nolistener) and the callee's response."""
    _originated(call, leg)
    for name in FAILURE_VARIABLES:
        call.channel.set_variable(name, cause)
    call.channel.set_variable("originate_causes", f"{leg.uuid};{cause}")
    if sip_status:
        callees.refused(leg, sip_status, cause)
        phrase = callees.PHRASES.get(sip_status, "")
        call.channel.set_variables({
            "variable_sip_invite_failure_status": sip_status,
            "variable_last_bridge_proto_specific_hangup_cause": f"sip:{sip_status}",
            "variable_sip_invite_failure_phrase": phrase, "variable_sip_hangup_phrase": phrase,
        })


def _ring_time(call: SimulatedCall, outcome: BridgeOutcome, dial: str) -> float:
    if outcome.kind != "no_answer":
        return outcome.ring_seconds
    if outcome.timeout is not None:
        return outcome.timeout
    match = _LEG_TIMEOUT.search(dial)
    return call.scenario.scaled(float(match.group(1)) if match else 60.0)


def _unanswered_cause(call: SimulatedCall, dial: str) -> str:
    """Which limit ends an unanswered originate first (switch_ivr_originate): the whole
    originate's `call_timeout` gives NO_ANSWER (seen on a real FreeSWITCH when the controller
    sets it to the longest leg's time), a leg's own `leg_timeout` alone gives ALLOTTED_TIMEOUT
    (the missed capture)."""
    whole = call.channel.variable("call_timeout") or ""
    legs = [int(t) + int(d or 0) for t, d in _LEG_LIMIT.findall(dial)]
    if whole.isdigit() and (not legs or int(whole) <= max(legs)):
        return "NO_ANSWER"
    return "ALLOTTED_TIMEOUT"


def _continues(continue_on_fail: str | None, cause: str) -> bool:
    """continue_on_fail is `true` or a comma list of causes that keep the caller."""
    if not continue_on_fail:
        return False
    return continue_on_fail.lower() == "true" or cause in (c.strip() for c in continue_on_fail.split(","))


def _ringing(call: SimulatedCall, leg: Channel, answers: bool = False) -> None:
    """The callee rings: its ID is known from now on (an unreachable one never has it), and the
    caller hears the ringing through its own 180 (its To tag, the originate's bond). A callee
    that will answer sent its SDP already (bridge capture: switch_m_sdp on CHANNEL_PROGRESS)."""
    number = leg.values["Caller-Destination-Number"]
    callees.ringing(leg, call.channel)
    call.publish(leg, "CHANNEL_PROGRESS")
    channel = call.channel
    channel.times.progress = report.microseconds()
    channel.set_values(Caller_Callee_ID_Name="Outbound Call", Caller_Callee_ID_Number=number,
                       Caller_Channel_Progress_Time=str(channel.times.progress))
    if channel.variable("sip_to_tag") is None:
        channel.set_variable("sip_to_tag", report.sip_tag())
    _originated(call, leg)
    if answers and leg.variable("switch_r_sdp") is None:
        channel.set_variable("switch_m_sdp", callees.callee_sdp())
    call.emit("CHANNEL_PROGRESS")


def _answered(call: SimulatedCall, leg: Channel, outcome: BridgeOutcome, dial: str = "") -> str:
    _ringing(call, leg, answers=True)
    if not call.wait(outcome.ring_seconds):
        _cancelled(call, leg)
        return "_none_"
    callees.answered(leg)
    call.publish(leg, "CHANNEL_ANSWER")
    call.answer()
    call.channel.set_variable("originate_disposition", "SUCCESS")
    call.channel.set_variable("DIALSTATUS", "SUCCESS")
    call.bridged_to = leg
    callees.bridged(leg, call.channel)
    call.channel.times.bridged = leg.times.bridged
    call.channel.set_values(Caller_Channel_Bridged_Time=str(leg.times.bridged))
    call.channel.set_variables({"variable_sip_cseq": "1", "variable_originate_causes": f"{leg.uuid};NONE",
                                "variable_signal_bond": leg.uuid})
    call.channel.unset_variable("originate_signal_bond")  # the bond is made (bridge capture)
    call.channel.bridged_with(leg)
    call.emit("CHANNEL_BRIDGE", Other_Leg_Unique_ID=leg.uuid, Bridge_A_Unique_ID=call.uuid, Bridge_B_Unique_ID=leg.uuid)
    for name, value in (("bridge_uuid", leg.uuid), ("last_bridge_to", leg.uuid), ("bridge_to", leg.uuid),
                        ("last_bridge_role", "originator"), ("bridge_channel", leg.values["Channel-Name"]),
                        ("last_sent_callee_id_name", "Outbound Call"),
                        ("last_sent_callee_id_number", leg.values["Caller-Destination-Number"])):
        call.channel.set_variable(name, value)  # set once bridged: the CHANNEL_BRIDGE lacks them
    talking = call.scenario.switchboard.add(call, leg, dial)
    talking.callstate = "ACTIVE"
    try:
        gevent.wait([call.hungup, talking.picked], timeout=outcome.talk, count=1)
    finally:
        call.scenario.switchboard.remove(talking)
    if talking.picked.ready() and not call.hungup.is_set():
        return _taken(call, leg, talking.picked.get())
    if not call.hungup.is_set():  # the callee hangs up first
        _callee_hangs_up(call, leg)
    else:  # the caller hung up or was transferred: CHANNEL_UNBRIDGE was already sent
        _end_leg(call, leg, leg.values.get("Hangup-Cause", "NORMAL_CLEARING"), hung_up=True)
    return "_none_"


def _taken(call: SimulatedCall, leg: Channel, picker: SimulatedCall) -> str:
    """Another call took the answered call (intercept): the callee's leg is hung up with
    PICKED_OFF, the bridge returns with that `bridge_hangup_cause`, and the caller is bridged
    to the other call."""
    call.bridged_to = None
    callees.hung_up(leg, PICKED_OFF)
    call.publish(leg, "CHANNEL_HANGUP")
    set_bridge_end(call, PICKED_OFF)
    call.channel.set_variable("last_bridge_hangup_cause", PICKED_OFF)
    call.emit("CHANNEL_UNBRIDGE", Other_Leg_Unique_ID=leg.uuid)
    _end_leg(call, leg, PICKED_OFF, hung_up=True)
    call.later(BRIDGED_AFTER, lambda: call.emit("CHANNEL_BRIDGE", Other_Leg_Unique_ID=picker.uuid))
    switchboard.together(call, picker)
    return "_none_"


def _cancelled(call: SimulatedCall, leg: Channel) -> None:
    """The caller hung up while the callee rang."""
    call.channel.set_variable("originate_disposition", "ORIGINATOR_CANCEL")
    _end_leg(call, leg, "ORIGINATOR_CANCEL")


def _callee_hangs_up(call: SimulatedCall, leg: Channel) -> None:
    call.bridged_to = None
    callees.hung_up(leg, "NORMAL_CLEARING", by_callee=True)
    call.publish(leg, "CHANNEL_HANGUP")
    set_bridge_end(call, "NORMAL_CLEARING")
    call.emit("CHANNEL_UNBRIDGE", Other_Leg_Unique_ID=leg.uuid)
    _end_leg(call, leg, "NORMAL_CLEARING", hung_up=True)
    if call.channel.variable("hangup_after_bridge") == "true":
        call.hangup("NORMAL_CLEARING")


def set_bridge_end(call: SimulatedCall, cause: str) -> None:
    """The variable CHANNEL_UNBRIDGE already carries (bridge capture); last_bridge_hangup_cause
    is only set by a failed bridge."""
    call.channel.set_variable("bridge_hangup_cause", cause)
    call.channel.unset_variable("bridge_to")


def _end_leg(call: SimulatedCall, leg: Channel, cause: str, hung_up: bool = False, destroy: bool = True) -> None:
    """The callee leg's end on an inbound connection."""
    if not hung_up:
        callees.hung_up(leg, cause)
        call.publish(leg, "CHANNEL_HANGUP")
    callees.completed(leg, cause)
    call.publish(leg, "CHANNEL_HANGUP_COMPLETE")
    if destroy:
        callees.destroyed(leg)
        call.publish(leg, "CHANNEL_DESTROY")


def callee_of(dial: str) -> str:
    """The first endpoint's user part: `{..}[..]sofia/lab/1001@realm,...` -> 1001."""
    first = re.split(r"[,|:]", re.sub(r"[\[{<][^\]}>]*[\]}>]", "", dial))[0]
    return first.rsplit("/", 1)[-1].split("@")[0]
