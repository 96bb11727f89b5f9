"""`/v2/accounts/{id}/queues` (Kazoo's cb_queues) and `/v2/accounts/{id}/agents/status`
(cb_agents' status): call queues as stored, validated against queue.json, and on reading one its
`agents` as Kazoo lists them (every user whose own `queues` list names it; a write's `agents` is
not kept: a user becomes an agent through the user's document); the agents' statuses
(`logged_out`, `ready`, `paused`) as the controller keeps them (store/agents.py), which is what
FreeSWITCH's mod_callcenter is brought back to whenever a queue is used."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import field_errors, not_found
from controller.api.resource import Resource, blueprint
from controller.store.agents import LOGGED_OUT, AgentStatuses
from controller.store.documents import Documents, schema_errors


class QueueStore:
    """The queues' store for the API's resource routes (resource.Store)."""

    def __init__(self, queues: Documents, users: Documents) -> None:
        self.queues, self.users = queues, users

    def find(self, aid: str, doc_id: str) -> dict[str, Any] | None:
        doc = self.queues.find(aid, doc_id)
        return None if doc is None else {**doc, "agents": agents_of(self.users.all(aid), doc_id)}

    def all(self, aid: str) -> list[dict[str, Any]]:
        return self.queues.all(aid)

    def save(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self.queues.save(aid, _stored(doc))

    def create(self, aid: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self.queues.create(aid, _stored(doc))

    def delete(self, aid: str, doc_id: str) -> None:
        self.queues.delete(aid, doc_id)


def agents_of(users: list[dict[str, Any]], queue_id: str | None = None) -> list[str]:
    """The ids of the users who are agents (of `queue_id`, or of any queue), in order."""
    found = []
    for user in users:
        queues = user.get("queues")
        if isinstance(queues, list) and queues and (queue_id is None or queue_id in queues):
            found.append(str(user.get("id")))
    return sorted(found)


def _stored(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "agents"}


def _store() -> QueueStore:
    services = ctx().services
    return QueueStore(Documents(services.rds, "queues"), services.users)


QUEUES = Resource("queues", "queue", _store, lambda doc: field_errors(schema_errors("queues", doc)), "id")
agents = Blueprint("agents", __name__, url_prefix="/v2/accounts/<aid>/agents")


@agents.get("/status")
def statuses(aid: str) -> Response:
    """Every agent's status: `{"<user id>": "ready", ...}` (Kazoo's shape)."""
    reachable(aid)
    services = ctx().services
    known = AgentStatuses(services.rds).all(aid)
    return reply({user_id: known.get(user_id, LOGGED_OUT) for user_id in agents_of(services.users.all(aid))})


@agents.get("/<uid>/status")
def status(aid: str, uid: str) -> Response:
    reachable(aid)
    services = ctx().services
    if uid not in agents_of(services.users.all(aid)):
        raise not_found("agent", uid)
    return reply({"agent_id": uid, "status": AgentStatuses(services.rds).get(aid, uid)})


def blueprints() -> list[Blueprint]:
    return [blueprint(QUEUES), agents]
