"""What `group_pickup`, `intercept` and `eavesdrop` (and their feature codes) share: who is
calling, who may act (Kazoo's `approved_*`), which devices a target names, and which of
FreeSWITCH's channels ring or talk on them.

The channels are asked of FreeSWITCH itself, on the call's own socket: `show channels as json`
(mod_commands), as Kazoo's ecallmgr answers `query_user_channels` from what its nodes hold. A leg
the controller dialled to a registered device carries FreeSWITCH's `presence_id`
`<username>@<realm>` (the user endpoint sets it, mod_dptools' user_outgoing_channel; the
directory's dial-string sets the same), `direction` outbound, its `callstate` (RINGING, EARLY,
ACTIVE, ...) and `call_uuid`, the uuid of the leg that dialled it: the caller, whom a pickup
takes. Only what FreeSWITCH answered is used, and only values that are UUIDs in form ever
become an application argument.

Permissions, as Kazoo's cf_util:check_value_of_fields: the first of `approved_device_id`,
`approved_user_id`, `approved_group_id` present decides (the calling device is that device, one
of that user's, or a member of that group, directly or through its owner); none present gives
the module's default.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gevent

from controller.call import Call
from controller.callflows.matcher import ACCOUNT_VARIABLE
from controller.errors import CommandError
from controller.esl.safety import multiset
from controller.modules import bridging

log = logging.getLogger(__name__)

Doc = Mapping[str, Any]
# FreeSWITCH's channel uuids (switch_uuid_format): nothing else reaches an application.
UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
# callstate values of a leg that has not been answered (switch_channel_callstate2str).
UNANSWERED = frozenset({"DOWN", "DIALING", "RINGING", "EARLY", "RING_WAIT"})
TALKING = frozenset({"ACTIVE", "HELD", "UNHELD"})
BRIDGE_WAIT = 2.0  # seconds for CHANNEL_BRIDGE once intercept returned
CALL_LENGTH = 86_400.0  # how long a picked-up or overheard call may last while the node waits
APPROVALS = ("approved_device_id", "approved_user_id", "approved_group_id")


class Context:
    """The account's users, devices and groups (one read: Services.group_context), the
    calling device, and the lookups the modules make on them."""

    def __init__(self, call: Call) -> None:
        account, self.users, self.devices, self.groups = call.services.group_context(call.account_id)
        self.realm = str(account.get("realm") or "")
        username = bridging.calling_username(call)
        self.caller: Doc | None = next(
            (d for d in self.devices.values() if bridging.is_device_of(username, d)), None)

    @property
    def caller_id(self) -> str:
        return str((self.caller or {}).get("id") or "")

    @property
    def caller_owner(self) -> str:
        return str((self.caller or {}).get("owner_id") or "")

    def owned_by(self, user_id: str) -> list[Doc]:
        return bridging.owned_by(self.devices.values(), user_id) if user_id else []

    def group_devices(self, group_id: str) -> list[Doc]:
        """The devices of a group's members: its devices, and the devices of its users (Kazoo's
        cf_util:find_group_endpoints)."""
        members = (self.groups.get(group_id) or {}).get("endpoints")
        found: dict[str, Doc] = {}
        for member_id, spec in sorted((members or {}).items() if isinstance(members, dict) else ()):
            kind = (spec or {}).get("type") if isinstance(spec, dict) else None
            if kind == "device" and bridging.is_enabled(self.devices.get(member_id)):
                found[member_id] = self.devices[member_id]
            elif kind == "user":
                found.update((str(d.get("id")), d) for d in self.owned_by(member_id))
        return list(found.values())

    def targets(self, data: Mapping[str, Any]) -> list[Doc]:
        """The devices `device_id`, else `user_id`, else `group_id` names (the most restrictive
        first, as Kazoo)."""
        if data.get("device_id"):
            device = self.devices.get(str(data["device_id"]))
            return [device] if bridging.is_enabled(device) else []
        if data.get("user_id"):
            return self.owned_by(str(data["user_id"]))
        if data.get("group_id"):
            return self.group_devices(str(data["group_id"]))
        return []

    def is_approved(self, data: Mapping[str, Any], default: bool) -> bool:
        """Whether the caller passes the first `approved_*` field present; `default` when none
        is (Kazoo's check_value_of_fields)."""
        for key in APPROVALS:
            value = data.get(key)
            if not value:
                continue
            allowed = {str(d.get("id")) for d in self.approved_devices(key, str(value))}
            return bool(self.caller_id) and self.caller_id in allowed
        return default

    def approved_devices(self, key: str, value: str) -> list[Doc]:
        if key == "approved_device_id":
            return [self.devices[value]] if value in self.devices else []
        if key == "approved_user_id":
            return self.owned_by(value)
        return self.group_devices(value)

    def usernames(self, devices: Iterable[Doc]) -> set[str]:
        """The SIP usernames of the registered devices among `devices`."""
        return {presence.split("@", 1)[0] for presence in self.presences(devices)}

    def presences(self, devices: Iterable[Doc]) -> set[str]:
        """The presence_id FreeSWITCH gives a leg dialled to each registered device."""
        found = set()
        for device in devices:
            sip = device.get("sip") or {}
            username, realm = str(sip.get("username") or ""), str(sip.get("realm") or self.realm)
            if sip.get("invite_format", "username") != "route" and bridging.is_dialable(username):
                found.add(f"{username}@{realm}")
        return found


def channels(call: Call) -> list[dict[str, str]]:
    """FreeSWITCH's channels (`show channels as json`); none when its answer is not that."""
    answer = call.channel.api("show channels as json")
    try:
        rows = json.loads(answer).get("rows") or []
    except (ValueError, AttributeError):
        log.info("call %s: FreeSWITCH listed no channels (%.80r)", call.uuid, answer)
        return []
    return [row for row in rows if isinstance(row, dict)]


# FreeSWITCH's core database, which `show channels` reads, trails the channels themselves by up
# to a few hundred milliseconds on a busy machine (a leg answered a moment ago can still read as
# ringing): a lookup that finds nothing looks again this many times, this far apart.
LOOK_AGAIN = 3
LOOK_PAUSE = 0.25


def found_in_channels(call: Call, find: Callable[[list[dict[str, str]]], list[str]]) -> list[str]:
    """`find` over FreeSWITCH's channels, looked at again briefly while it finds nothing."""
    for attempt in range(LOOK_AGAIN + 1):
        found = find(channels(call))
        if found or attempt == LOOK_AGAIN or call.channel.is_gone:
            return found
        gevent.sleep(LOOK_PAUSE)
    return []


Owned = Callable[[str], bool]


def owned(call: Call) -> Owned:
    """Whether a channel is one of this account's calls: its `controller_account_id` (set by the
    controller before it rings anyone, by FreeSWITCH's directory on a phone's own call) is this
    call's account. A presence or a SIP username names a device, not an account: another
    account's device may share it (the same username, a realm its documents name), and its calls
    are never taken, heard or picked up from here."""
    answers: dict[str, bool] = {}

    def check(uuid: str) -> bool:
        if uuid not in answers:
            try:
                value = call.channel.api(f"uuid_getvar {uuid} {ACCOUNT_VARIABLE}").strip()
            except CommandError:  # gone since it was listed
                value = ""
            answers[uuid] = bool(call.account_id) and value == call.account_id
        return answers[uuid]

    return check


def ringing_callers(rows: Iterable[Mapping[str, str]], presences: set[str], me: str, own: Owned) -> list[str]:
    """The callers (`call_uuid`) whose legs ring one of the devices, unanswered, oldest first."""
    return callers(rows, presences, me, UNANSWERED, own)


def callers(
    rows: Iterable[Mapping[str, str]], presences: set[str], me: str, states: frozenset[str], own: Owned
) -> list[str]:
    """The account's callers (`call_uuid`) of the legs dialled to the devices in one of `states`."""
    found = [row for row in rows if row.get("direction") == "outbound" and row.get("presence_id") in presences
             and row.get("callstate") in states]
    found.sort(key=lambda row: str(row.get("created_epoch", "")))
    return [uuid for uuid in (str(row.get("call_uuid") or "") for row in found)
            if UUID.fullmatch(uuid) and uuid != me and own(uuid)]


def device_legs(
    rows: Iterable[Mapping[str, str]], presences: set[str], me: str, states: frozenset[str], own: Owned
) -> list[str]:
    """The devices' own legs (their uuids) in one of `states`, oldest first, of the account's calls
    (the caller that rang each, its `call_uuid`, is the account's)."""
    found = [row for row in rows if row.get("presence_id") in presences and row.get("callstate") in states]
    found.sort(key=lambda row: str(row.get("created_epoch", "")))
    return [str(row.get("uuid")) for row in found
            if UUID.fullmatch(str(row.get("uuid") or "")) and row.get("uuid") != me
            and UUID.fullmatch(str(row.get("call_uuid") or "")) and own(str(row.get("call_uuid")))]


def placed_legs(
    call: Call, rows: Iterable[Mapping[str, str]], usernames: set[str], states: frozenset[str], own: Owned
) -> list[str]:
    """The legs the devices' phones placed, in one of `states`: FreeSWITCH names such a leg
    `sofia/<profile>/<from user>@<host>` and gives it no presence_id; the From user is the
    phone's word, so each candidate's `sip_auth_username` (what the phone authenticated as) is
    asked of FreeSWITCH too (`uuid_getvar`), and its account (`own`)."""
    found = []
    for row in rows:
        uuid, name = str(row.get("uuid") or ""), str(row.get("name") or "")
        user = name.rsplit("/", 1)[-1].split("@", 1)[0] if name.startswith("sofia/") else ""
        if row.get("direction") != "inbound" or row.get("callstate") not in states or user not in usernames:
            continue
        if not UUID.fullmatch(uuid) or uuid == call.uuid:
            continue
        if call.channel.api(f"uuid_getvar {uuid} sip_auth_username").strip() == user and own(uuid):
            found.append(uuid)
    return found


def intercept(call: Call, uuid: str, *, unanswered_only: bool) -> bool:
    """FreeSWITCH's `intercept <uuid>`: this call is bridged to `uuid` and the leg that was
    ringing for it is hung up (PICKED_OFF). Once bridged, waits for the call to end. False
    when FreeSWITCH did not bridge (the call was answered or gone meanwhile)."""
    if not UUID.fullmatch(uuid):
        raise ValueError("not a channel uuid")
    flags = {"intercept_unbridged_only": str(unanswered_only).lower(),
             "intercept_unanswered_only": str(unanswered_only).lower(), "hangup_after_bridge": "true"}
    call.channel.execute_all([multiset(flags), ("intercept", uuid)])
    deadline = time.monotonic() + BRIDGE_WAIT
    while not call.state.bridged and time.monotonic() < deadline:
        if call.channel.wait_gone(0.02):
            return call.state.bridged
    if not call.state.bridged:
        log.info("call %s: intercept of %s did not bridge", call.uuid, uuid)
        return False
    call.channel.wait_gone(CALL_LENGTH)
    return True


def say_no(call: Call, prompt: str) -> None:
    """Answer and play one of Kazoo's prompts (a file of FreeSWITCH's sound folder; a
    missing one is skipped)."""
    call.channel.execute_all([("answer", ""), ("playback", prompt)])
