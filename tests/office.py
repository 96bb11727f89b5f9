"""A small test account loaded through the real bundle loader, and helpers to place calls."""

from typing import Any

import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import Scenario
from controller.lab.simulator import CallRecord, run_call
from controller.notify.queue import JobQueue
from controller.store import revisions
from controller.store.bundle import load_bundle
from controller.store.callflows import stage_write

ACCOUNT = "acct-test"


def bundle(callflows: list[dict[str, Any]], **documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The test account with `callflows`; `documents`: more sections (menus, temporal_rules, ...)."""
    return {
        "account": {"id": ACCOUNT, "name": "Test Office", "realm": "office.test", "timezone": "UTC",
                    "caller_id": {"external": {"name": "Test Office", "number": "+15550001000"},
                                  "emergency": {"number": "+15550001911"}}},
        "users": [
            {"id": "u-ann", "first_name": "Ann", "last_name": "Lee", "email": "ann@office.test",
             "mobile_number": "+15550100101"},
            {"id": "u-bob", "first_name": "Bob", "last_name": "Roy", "email": "bob@office.test"},
            {"id": "u-nobody", "first_name": "No", "last_name": "Phone"},
            {"id": "u-cat", "first_name": "Cat", "last_name": "Away",
             "call_forward": {"enabled": True, "number": "+15557770000", "substitute": False}},
        ],
        "devices": [
            {"id": "d-ann", "owner_id": "u-ann", "sip": {"username": "1001"}},
            {"id": "d-ann2", "owner_id": "u-ann",
             "sip": {"invite_format": "route", "route": "sip:1009@192.0.2.10:5060"}},
            {"id": "d-ann-off", "owner_id": "u-ann", "enabled": False, "sip": {"username": "1099"}},
            {"id": "d-bob", "owner_id": "u-bob", "sip": {"username": "1002"}},
            {"id": "d-cat", "owner_id": "u-cat", "sip": {"username": "1003"}},
        ],
        "groups": [{"id": "g-sales", "name": "Sales", "endpoints": {"u-ann": {"type": "user"},
                                                                  "d-bob": {"type": "device"}}}],
        "vmboxes": [
            {"id": "vm-ann", "owner_id": "u-ann", "mailbox": "1001", "pin": "1234"},
            {"id": "vm-bob", "owner_id": "u-bob", "mailbox": "1002", "pin": "5678", "name": "Bob's voicemail",
             "min_message_length": 0, "max_message_count": 2, "notify_email_addresses": ["desk@office.test"],
             "media": {"unavailable": "/media/bob-away.wav"}, "skip_instructions": True},
        ],
        "callflows": callflows,
        **documents,
    }


def flow(number: str, node: dict[str, Any], cid: str | None = None) -> dict[str, Any]:
    return {"id": cid or "cf-" + number.replace("+", "plus"), "numbers": [number], "flow": node}


def node(module: str, data: dict[str, Any] | None = None, **children: dict[str, Any]) -> dict[str, Any]:
    return {"module": module, "data": data or {}, "children": children}


def load(rds: redis.Redis, *callflows: dict[str, Any], **documents: list[dict[str, Any]]) -> None:
    load_bundle(rds, bundle(list(callflows), **documents), "test bundle")


def load_unchecked(rds: redis.Redis, *callflows: dict[str, Any]) -> None:
    """The test account, then callflows written as data stored before validation (or by hand)
    would be: modules the store refuses (a test's own, a typo) reach the executor."""
    load(rds)
    pipe = rds.pipeline()
    for doc in callflows:
        stage_write(pipe, ACCOUNT, doc, None)
    revisions.bump(pipe, ACCOUNT)
    pipe.execute()


def call(server: OutboundServer, number: str, **scenario: Any) -> CallRecord:
    scenario.setdefault("account_id", ACCOUNT)
    return run_call(server.address, Scenario(destination=number, **scenario), timeout=15)


def queued_jobs(rds: redis.Redis) -> list[dict[str, Any]]:
    """Every job waiting in the queue, taken off it (a worker named `test` claims and completes
    each one)."""
    queue = JobQueue(rds)
    found = []
    while (claimed := queue.claim("test", timeout=0.1)) is not None:
        found.append(claimed.doc)
        queue.complete("test", claimed)
    return found
