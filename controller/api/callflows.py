"""`/v2/accounts/{id}/callflows`: validated exactly as `controller flows check` validates (Kazoo's
schema, its rules, each module's data schema), errors by field path; a number another callflow
of the account holds is 409. The store keeps the number/pattern index and bumps the account's
revision, so the next call routes by the new document.

Validation runs in the API's workers (controller/workers/): a flow of 0.9 MB took 1.1 s of CPU,
which on the API's loop kept every other request waiting. The store is then told the document
was checked, so that it is not validated a second time on the loop."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from controller.api.context import ctx
from controller.api.errors import busy, document_errors, invalid
from controller.api.resource import Resource, Store, blueprint
from controller.store.callflows import Callflows
from controller.workers.pool import WorkerFailedError, WorkersBusyError, WorkRefusedError


def _check(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    try:
        return document_errors(ctx().workers.check_callflow(doc, "callflow"))
    except WorkersBusyError as exc:
        raise busy(str(exc)) from None
    except WorkRefusedError as exc:
        raise invalid("document", "limit", f"validating the callflow: {exc}") from None
    except WorkerFailedError as exc:
        if exc.overran:
            raise invalid("document", "maxTime", f"validating the callflow {exc}") from None
        raise busy(f"validating the callflow failed: {exc}") from None


class _Checked:
    """The callflow store for documents `_check` has just validated."""

    def __init__(self, store: Callflows) -> None:
        self._store = store

    def find(self, aid: str, doc_id: str) -> dict[str, Any] | None:
        return self._store.find(aid, doc_id)

    def all(self, aid: str) -> list[dict[str, Any]]:
        return self._store.all(aid)

    def save(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self._store.save(aid, doc, checked=True)

    def create(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self._store.create(aid, doc, checked=True)

    def delete(self, aid: str, doc_id: str) -> None:
        self._store.delete(aid, doc_id)


def _store() -> Store:
    return _Checked(ctx().services.callflows)


RESOURCE = Resource("callflows", "callflow", _store, _check, "numbers")


def blueprints() -> list[Blueprint]:
    return [blueprint(RESOURCE)]
