"""Channel variables that make FreeSWITCH run something: no callflow ever sets one.

FreeSWITCH reads some channel variables as commands. `api_hangup_hook=system rm ...` runs an API
command (`system`: a shell command) when the call ends, `execute_on_answer=bgsystem ...` a
dialplan application when it is answered, `record_post_process_exec_api` one after a recording;
`sound_prefix` moves the folder that every relative media path is read from (so `play` of a
relative path would reach another account's voicemail). Making a value inert (safety.py) stops
`${...}` expansion, not these: the variable's *name* decides. So:

- a tenant's variable names (set_variables' `custom_channel_vars`, also from a pivot) are refused
  when saved (the schema's format `settable channel variable`) and dropped when run;
- `Session` refuses any `set`, `export` or `multiset` that assigns one, whoever built it.

Kazoo never lets a callflow name FreeSWITCH variables at all (its custom channel variables become
`ecallmgr_<name>`); the names below are those FreeSWITCH 1.10-1.11's core and modules act on.
"""

from __future__ import annotations

# Families: every `execute_on_<event>` / `api_on_<event>` (numbered variants included) and the
# bridge's pre-execute applications.
PREFIXES = ("execute_on_", "api_on_", "bridge_pre_execute_")
NAMES = frozenset({
    "api_hangup_hook", "api_reporting_hook", "api_after_bridge", "api_hook", "session_in_hangup_hook",
    "exec_after_bridge_app", "exec_after_bridge_arg", "record_post_process_exec_app",
    "record_post_process_exec_api", "sip_execute_on_image", "sip_api_on_image", "conference_loop_exec_app",
    "transfer_after_bridge", "park_after_bridge", "sound_prefix", "sound_prefix_enforced",
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
