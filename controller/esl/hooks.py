"""Channel variables that make FreeSWITCH run something: no callflow ever sets one.

FreeSWITCH reads some channel variables as commands. `api_hangup_hook=system rm ...` runs an API
command (`system`: a shell command) when the call ends, `execute_on_answer=bgsystem ...` a
dialplan application when it is answered, `record_post_process_exec_api` one after a recording;
`sound_prefix` moves the folder that every relative media path is read from (so `play` of a
relative path would reach another account's voicemail). Making a value inert (safety.py) stops
`${...}` expansion, not these: the variable's *name* decides. So:

- a callflow never names a channel variable: set_variables sets its `custom_channel_vars` as
  `ecallmgr_<name>` (as Kazoo's ecallmgr does) and its `custom_application_vars` as `cav_<name>`;
- `Session` refuses any `set`, `export`, `multiset` or `uuid_setvar` assigning one of the names
  below, whoever built it: a second line against a module that would pass a name through.

The list holds the names FreeSWITCH 1.10-1.11's core and modules act on that are known to run
something or to move where files are read; it cannot be complete (`group_confirm_file` with
`group_confirm_key=exec`, the campon and valet fallbacks through the inline dialplan, ...), which
is why no name a tenant writes ever reaches the channel as written.
"""

from __future__ import annotations

# Families: every `execute_on_<event>` / `api_on_<event>` (numbered variants included), the
# bridge's pre-execute applications, and camp-on's fallback (through the inline dialplan).
PREFIXES = ("execute_on_", "api_on_", "bridge_pre_execute_", "campon")
NAMES = frozenset({
    "api_hangup_hook", "api_reporting_hook", "api_after_bridge", "api_hook", "session_in_hangup_hook",
    "exec_after_bridge_app", "exec_after_bridge_arg", "record_post_process_exec_app",
    "record_post_process_exec_api", "sip_execute_on_image", "sip_api_on_image", "conference_loop_exec_app",
    "transfer_after_bridge", "park_after_bridge", "transfer_on_fail", "force_transfer_dialplan",
    "force_transfer_context", "sound_prefix", "sound_prefix_enforced",
    # `group_confirm_key=exec` runs `group_confirm_file` as an application on every answering leg
    "group_confirm_key", "group_confirm_file",
    "valet_parking_orbit_exten", "valet_parking_orbit_dialplan", "fifo_orbit_exten", "fifo_orbit_dialplan",
    "conference_auto_outcall_prefix", "sip_redirect_dialplan", "sip_redirect_context",
})
# Applications whose argument assigns channel variables: `name=value`, or for multiset
# `^^<d>name=value<d>name=value` (else space-separated); and the API commands that do.
ASSIGNING = frozenset({"set", "export", "multiset", "push", "unshift", "uuid_setvar", "uuid_setvar_multi"})


def is_hook(name: str) -> bool:
    """Whether FreeSWITCH acts on a variable of this name (any case, `nolocal:` or not)."""
    bare = name.rsplit(":", 1)[-1].strip().lower()
    return bare in NAMES or bare.startswith(PREFIXES)


def assigned(app: str, arg: str) -> list[str]:
    """The variable names an application's argument assigns (none for other applications)."""
    if app not in ASSIGNING:
        return []
    if app == "uuid_setvar":  # uuid_setvar <uuid> <name> [<value>]
        words = arg.split()
        return words[1:2]
    if app == "uuid_setvar_multi":  # uuid_setvar_multi <uuid> <name>=<value>;<name>=<value>
        _, _, pairs = arg.strip().partition(" ")
        return [part.split("=", 1)[0] for part in pairs.split(";") if "=" in part]
    if app == "multiset":
        parts = arg[3:].split(arg[2]) if arg.startswith("^^") and len(arg) > 2 else arg.split(" ")
        return [part.split("=", 1)[0] for part in parts if "=" in part]
    return [arg.split("=", 1)[0]] if "=" in arg else []


def refusal(app: str, arg: str) -> str | None:
    """Why this application may not be sent: it assigns a variable FreeSWITCH acts on."""
    for name in assigned(app, arg):
        if is_hook(name):
            return f"{name.strip()} makes FreeSWITCH run commands or read other files"
    return None
