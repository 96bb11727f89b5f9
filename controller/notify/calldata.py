"""The `call` section of a notification job, taken from a Call (see notify/job.schema.json)."""

from __future__ import annotations

from typing import Any

from controller.call import Call


def instance_of(call: Call) -> str:
    """Which FreeSWITCH the call ran on: its Core-UUID (part of the idempotency key)."""
    return call.header("Core-UUID") or call.header("FreeSWITCH-Switchname") or "freeswitch"


def call_data(call: Call) -> dict[str, Any]:
    state = call.state
    return {
        "call_id": call.uuid,
        "caller_id_name": call.caller_id_name,
        "caller_id_number": call.caller_id_number,
        "callee_id_name": call.header("Caller-Callee-ID-Name"),
        "callee_id_number": call.header("Caller-Callee-ID-Number"),
        "from_user": call.variable("sip_from_user") or call.caller_id_number,
        "from_realm": call.variable("sip_from_host"),
        "to_user": call.variable("sip_to_user") or call.destination,
        "to_realm": call.variable("sip_to_host"),
        "dialed_number": call.destination,
        "callflow_id": call.callflow_id,
        "started_at": call.started_at,
        "answered_at": state.answered_at,
        "ended_at": state.ended_at,
        "hangup_cause": state.hangup_cause,
        "disposition": state.disposition or state.bridge_failure,
        "bridged": state.bridged,
        "message_left": state.voicemail_left,
        "is_internal": call.is_internal,
    }
