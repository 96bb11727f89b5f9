"""The CRUD routes every account document shares (users, devices, vmboxes, callflows), built by
one factory: `GET` lists (paged), `PUT` creates (the id is generated unless given; an id in use is
409), `GET /{id}` reads, `POST /{id}` replaces, `PATCH /{id}` merges, `DELETE /{id}` removes.
Every write is validated whole before anything is written, and the store bumps the account's
revision so the call path's caches see the change on the next call."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from flask import Blueprint, Response

from controller.api.auth import reachable, require_write
from controller.api.body import merge, request_data
from controller.api.envelope import reply
from controller.api.errors import ApiError, not_found
from controller.api.paging import paged
from controller.errors import ConflictError, DocumentError, NotFoundError


class Store(Protocol):
    def find(self, aid: str, doc_id: str) -> dict[str, Any] | None: ...

    def all(self, aid: str) -> list[dict[str, Any]]: ...

    def save(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]: ...

    def create(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]: ...

    def delete(self, aid: str, doc_id: str) -> None: ...


@dataclasses.dataclass(frozen=True)
class Resource:
    name: str  # the path segment, e.g. "devices"
    singular: str  # how errors name one, e.g. "device"
    store: Callable[[], Store]
    check: Callable[[dict[str, Any]], dict[str, dict[str, str]]]  # {field: {rule: message}}
    conflict_field: str  # the field a ConflictError is reported on

    def validate_and_save(self, aid: str, doc: dict[str, Any], create: bool = False) -> Response:
        """Check the whole document, then write it (`create`: refusing an id in use, atomically)."""
        problems = self.check(doc)
        if problems:
            raise ApiError(400, "validation failed", problems)
        store = self.store()
        try:
            saved = store.create(aid, doc) if create else store.save(aid, doc)
        except ConflictError as exc:
            field = "id" if exc.what.startswith("id ") else self.conflict_field
            raise ApiError(409, "conflict", {field: {"unique": str(exc)}}) from None
        except DocumentError as exc:
            raise ApiError(400, "validation failed", {exc.path.removeprefix("$."): {"invalid": exc.reason}}) from None
        return reply(saved, 201 if create else 200)


def blueprint(resource: Resource) -> Blueprint:
    bp = Blueprint(resource.name, __name__, url_prefix=f"/v2/accounts/<aid>/{resource.name}")

    def existing(aid: str, doc_id: str) -> dict[str, Any]:
        doc = resource.store().find(aid, doc_id)
        if doc is None:
            raise not_found(resource.singular, doc_id)
        return doc

    @bp.get("")
    def list_docs(aid: str) -> Response:
        reachable(aid)
        return paged(resource.store().all(aid))

    @bp.put("")
    def create_doc(aid: str) -> Response:
        require_write()
        reachable(aid)
        data = request_data()
        doc = {**data, "id": data.get("id") or uuid.uuid4().hex}
        return resource.validate_and_save(aid, doc, create=True)

    @bp.get("/<doc_id>")
    def get_doc(aid: str, doc_id: str) -> Response:
        reachable(aid)
        return reply(existing(aid, doc_id))

    @bp.post("/<doc_id>")
    def replace_doc(aid: str, doc_id: str) -> Response:
        require_write()
        reachable(aid)
        existing(aid, doc_id)
        return resource.validate_and_save(aid, {**request_data(), "id": doc_id})

    @bp.patch("/<doc_id>")
    def patch_doc(aid: str, doc_id: str) -> Response:
        require_write()
        reachable(aid)
        doc = merge(existing(aid, doc_id), request_data())
        return resource.validate_and_save(aid, {**doc, "id": doc_id})

    @bp.delete("/<doc_id>")
    def delete_doc(aid: str, doc_id: str) -> Response:
        require_write()
        reachable(aid)
        doc = existing(aid, doc_id)
        try:
            resource.store().delete(aid, doc_id)
        except NotFoundError:
            raise not_found(resource.singular, doc_id) from None
        return reply(doc)

    return bp
