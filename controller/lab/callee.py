"""The callee's leg of a bridge (the B-leg), as an inbound ESL connection sees it in the
`bridge.inbound`, `missed.inbound` and `bridge_nolistener.inbound` captures: its own channel
headers with its originator's Other-Leg block, and its variables at each step, taken from the
captures (controller/lab/templates.json, `callee`) with this call's own values: its uuid and its
caller's, the channel names, the numbers, the SIP tags and Call-ID, the dial string's
`{name=value}` variables.

  created: CS_INIT, DOWN, the variables sofia sets as it sends the INVITE;
  ringing: CS_CONSUME_MEDIA, the SIP dialog's variables of the callee's 180;
  answered: the media variables of its 200; then, bridged, CS_EXCHANGE_MEDIA and ACTIVE;
  refused: the failure response's variables (an unreachable callee never rings);
  ended: CHANNEL_HANGUP, then the call report of CHANNEL_HANGUP_COMPLETE.
"""

from __future__ import annotations

import functools
import re
import uuid as uuids

from controller.lab import report, templates
from controller.lab.channel import Channel

HOST = "127.0.0.1:5090"  # where the captures' callee listened
DIAL_BLOCK = re.compile(r"^\s*\{([^}]*)\}")
CODEC_HEADERS = ("Channel-Read-Codec-Name", "Channel-Read-Codec-Rate", "Channel-Read-Codec-Bit-Rate",
                 "Channel-Write-Codec-Name", "Channel-Write-Codec-Rate", "Channel-Write-Codec-Bit-Rate")
PHRASES = {"486": "Busy Here", "503": "Service Unavailable", "603": "Decline", "487": "CANCEL"}


@functools.cache
def _captured() -> dict[str, list[tuple[str, str]]]:
    found = templates.load()["callee"]
    return {key: [(name, value) for name, value in pairs] for key, pairs in found.items() if key != "dial_variables"}


@functools.cache
def _dial_names() -> frozenset[str]:
    return frozenset(templates.load()["callee"]["dial_variables"])


def dial_variables(dial: str) -> list[tuple[str, str]]:
    """The `{name=value,...}` block a dial string starts with: variables of every leg it makes."""
    found = DIAL_BLOCK.match(dial)
    if not found:
        return []
    pairs = (item.split("=", 1) for item in found.group(1).split(",") if "=" in item)
    return [(name.strip(), value.strip()) for name, value in pairs]


def leg(caller: Channel, callee: str, dial: str = "") -> Channel:
    """The B-leg a bridge from `caller` to `callee` creates (before CHANNEL_CREATE)."""
    leg_uuid = str(uuids.uuid4())
    name = f"sofia/lab/{callee}@{HOST}"
    dialled = dict(dial_variables(dial))
    a = caller.values
    cid_name = dialled.get("origination_caller_id_name", a["Caller-Caller-ID-Name"])
    cid_number = dialled.get("origination_caller_id_number", a["Caller-Caller-ID-Number"])
    created = str(report.microseconds())
    own = {
        "Channel-Name": name, "Unique-ID": leg_uuid, "Channel-Call-UUID": caller.uuid,
        "Caller-Username": a["Caller-Username"],
        "Caller-Caller-ID-Name": cid_name, "Caller-Caller-ID-Number": cid_number,
        "Caller-Orig-Caller-ID-Name": cid_name, "Caller-Orig-Caller-ID-Number": cid_number,
        "Caller-Callee-ID-Number": callee, "Caller-ANI": a["Caller-ANI"], "Caller-Destination-Number": callee,
        "Caller-Unique-ID": leg_uuid, "Caller-Channel-Name": name,
        "Caller-Profile-Created-Time": created, "Caller-Channel-Created-Time": created,
        "Other-Leg-Username": a["Caller-Username"], "Other-Leg-Caller-ID-Name": a["Caller-Caller-ID-Name"],
        "Other-Leg-Caller-ID-Number": a["Caller-Caller-ID-Number"],
        "Other-Leg-Orig-Caller-ID-Name": a["Caller-Orig-Caller-ID-Name"],
        "Other-Leg-Orig-Caller-ID-Number": a["Caller-Orig-Caller-ID-Number"], "Other-Leg-ANI": a["Caller-ANI"],
        "Other-Leg-Destination-Number": a["Caller-Destination-Number"], "Other-Leg-Unique-ID": caller.uuid,
        "Other-Leg-Channel-Name": a["Channel-Name"],
    }
    values = {header: own.get(header, value) for header, value in _captured()["headers"]}
    b = Channel(values, {})
    b.drop_headers(CODEC_HEADERS)  # no codec until it answers (missed.inbound)
    b.times = report.Times(int(created))
    mine = {"uuid": leg_uuid, "call_uuid": caller.uuid, "originator": caller.uuid, "signal_bond": caller.uuid,
            "originating_leg_uuid": caller.uuid, "channel_name": name,
            "sip_destination_url": f"sip:{callee}@{HOST}", "sip_req_uri": f"{callee}@{HOST}"}
    _set(b, _with_dial(_captured()["create"], dialled), mine)
    return b


def _with_dial(captured: list[tuple[str, str]], dialled: dict[str, str]) -> list[tuple[str, str]]:
    """The captured variables with the capture's dial-string ones replaced by this dial string's,
    where FreeSWITCH puts them (after call_uuid)."""
    kept = [(name, value) for name, value in captured if name not in _dial_names()]
    at = next((i + 1 for i, (name, _) in enumerate(kept) if name == "call_uuid"), len(kept))
    return kept[:at] + list(dialled.items()) + kept[at:]


