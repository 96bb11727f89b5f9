"""mod_event_socket's side of an outbound connection: each command the controller sends and the
reply FreeSWITCH gives, as the captures show (README items 2, 4, 10, 11, 13):

- `connect` -> the channel data block (no Content-Length), `myevents` -> `+OK Events Enabled`
  (controller/lab/subscriptions.py: which events it and `event`, `nixevent`, `noevents` select),
  `linger` -> `+OK will linger`, `linger 3` -> `+OK will linger 3 seconds`,
  `event plain ...` -> `+OK event listener enabled plain`, `getvar x` -> the value itself,
  `filter <header> <value>` -> `+OK filter added. [<header>]=[<value>]` (subscriptions.Filters);
- `api ...` -> `api/response` with a body (`uptime`, `uuid_getvar` — `-ERR No such channel!` once
  the channel hung up, even while lingering — `uuid_setvar`, `uuid_exists`, `uuid_kill`,
  `uuid_break`, `uuid_displace`);
- `sendmsg` -> `+OK` at once in async mode, the app running later; `call-command: hangup` while
  lingering sends the linger notice before the hangup events (missed_continue);
- `resume` -> `+OK` (the dialplan continues once the socket closes: CallRecord.resumed);
- `exit` -> `+OK bye` and the close; anything else -> `-ERR command not found`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from controller.esl.wire import Command
from controller.lab import render
from controller.lab.keypad import BREAK

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall

Handler = Callable[["SimulatedCall", Command], bytes]
_STARTED = time.monotonic()
NO_SUCH_CHANNEL = "-ERR No such channel!\n"


def handle(call: SimulatedCall, command: Command) -> bytes:
    handler = COMMANDS.get(command.name.lower())
    return handler(call, command) if handler else render.reply("-ERR command not found")


def _connect(call: SimulatedCall, command: Command) -> bytes:
    return call.channel.connect_reply()


def _myevents(call: SimulatedCall, command: Command) -> bytes:
    if not call.subscriptions.myevents():
        return render.reply("-ERR aready enabled.")  # (sic)
    return render.reply("+OK Events Enabled")


def _event(call: SimulatedCall, command: Command) -> bytes:
    """`event plain NAME ...` adds to what myevents subscribed (only `plain` is simulated)."""
    words = command.arg.split()
    if not words or words[0] != "plain":
        return render.reply("-ERR the simulator speaks event plain only")
    call.subscriptions.add(words[1:] or ["ALL"])
    return render.reply("+OK event listener enabled plain")


def _noevents(call: SimulatedCall, command: Command) -> bytes:
    call.subscriptions.clear()
    return render.reply("+OK no longer listening for events")


def _filter(call: SimulatedCall, command: Command) -> bytes:
    return render.reply(call.filters.command(command.arg))


def _nixevent(call: SimulatedCall, command: Command) -> bytes:
    """`nixevent NAME ...` takes names off the event list, those `myevents` put there too."""
    names = command.arg.split()
    if not names:
        return render.reply("-ERR no keywords supplied")
    call.subscriptions.nix(names)
    return render.reply("+OK events nixed")


def _linger(call: SimulatedCall, command: Command) -> bytes:
    if command.arg.strip().isdigit():
        call.linger = int(command.arg)
        return render.reply(f"+OK will linger {call.linger} seconds")
    call.linger = -1
    return render.reply("+OK will linger")


def _resume(call: SimulatedCall, command: Command) -> bytes:
    """`resume`: when the socket closes, the dialplan goes on with its next action."""
    call.record.resumed = True
    return render.reply("+OK")


def _nolinger(call: SimulatedCall, command: Command) -> bytes:
    call.linger = None
    return render.reply("+OK will not linger")


def _getvar(call: SimulatedCall, command: Command) -> bytes:
    """The value itself in Reply-Text (answer capture); empty when unset."""
    return render.reply(call.channel.lookup(command.arg.strip()) or "")


def _exit(call: SimulatedCall, command: Command) -> bytes:
    call.after_reply(call.closed.set)
    return render.reply("+OK bye")


def _sendmsg(call: SimulatedCall, command: Command) -> bytes:
    target = command.arg.strip()
    if target and target != call.uuid:
        return render.reply(f"-ERR invalid session id [{target}]")
    kind = command.headers.get("call-command", "")
    if call.hungup.is_set():
        return render.reply("+OK")  # a no-op that still answers +OK (captures README, item 11)
    if kind == "execute":
        _queue_app(call, command)
    elif kind == "hangup":
        _hangup_message(call, command.headers.get("hangup-cause", "NORMAL_CLEARING"))
    return render.reply("+OK")


def _queue_app(call: SimulatedCall, command: Command) -> None:
    """The app runs later, in order (event-lock); its argument may come as the body; `loops`
    runs it that many times (current_loop / total_loops: switch_ivr_parse_event)."""
    headers = command.headers
    arg = command.body.decode("utf-8", "replace") if command.body else headers.get("execute-app-arg", "")
    loops = int(headers["loops"]) if headers.get("loops", "").isdigit() else 1
    app_uuid = headers.get("event-uuid") or str(uuid.uuid4())
    loops = max(1, loops)
    for loop in range(1, loops + 1):
        call.apps.put((headers.get("execute-app-name", ""), arg, app_uuid, loop, loops))


def _hangup_message(call: SimulatedCall, cause: str) -> None:
    """While lingering the socket thread notices the hangup first: its notice precedes the
    hangup events (missed_continue); without linger the events come first (answer_nolinger)."""
    if call.linger is not None:
        call.after_reply(call.send_linger_notice)
    call.after_reply(lambda: call.hangup(cause))


# --- api -----------------------------------------------------------------------------------------


def _api(call: SimulatedCall, command: Command) -> bytes:
    words = command.arg.split()
    name = words[0] if words else ""
    api = APIS.get(name)
    if api is None:
        return render.api_response(f"-ERR {name} Command not found!\n")
    return render.api_response(api(call, words[1:]))


def _uptime(call: SimulatedCall, args: list[str]) -> str:
    return f"{int(time.monotonic() - _STARTED)}\n"


def _live(call: SimulatedCall, args: list[str]) -> bool:
    """Whether the api names this channel and it is still up (a hung-up channel is gone for
    the api even while linger keeps its socket)."""
    return bool(args) and args[0] == call.uuid and not call.hungup.is_set()


def _uuid_getvar(call: SimulatedCall, args: list[str]) -> str:
    """This channel's variable, or another live channel's: a leg of another call's bridge, or
    that call itself (lab/switchboard.py), as FreeSWITCH answers for any channel of the box."""
    channel = call.channel if _live(call, args) else call.scenario.switchboard.channel_of(args[0]) if args else None
    if channel is None:
        return NO_SUCH_CHANNEL
    value = channel.lookup(args[1]) if len(args) > 1 else None
    return "_undef_" if value is None else value


def _uuid_setvar(call: SimulatedCall, args: list[str]) -> str:
    if not _live(call, args) or len(args) < 2:
        return NO_SUCH_CHANNEL
    if len(args) > 2:
        call.channel.set_variable(args[1], " ".join(args[2:]))
    else:
        call.channel.unset_variable(args[1])
    return "+OK\n"


def _uuid_exists(call: SimulatedCall, args: list[str]) -> str:
    return "true" if _live(call, args) else "false"


def _uuid_kill(call: SimulatedCall, args: list[str]) -> str:
    if not _live(call, args):
        return NO_SUCH_CHANNEL
    cause = args[1] if len(args) > 1 else "NORMAL_CLEARING"
    call.after_reply(lambda: call.hangup(cause))
    return "+OK\n"


def _uuid_break(call: SimulatedCall, args: list[str]) -> str:
    if not _live(call, args):
        return NO_SUCH_CHANNEL
    call.keypad.interrupt(BREAK)
    return "+OK\n"


def _uuid_displace(call: SimulatedCall, args: list[str]) -> str:
    """`uuid_displace <uuid> start|stop <file> [limit]`: the file takes the place of what the
    channel plays (a media bug: it outlasts the application, mod_callcenter's music included) until
    stopped; a stop of one not playing is refused. (FreeSWITCH's argument splitter keeps a quoted
    run, spaces and all, as one argument and drops the quotes.)"""
    words = [w.replace("'", "") for w in re.findall(r"(?:'[^']*'|[^ ])+", " ".join(args))]
    if len(words) < 3 or words[1] not in ("start", "stop"):
        return "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"
    if not _live(call, words):
        return "-ERR Cannot locate session!\n"
    action, file = words[1], words[2]
    playing = [f for a, f in call.record.displaced if a == "start"].count(file) > [
        f for a, f in call.record.displaced if a == "stop"].count(file)
    if action == "stop" and not playing:
        return "-ERR Cannot stop displace session!\n"
    call.record.displaced.append((action, file))
    return "+OK Success\n"


def _callcenter_config(call: SimulatedCall, args: list[str]) -> str:
    return call.scenario.callcenter.api(args)


def _valet_info(call: SimulatedCall, args: list[str]) -> str:
    return call.scenario.lots.info(args[0] if args else "")


def _conference(call: SimulatedCall, args: list[str]) -> str:
    return call.scenario.rooms.api(args)


def _show(call: SimulatedCall, args: list[str]) -> str:
    """`show channels as json`: the legs other calls can reach (lab/switchboard.py)."""
    if args[:3] != ["channels", "as", "json"]:
        return "-ERR the simulator shows channels as json only\n"
    return call.scenario.switchboard.channels_json()


APIS: dict[str, Callable[[SimulatedCall, list[str]], str]] = {
    "uptime": _uptime, "uuid_getvar": _uuid_getvar, "uuid_setvar": _uuid_setvar,
    "uuid_exists": _uuid_exists, "uuid_kill": _uuid_kill, "uuid_break": _uuid_break, "uuid_displace": _uuid_displace,
    "valet_info": _valet_info, "conference": _conference, "show": _show,
    "callcenter_config": _callcenter_config,
}

COMMANDS: dict[str, Handler] = {
    "connect": _connect, "myevents": _myevents, "event": _event, "noevents": _noevents,
    "nixevent": _nixevent, "filter": _filter, "linger": _linger, "nolinger": _nolinger, "getvar": _getvar,
    "api": _api, "sendmsg": _sendmsg, "exit": _exit, "resume": _resume,
}
