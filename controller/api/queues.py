"""`/v2/accounts/{id}/queues` (Kazoo's cb_queues) and `/v2/accounts/{id}/agents/status`
(cb_agents' status): call queues as stored, validated against queue.json, and on reading one its
`agents` as Kazoo lists them (every user whose own `queues` list names it; a write's `agents` is
not kept: a user becomes an agent through the user's document); the agents' statuses
(`logged_out`, `ready`, `paused`) as the controller keeps them (store/agents.py), which is what
FreeSWITCH's mod_callcenter is brought back to whenever a queue is used. POST `/agents/{id}/status`
changes one as the `acdc_agent` feature codes do (Kazoo's login, logout, pause, resume), and
tells each FreeSWITCH at once over its inbound socket; one that does not answer is brought in
line on its next queue call."""

from __future__ import annotations

import functools
import logging
from typing import Any

from flask import Blueprint, Response

from controller.api.auth import reachable, require_write
from controller.api.body import request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, field_errors, not_found
from controller.api.resource import Resource, blueprint
from controller.config import EslEndpoint
from controller.esl import inbound_api
from controller.modules import callcenter
from controller.modules.acdc_agent import change
from controller.services import Services
from controller.store.agents import LOGGED_OUT, AgentStatuses
from controller.store.documents import Documents, schema_errors

log = logging.getLogger(__name__)
ACTIONS = {"login": "login", "logout": "logout", "pause": "paused", "paused": "paused", "resume": "resume"}


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


@agents.post("/<uid>/status")
def change_status(aid: str, uid: str) -> Response:
    """`{"data": {"status": "login"}}` (`logout`, `pause` with an optional `timeout` in seconds,
    `resume`): Kazoo's cb_agents status change, refused (400) where Kazoo's rules refuse it."""
    require_write()
    reachable(aid)
    services = ctx().services
    user = services.users.find(aid, uid)
    if user is None or not agents_of([user]):
        raise not_found("agent", uid)
    data = request_data()
    action = ACTIONS.get(str(data.get("status")))
    if action is None:
        raise ApiError(400, "validation failed", {"status": {"enum": "login, logout, pause or resume"}})
    statuses = AgentStatuses(services.rds)
    current = statuses.get(aid, uid)
    new_status, _ = change(current, action)
    if new_status is None:
        raise ApiError(400, "validation failed", {"status": {"invalid": f"an agent who is {current} cannot {action}"}})
    timeout = data.get("timeout")
    statuses.set(aid, uid, new_status, timeout if isinstance(timeout, int) and timeout > 0 else None)
    tell_freeswitch(services, aid, user)
    return reply({"agent_id": uid, "status": statuses.get(aid, uid)})


def tell_freeswitch(services: Services, aid: str, user: dict[str, Any]) -> None:
    """Each configured FreeSWITCH's mod_callcenter brought in line with the agent's queues."""
    for endpoint in services.settings.freeswitch:
        try:
            callcenter.tell(services, functools.partial(_ask, endpoint), aid, user)
        except inbound_api.FreeswitchUnavailableError as exc:
            log.warning("agent %s: not told to %s (its next queue call will): %s", user.get("id"), endpoint, exc)


def _ask(endpoint: EslEndpoint, command: str) -> str:
    return inbound_api.ask(endpoint, command)[0]


def blueprints() -> list[Blueprint]:
    return [blueprint(QUEUES), agents]