def _set(b: Channel, captured: list[tuple[str, str]], mine: dict[str, str]) -> None:
    b.set_variables({f"variable_{name}": mine.get(name, value) for name, value in captured})


def ringing(b: Channel, caller: Channel) -> None:
    """The callee's 180: CHANNEL_PROGRESS, with the dialog's variables."""
    callee = b.values["Caller-Destination-Number"]
    a = caller.values
    number, name = a["Caller-Caller-ID-Number"], a["Caller-Caller-ID-Name"]
    to_tag, from_tag = report.sip_tag(), report.sip_tag()
    b.set_values(Channel_State="CS_CONSUME_MEDIA", Channel_State_Number="7",
                 Caller_Channel_Progress_Time=str(report.microseconds()))
    b.times.progress = int(b.values["Caller-Channel-Progress-Time"])
    _set(b, _captured()["ringing"], {
        "sip_from_display": name, "sip_from_user": number, "sip_from_uri": f"{number}@127.0.0.1",
        "sip_full_from": f'"{name}" <sip:{number}@127.0.0.1>;tag={from_tag}',
        "sip_full_to": f"<sip:{callee}@{HOST}>;tag={to_tag}", "sip_to_user": callee, "sip_to_uri": f"{callee}@{HOST}",
        "sip_to_tag": to_tag, "sip_from_tag": from_tag, "sip_call_id": str(uuids.uuid4()),
    })


def answered(b: Channel) -> None:
    """The callee's 200: CHANNEL_ANSWER, with its media variables."""
    b.times.answered = report.microseconds()
    b.set_values(Answer_State="answered", Channel_Call_State="RINGING",
                 Caller_Channel_Answered_Time=str(b.times.answered))
    _set(b, _captured()["answered"], {})
    connect = dict(templates.load()["connect"])  # the caller's codec: the callee answered with the same
    b.set_headers({name: connect[name] for name in CODEC_HEADERS})


def bridged(b: Channel, caller: Channel) -> None:
    """Bridged to its caller: media flows both ways."""
    b.times.bridged = report.microseconds()
    b.set_values(Channel_State="CS_EXCHANGE_MEDIA", Channel_State_Number="4", Channel_Call_State="ACTIVE",
                 Caller_Channel_Bridged_Time=str(b.times.bridged))
    b.set_variables({"variable_endpoint_disposition": "ANSWER", "variable_last_bridge_to": caller.uuid,
                     "variable_bridge_channel": caller.values["Channel-Name"],
                     "variable_bridge_uuid": caller.uuid,
                     "variable_last_sent_callee_id_name": b.values["Caller-Caller-ID-Name"],
                     "variable_last_sent_callee_id_number": b.values["Caller-Caller-ID-Number"]})


def callee_sdp() -> str:
    """The SDP a callee answers with (the bridge capture's)."""
    return dict(_captured()["answered"])["switch_r_sdp"]


def refused(b: Channel, status: str, cause: str) -> None:
    """The callee's failure response (bridge_nolistener: 503), before its CHANNEL_HANGUP."""
    phrase = PHRASES.get(status, "")
    _set(b, _captured()["refused"], {
        "sip_call_id": b.variable("sip_call_id") or str(uuids.uuid4()), "sip_invite_failure_status": status,
        "sip_invite_failure_phrase": phrase, "sip_term_status": status, "proto_specific_hangup_cause": f"sip:{status}",
        "sip_term_cause": str(report.q850(cause)),
    })


def hung_up(b: Channel, cause: str, by_callee: bool = False) -> None:
    """CHANNEL_HANGUP's state: Channel-State stays where the leg was (CS_CONSUME_MEDIA while it
    rang, CS_EXCHANGE_MEDIA once bridged); a leg that rang is RINGING by then."""
    b.times.hungup = report.microseconds()
    if b.values.get("Channel-Call-State") == "DOWN" and b.times.progress:
        b.set_values(Channel_Call_State="RINGING")
    elif b.values.get("Channel-State") == "CS_INIT":
        b.set_values(Channel_State="CS_CONSUME_MEDIA")
    b.set_values(Answer_State="hangup", Hangup_Cause=cause, Channel_State_Number="10")
    if b.times.bridged:
        b.set_variables({"variable_sip_hangup_phrase": "OK", "variable_last_bridge_hangup_cause": cause,
                         "variable_last_bridge_proto_specific_hangup_cause": "sip:200"})
        if by_callee:
            b.set_variable("sip_hangup_disposition", "recv_bye")


def completed(b: Channel, cause: str) -> None:
    """CHANNEL_HANGUP_COMPLETE's state and the call report (bridge: `bridge_hangup_cause`, our
    BYE; missed: our CANCEL of a callee that rang, answered 487)."""
    b.set_values(Channel_State="CS_REPORTING", Channel_State_Number="11", Channel_Call_State="HANGUP",
                 Caller_Channel_Hangup_Time=str(b.times.hungup))
    disposition = b.variable("sip_hangup_disposition") or ""
    extra: list[tuple[str, str]] = []
    cancelled: list[tuple[str, str]] = []
    if b.times.bridged:
        extra.append(("bridge_hangup_cause", cause))
        disposition = disposition or "send_bye"
    elif b.times.progress and not disposition:
        disposition = "send_cancel"
        cancelled = [("sip_invite_failure_status", "487"), ("sip_invite_failure_phrase", PHRASES["487"])]
    caller = (b.values["Caller-Caller-ID-Name"], b.values["Caller-Caller-ID-Number"])
    found = report.hangup_complete(b.times, cause, caller, disposition=disposition, extra=extra) + cancelled
    b.set_variables({f"variable_{name}": value for name, value in found})


def destroyed(b: Channel) -> None:
    b.set_values(Channel_State_Number="12")
