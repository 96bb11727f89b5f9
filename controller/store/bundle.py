"""Account bundles: one JSON file holding an account with its users, devices, voicemail boxes,
groups, menus, temporal rules and rule sets, media and callflows in Kazoo's document shapes (format in
README.md, schema `store/schemas/bundle.json`).

Loading is all or nothing: the whole bundle is checked first (schemas, Kazoo's callflow rules,
numbers unique across its callflows, ids unique, references between its documents), and only a
bundle with no error is written, in one Redis transaction that replaces the account's previous
content. Re-loading the same file is therefore harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
from redis.client import Pipeline

from controller.callflows import schema
from controller.callflows.validate import Report, check_callflow
from controller.errors import DocumentError
from controller.store import codec, keys, revisions
from controller.store.callflows import (
    Callflows,
    describe,
    foreign_numbers,
    number_watches,
    numbers_of,
    stage_write,
)
from controller.store.documents import SCHEMA_OF, Accounts, Documents, sip_username, stage_unlink
from controller.store.logins import USER_SECRETS

KINDS = ("users", "devices", "vmboxes", "groups", "menus", "temporal_rules", "temporal_rules_sets", "media",
         "callflows", "queues", "conferences", "lists", "faxboxes", "directories")
# Callflow modules whose data.id names a document of the bundle.
SINGULAR = {"vmboxes": "vmbox", "directories": "directory", "faxboxes": "faxbox"}  # the others drop their "s"
REFERENCES = {"user": "users", "device": "devices", "voicemail": "vmboxes", "callflow": "callflows", "menu": "menus",
              "acdc_member": "queues", "conference": "conferences", "directory": "directories",
              "conference_feature": "conferences", "receive_fax": "faxboxes", "hotdesk": "users"}
# Callflow modules naming documents of the bundle in other fields of their data.
FIELD_REFERENCES = {"receive_fax": (("faxbox_id", "faxboxes"), ("owner_id", "users"))}


def read_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(str(path), "$", f"cannot read: {exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise DocumentError(str(path), "$", f"malformed JSON at {where}: {exc.msg}") from exc
    except RecursionError:
        raise DocumentError(str(path), "$", "nested too deeply to read") from None
    problem = codec.plain_problem(doc)
    if problem is not None:
        where, _, why = problem.partition(": ")
        raise DocumentError(str(path), where, why)
    return doc


def is_bundle(doc: Any) -> bool:
    return isinstance(doc, dict) and "account" in doc and "flow" not in doc


def check_bundle(doc: Any, source: str) -> Report:
    """Every problem of a bundle, each with its JSON path."""
    report = Report(errors=validate_bundle_schema(doc, source), warnings=[])
    if not isinstance(doc, dict):
        return report
    for index, callflow in enumerate(doc.get("callflows") or []):
        sub = check_callflow(callflow, source, prefix=f"$.callflows[{index}]")
        report.errors.extend(sub.errors)
        report.warnings.extend(sub.warnings)
    report.errors.extend(_consistency_errors(doc, source))
    _dedupe(report)
    return report


def validate_bundle_schema(doc: Any, source: str) -> list[DocumentError]:
    return [DocumentError(source, e.json_path, e.message) for e in schema.errors("bundle.json", doc)]


def _dedupe(report: Report) -> None:
    seen: set[tuple[str, str]] = set()
    unique = []
    for error in sorted(report.errors, key=lambda e: e.path):
        if (error.path, error.reason) not in seen:
            seen.add((error.path, error.reason))
            unique.append(error)
    report.errors[:] = unique


def _items(doc: dict[str, Any], kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
    items = doc.get(kind)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item


def _consistency_errors(doc: dict[str, Any], source: str) -> Iterator[DocumentError]:
    ids: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for kind in KINDS:
        for index, item in _items(doc, kind):
            if item.get("id") in ids[kind]:
                yield DocumentError(source, f"$.{kind}[{index}].id", f"duplicate id {item['id']!r}")
            ids[kind].add(str(item.get("id")))
    yield from _number_errors(doc, source)
    yield from _sip_user_errors(doc, source)
    yield from _secret_errors(doc, source)
    yield from _reference_errors(doc, source, ids)


def _number_errors(doc: dict[str, Any], source: str) -> Iterator[DocumentError]:
    holders: dict[str, dict[str, Any]] = {}
    for index, callflow in _items(doc, "callflows"):
        for position, number in enumerate(numbers_of(callflow)):
            other = holders.setdefault(number, callflow)
            if other is not callflow:
                path = f"$.callflows[{index}].numbers[{position}]"
                yield DocumentError(source, path, f"number {number!r} is already used by {describe(other)}")


def _sip_user_errors(doc: dict[str, Any], source: str) -> Iterator[DocumentError]:
    seen: set[str] = set()
    for index, device in _items(doc, "devices"):
        username = (device.get("sip") or {}).get("username")
        if username in seen:
            path = f"$.devices[{index}].sip.username"
            yield DocumentError(source, path, f"SIP username {username!r} is used by another device")
        if username:
            seen.add(username)


def _secret_errors(doc: dict[str, Any], source: str) -> Iterator[DocumentError]:
    """A user document never holds a password (the API keeps derived login keys only: logins.py)."""
    for index, user in _items(doc, "users"):
        for field in USER_SECRETS:
            if field in user:
                yield DocumentError(source, f"$.users[{index}].{field}",
                                    "a bundle does not carry passwords: set them through the API's users routes")


def _reference_errors(
    doc: dict[str, Any], source: str, ids: dict[str, set[str]]
) -> Iterator[DocumentError]:
    for kind in ("devices", "vmboxes", "faxboxes"):
        for index, item in _items(doc, kind):
            owner = item.get("owner_id")
            if owner and owner not in ids["users"]:
                yield DocumentError(source, f"$.{kind}[{index}].owner_id", f"no user {owner!r} in the bundle")
    for index, rule_set in _items(doc, "temporal_rules_sets"):
        for position, rule in enumerate(rule_set.get("temporal_rules") or []):
            if rule not in ids["temporal_rules"]:
                path = f"$.temporal_rules_sets[{index}].temporal_rules[{position}]"
                yield DocumentError(source, path, f"no temporal_rule {rule!r} in the bundle")
    for index, callflow in _items(doc, "callflows"):
        yield from _flow_references(callflow.get("flow"), f"$.callflows[{index}].flow", source, ids)


def _flow_references(
    node: Any, path: str, source: str, ids: dict[str, set[str]]
) -> Iterator[DocumentError]:
    if not isinstance(node, dict):
        return
    module, found = str(node.get("module")), node.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    named = [("id", REFERENCES[module])] if module in REFERENCES else []
    for field, kind in [*named, *FIELD_REFERENCES.get(module, ())]:
        target = data.get(field)
        if isinstance(target, str) and target not in ids[kind]:
            reason = f"no {SINGULAR.get(kind, kind[:-1])} {target!r} in the bundle"
            yield DocumentError(source, f"{path}.data.{field}", reason)
    if module == "temporal_route":
        yield from _temporal_references(data, f"{path}.data", source, ids)
    children = node.get("children")
    for key, child in (children.items() if isinstance(children, dict) else []):
        yield from _flow_references(child, f"{path}.children['{key}']", source, ids)


def _temporal_references(
    data: dict[str, Any], path: str, source: str, ids: dict[str, set[str]]
) -> Iterator[DocumentError]:
    """A temporal_route's `rules` ids (rules or rule sets, as Kazoo expands them) and `rule_set`."""
    rules = data.get("rules")
    for position, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, str) and rule not in ids["temporal_rules"] | ids["temporal_rules_sets"]:
            yield DocumentError(source, f"{path}.rules[{position}]", f"no temporal_rule {rule!r} in the bundle")
    rule_set = data.get("rule_set")
    if isinstance(rule_set, str) and rule_set not in ids["temporal_rules_sets"]:
        yield DocumentError(source, f"{path}.rule_set", f"no temporal_rules_set {rule_set!r} in the bundle")


