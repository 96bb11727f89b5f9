"""`/v2/accounts/{id}/callflows`: validated exactly as `controller flows check` validates (Kazoo's
schema, its rules, each module's data schema), errors by field path; a number another callflow
of the account holds is 409. The store keeps the number/pattern index and bumps the account's
revision, so the next call routes by the new document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from controller.api.context import ctx
from controller.api.errors import document_errors
from controller.api.resource import Resource, Store, blueprint
from controller.callflows.validate import check_callflow


def _check(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    return document_errors(check_callflow(doc, "callflow").errors)


def _store() -> Store:
    store: Store = ctx().services.callflows
    return store


RESOURCE = Resource("callflows", "callflow", _store, _check, "numbers")


def blueprints() -> list[Blueprint]:
    return [blueprint(RESOURCE)]
