"""`/v2/accounts/{id}/users`, `/devices`, `/vmboxes`, `/groups`, `/menus`, `/temporal_rules` and
`/temporal_rules_sets`: Kazoo's documents (Crossbar's cb_users, cb_devices, cb_vmboxes, cb_groups,
cb_menus, cb_temporal_rules, cb_temporal_rules_sets), validated against `store/schemas/` on every
write. A device's SIP username is unique in its account (409) and indexed for the call path."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from controller.api.context import ctx
from controller.api.directories import DirectoryStore
from controller.api.errors import field_errors
from controller.api.resource import Resource, Store, blueprint
from controller.api.users import UserStore
from controller.store.documents import Documents, schema_errors
from controller.store.logins import Logins


def _store(kind: str) -> Store:
    services = ctx().services
    if kind == "users":  # with Kazoo's login fields (users.py)
        return UserStore(services.users, Logins(services.rds), ctx().tokens)
    if kind == "directories":  # with Kazoo's listing of their users (directories.py)
        return DirectoryStore(Documents(services.rds, "directories"), services.users)
    stores: dict[str, Store] = {"devices": services.devices, "vmboxes": services.vmboxes}
    return stores.get(kind) or Documents(services.rds, kind)


def _resource(kind: str, singular: str) -> Resource:
    def check(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
        return field_errors(schema_errors(kind, doc))

    return Resource(kind, singular, lambda: _store(kind), check, "sip.username")


RESOURCES = (_resource("users", "user"), _resource("devices", "device"), _resource("vmboxes", "vmbox"),
             _resource("groups", "group"), _resource("menus", "menu"), _resource("temporal_rules", "temporal_rule"),
             _resource("temporal_rules_sets", "temporal_rule_set"), _resource("conferences", "conference"),
             _resource("directories", "directory"),
             _resource("lists", "list"), _resource("faxboxes", "faxbox"))


def blueprints() -> list[Blueprint]:
    return [blueprint(resource) for resource in RESOURCES]
