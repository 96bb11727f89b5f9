"""record_call — start or stop recording the call (Kazoo's cf_record_call), with FreeSWITCH's
`record_session` / `stop_record_session`.

Data: `action` (`start` | `stop`), `format` (`mp3` | `wav`), `time_limit` (seconds, 3600),
`media_name` (`{call_id}` is replaced; default `call_recording_{call_id}.<format>`), `url`
(an http(s) base URL: the file is written through mod_http_cache, which uploads it with PUT when
the recording closes; absent: kept in the account's own folder, `<CONTROLLER_RECORDINGS_DIR>/<account>/`,
which record_session makes when it is missing (switch_ivr_record_session_event, unlike `record`);
one account's recordings never share a folder with another's, where a media_name naming another
call's file would overwrite it), `record_on_answer` /
`record_on_bridge` (FreeSWITCH's RECORD_ANSWER_REQ / RECORD_BRIDGE_REQ: the media bug waits for
the answer / the bridge), `record_min_sec` (shorter recordings are discarded: RECORD_MIN_SEC),
`record_sample_rate`.

The path of the recording in progress is kept on the call, so `stop` stops that one (or every
recording of the channel when none was started by this flow). Recording ends by itself with the
call.
"""

from __future__ import annotations

from typing import Any

from controller.call import Call
from controller.esl.safety import inert, multiset
from controller.flow import DEFAULT_CHILD, Next

RECORDING = "recording"


def path(data: dict[str, Any], call: Call) -> str:
    extension = "wav" if data.get("format") == "wav" else "mp3"
    name = str(data.get("media_name") or f"call_recording_{{call_id}}.{extension}")
    name = name.replace("{call_id}", call.uuid)
    if "." not in name:
        name += "." + extension
    name = inert(name).replace("/", "_").replace(" ", "_")
    url = str(data.get("url") or "")
    if url:
        return "http_cache://" + inert(url).rstrip("/") + "/" + name
    return f"{folder(call)}/{name}"


def folder(call: Call) -> str:
    """The account's recordings folder."""
    return f"{call.services.settings.recordings_dir.rstrip('/')}/{call.account_id}"


def start(data: dict[str, Any], call: Call) -> None:
    target = path(data, call)
    variables = {
        "RECORD_ANSWER_REQ": "true" if data.get("record_on_answer") is True else "false",
        "RECORD_BRIDGE_REQ": "true" if data.get("record_on_bridge") is True else "false",
        "RECORD_MIN_SEC": str(int(data.get("record_min_sec", 0))),
        "record_sample_rate": str(int(data.get("record_sample_rate", 8000))),
    }
    limit = int(data.get("time_limit", 3600))
    call.channel.execute_all([multiset(variables), ("record_session", f"{target} +{limit}")])
    call.kvs[RECORDING] = target


def stop(call: Call) -> None:
    call.channel.execute("stop_record_session", str(call.kvs.pop(RECORDING, "all")))


def handle(data: dict[str, Any], call: Call) -> Next:
    if data.get("action") == "stop":
        stop(call)
    else:
        start(data, call)
    return DEFAULT_CHILD
