"""The shared parts a call may use, built once in the process entry point and passed down
(no module-level clients). Modules reach them through `call.services`."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis

from controller.callflows.matcher import Matcher
from controller.callstate import CallStates
from controller.config import Settings
from controller.notify.queue import JobQueue
from controller.store.callflows import Callflows
from controller.store.documents import Accounts, Documents, device_by_sip_user, group_context, ringing_context
from controller.store.voicemail import VoicemailMessages


@dataclasses.dataclass(frozen=True)
class Services:
    settings: Settings
    rds: redis.Redis
    accounts: Accounts
    users: Documents
    devices: Documents
    vmboxes: Documents
    messages: VoicemailMessages
    callflows: Callflows
    matcher: Matcher
    queue: JobQueue
    calls: CallStates

    def ringing_context(
        self, aid: str, user_id: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]:
        """The account, the user and the account's devices, in one Redis round trip."""
        return ringing_context(self.rds, aid, user_id)

    def calling_device(self, aid: str, username: str) -> dict[str, Any] | None:
        """The account's device registered with this SIP username."""
        return device_by_sip_user(self.rds, aid, username)

    def group_context(
        self, aid: str
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """The account and its users, devices and groups by id, in one Redis round trip (what a
        ring group needs)."""
        return group_context(self.rds, aid)

    @classmethod
    def build(cls, settings: Settings, rds: redis.Redis) -> Services:
        return cls(
            settings=settings,
            rds=rds,
            accounts=Accounts(rds),
            users=Documents(rds, "users"),
            devices=Documents(rds, "devices"),
            vmboxes=Documents(rds, "vmboxes"),
            messages=VoicemailMessages(rds),
            callflows=Callflows(rds),
            matcher=Matcher(rds),
            queue=JobQueue(rds),
            calls=CallStates(rds),
        )