def load_bundle(rds: redis.Redis, doc: Any, source: str) -> dict[str, int]:
    """Check then write a bundle, replacing its account's content; returns counts per kind.
    Raises the first DocumentError when the bundle has any error (nothing is written)."""
    report = check_bundle(doc, source)
    if report.errors:
        raise report.errors[0]
    account = doc["account"]
    aid = account["id"]
    parent = account.get("parent_id")
    if parent and not rds.exists(keys.account(parent)):
        raise DocumentError(source, "$.account.parent_id", f"no account {parent!r}")
    wanted = [n for callflow in doc.get("callflows") or [] for n in numbers_of(callflow)]

    def replace(pipe: Pipeline) -> None:
        _refuse_foreign_numbers(rds, doc, source)
        _replace(pipe, doc)

    rds.transaction(replace, keys.numbers(aid), keys.account(aid), *number_watches(wanted))
    return {kind: len(doc.get(kind) or []) for kind in KINDS}


def _refuse_foreign_numbers(rds: redis.Redis, doc: dict[str, Any], source: str) -> None:
    """A number another account's callflows hold is refused, naming nothing of that account."""
    aid = doc["account"]["id"]
    for index, callflow in enumerate(doc.get("callflows") or []):
        numbers = numbers_of(callflow)
        for number in foreign_numbers(rds, aid, numbers):
            path = f"$.callflows[{index}].numbers[{numbers.index(number)}]"
            raise DocumentError(source, path, f"number {number!r} is already used by another account")


def _replace(pipe: Pipeline, doc: dict[str, Any]) -> None:
    account = doc["account"]
    aid = account["id"]
    old = codec.load(pipe.get(keys.account(aid))) or {}
    old_numbers = pipe.hkeys(keys.numbers(aid))
    children = pipe.smembers(keys.children(aid))
    pipe.multi()
    stage_unlink(pipe, aid, old.get("parent_id"), old_numbers)
    pipe.set(keys.account(aid), codec.dump(account))
    pipe.sadd(keys.ACCOUNTS, aid)
    if children:
        pipe.sadd(keys.children(aid), *children)
    if account.get("parent_id"):
        pipe.sadd(keys.children(account["parent_id"]), aid)
    for kind in SCHEMA_OF:
        for item in doc.get(kind) or []:
            pipe.hset(keys.docs(aid, kind), item["id"], codec.dump(item))
    for device in doc.get("devices") or []:
        username = sip_username(device)
        if username:
            pipe.hset(keys.sip_users(aid), username, device["id"])
    for callflow in doc.get("callflows") or []:
        stage_write(pipe, aid, callflow, None)
    revisions.bump(pipe, aid)


def export_bundle(rds: redis.Redis, aid: str) -> dict[str, Any]:
    """An account and its documents as a bundle that `load_bundle` accepts back."""
    bundle: dict[str, Any] = {"account": Accounts(rds).get(aid)}
    for kind in SCHEMA_OF:
        bundle[kind] = Documents(rds, kind).all(aid)
    bundle["callflows"] = Callflows(rds).all(aid)
    return bundle


def check_document(doc: Any, source: str) -> Report:
    """`flows check` on one file: a bundle, or a single callflow as the Kazoo docs write one."""
    if is_bundle(doc):
        return check_bundle(doc, source)
    return check_callflow(doc, source)


