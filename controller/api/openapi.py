"""The OpenAPI 3.1 document of the whole API, served at `/v2/openapi.json` (no token needed).

It is built from the OPERATIONS table below and the project's own JSON Schemas (store/schemas,
the callflow schema, the template fields), so the documents it describes are the ones the API
validates against; `tests/test_api_openapi.py` checks that every route of the app is in it and
nothing else is."""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

from flask import Blueprint, Response, jsonify

import controller
from controller.api.notification_docs import FIELDS_SCHEMA
from controller.callflows import schema

bp = Blueprint("openapi", __name__)


def blueprints() -> list[Blueprint]:
    return [bp]


@dataclasses.dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    body: str | None = None  # a component schema name
    query: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    success: int = 200
    content: tuple[str, ...] = ("application/json",)
    public: bool = False  # no token needed


def _crud(name: str, tag: str, body: str, conflict: str) -> list[Op]:
    base, one = f"/v2/accounts/{{account_id}}/{name}", f"/v2/accounts/{{account_id}}/{name}/{{id}}"
    return [
        Op("get", base, f"List the account's {name} (paged)", tag, query=("page_size", "start_key")),
        Op("put", base, f"Create one of the account's {name} (id generated unless given)", tag, body,
           errors=(400, 409), success=201),
        Op("get", one, "Read one", tag, errors=(404,)),
        Op("post", one, "Replace one", tag, body, errors=(400, 404, 409)),
        Op("patch", one, "Merge fields into one (objects merge, null removes a key)", tag, body,
           errors=(400, 404, 409)),
        Op("delete", one, f"Remove one ({conflict})", tag, errors=(404,)),
    ]


_NOTE = "/v2/accounts/{account_id}/notifications"
_CHANNELS = "/v2/accounts/{account_id}/channels"
_PARTICIPANTS = "/v2/accounts/{account_id}/conferences/{id}/participants"
_MEDIA = "/v2/accounts/{account_id}/media"
_AUDIO = ("audio/wav", "audio/mpeg")
_UPLOAD = "Upload its audio: WAV or MP3 (audio/wav, audio/mpeg or application/octet-stream, or one multipart file)"
_BODY_TYPES = ("application/json", "text/html", "text/plain", "multipart/form-data")
OPERATIONS: tuple[Op, ...] = (
    Op("get", "/v2/openapi.json", "This document", "meta", public=True),
    Op("get", "/", "What the API is, where its OpenAPI document and docs are, how to get a token (HTML for a "
       "browser)", "meta", public=True, content=("application/json", "text/html")),
    Op("get", "/v2/", "The same as /", "meta", public=True, content=("application/json", "text/html")),
    Op("get", "/v2/accounts", "Accounts the token reaches (its own and its descendants; all for a super admin)",
       "accounts", query=("page_size", "start_key")),
    Op("put", "/v2/accounts", "Create an account (a child of the token's account unless parent_id says)", "accounts",
       "Account", errors=(400, 409), success=201),
    Op("get", "/v2/accounts/{account_id}", "Read an account", "accounts"),
    Op("post", "/v2/accounts/{account_id}", "Replace an account", "accounts", "Account", errors=(400,)),
    Op("patch", "/v2/accounts/{account_id}", "Merge fields into an account", "accounts", "Account", errors=(400,)),
    Op("delete", "/v2/accounts/{account_id}", "Delete an account and its documents (409 while it has children)",
       "accounts", errors=(409,)),
    Op("get", "/v2/accounts/{account_id}/children", "The account's direct children", "accounts",
       query=("page_size", "start_key")),
    Op("put", "/v2/user_auth", "A token for a user's credentials (Kazoo's user_auth: the md5 or sha1 hex digest of "
       "username:password, and the account's name, realm or one of its numbers); it expires in an hour", "auth",
       "UserAuth", errors=(400, 401, 429), success=201, public=True),
    Op("put", "/v2/api_auth", "A token for an account's API key (Kazoo's api_auth); it expires in an hour", "auth",
       "ApiAuth", errors=(400, 401, 429), success=201, public=True),
    Op("get", "/v2/accounts/{account_id}/api_key", "Whether the account has an API key (shown only when made)",
       "auth"),
    Op("put", "/v2/accounts/{account_id}/api_key", "Make the account's API key, or import a Kazoo account's, and "
       "show it, once", "auth", "ApiKey", errors=(400,), success=201),
    *_crud("users", "users", "User", "its devices keep their owner_id"),
    *_crud("devices", "devices", "Device", "its SIP username is freed"),
    *_crud("vmboxes", "vmboxes", "Vmbox", "with its messages"),
    *_crud("groups", "groups", "Group", "ring groups naming it skip it"),
    *_crud("menus", "menus", "Menu", "menu nodes naming it run with the node's own data"),
    *_crud("temporal_rules", "temporal_rules", "TemporalRule", "routes naming it skip it"),
    *_crud("temporal_rules_sets", "temporal_rules", "TemporalRuleSet", "routes naming it skip it"),
    *_crud("conferences", "conferences", "Conference", "conference nodes naming it continue to _"),
    *_crud("queues", "queues", "Queue", "acdc_member nodes naming it continue to _"),
    Op("get", "/v2/accounts/{account_id}/agents/status", "Every agent's status (logged_out, ready, paused), by "
       "user id", "queues"),
    Op("get", "/v2/accounts/{account_id}/agents/{id}/status", "One agent's status", "queues", errors=(404,)),
    Op("post", "/v2/accounts/{account_id}/agents/{id}/status", "Log an agent in or out, pause or resume them "
       "(Kazoo's rules), told to each FreeSWITCH's mod_callcenter at once", "queues", "AgentStatus", errors=(400, 404)),
    *_crud("directories", "directories", "Directory", "directory nodes naming it continue to _"),
    *_crud("lists", "lists", "List", "dynamic_cid nodes naming it stop the call"),
    *_crud("faxboxes", "faxboxes", "Faxbox", "receive_fax nodes naming it mail their faxes to their owner_id only"),
    *_crud("callflows", "callflows", "Callflow", "its numbers and patterns are freed"),
    Op("get", _MEDIA, "List the account's media (paged)", "media", query=("page_size", "start_key")),
    Op("put", _MEDIA, "Create a media document (id generated unless given); its audio goes to /raw", "media",
       "Media", errors=(400, 409), success=201),
    Op("get", _MEDIA + "/{id}", "Read one; asked for audio (Accept), its audio as /raw answers it", "media",
       errors=(404, 406), content=("application/json", *_AUDIO)),
    Op("post", _MEDIA + "/{id}", "Replace one; sent audio (Content-Type), upload it as /raw does", "media", "Media",
       errors=(400, 404, 415), content=("application/json", *_AUDIO)),
    Op("patch", _MEDIA + "/{id}", "Merge fields into one (objects merge, null removes a key)", "media", "Media",
       errors=(400, 404)),
    Op("delete", _MEDIA + "/{id}", "Remove one and its audio", "media", errors=(404,)),
    Op("get", _MEDIA + "/{id}/raw", "Its audio, with the stored type (404 before an upload)", "media",
       errors=(404, 406), content=_AUDIO),
    Op("post", _MEDIA + "/{id}/raw", _UPLOAD, "media", "Audio", errors=(400, 404, 415)),
    Op("put", _MEDIA + "/{id}/raw", _UPLOAD, "media", "Audio", errors=(400, 404, 415)),
    Op("get", "/v2/accounts/{account_id}/vmboxes/{vmbox_id}/messages", "A box's messages, oldest first", "vmboxes",
       query=("folder", "page_size", "start_key"), errors=(404,)),
    Op("get", "/v2/accounts/{account_id}/vmboxes/{vmbox_id}/messages/{id}", "One message", "vmboxes", errors=(404,)),
    Op("post", "/v2/accounts/{account_id}/vmboxes/{vmbox_id}/messages/{id}", "Move a message to a folder",
       "vmboxes", "MessageFolder", errors=(400, 404)),
    Op("patch", "/v2/accounts/{account_id}/vmboxes/{vmbox_id}/messages/{id}", "Move a message to a folder",
       "vmboxes", "MessageFolder", errors=(400, 404)),
    Op("delete", "/v2/accounts/{account_id}/vmboxes/{vmbox_id}/messages/{id}", "Forget a message", "vmboxes",
       errors=(404,)),
    Op("get", "/v2/accounts/{account_id}/vmboxes/{vmbox_id}/messages/{id}/raw", "The message's recording",
       "vmboxes", errors=(404, 406), content=("audio/wav",)),
    Op("get", "/v2/notifications", "System templates with their macros", "notifications"),
    Op("put", "/v2/notifications", "Create a system template (super admin)", "notifications", "Notification",
       errors=(400, 409), success=201),
    Op("get", "/v2/notifications/{id}", "A system template; Accept text/html or text/plain for a body",
       "notifications", query=("accept",), errors=(404, 406), content=("application/json", "text/html", "text/plain")),
    Op("post", "/v2/notifications/{id}", "Replace a system template, or upload one body (super admin)",
       "notifications", "Notification", errors=(400, 404, 415), content=_BODY_TYPES),
    Op("delete", "/v2/notifications/{id}", "Remove a stored system template (super admin)", "notifications",
       errors=(404,)),
    Op("get", _NOTE, "Templates as the account uses them; account_overridden on its own copies of system "
       "templates, account_defined on its own templates", "notifications"),
    Op("put", _NOTE, "Make the account's own copy of a template, define a new one (a new id), or "
       "{\"action\": \"force_system\"}", "notifications",
       "Notification", errors=(400, 409), success=201),
    Op("delete", _NOTE, "{\"action\": \"remove_customizations\"}: drop every own copy", "notifications", "Action",
       errors=(400,)),
    Op("get", _NOTE + "/{id}", "The template the account uses; Accept text/html or text/plain for a body",
       "notifications", query=("accept",), errors=(404, 406), content=("application/json", "text/html", "text/plain")),
    Op("post", _NOTE + "/{id}", "Replace the account's copy, or upload one body", "notifications", "Notification",
       errors=(400, 404, 415), content=_BODY_TYPES),
    Op("delete", _NOTE + "/{id}", "Remove the account's own copy", "notifications", errors=(404,)),
    Op("post", _NOTE + "/{id}/preview", "Render a template with sample values; send it when to names anyone",
       "notifications", "Notification", errors=(400, 404)),
    Op("get", _NOTE + "/smtplog", "The account's SMTP log, newest first", "notifications",
       query=("page_size", "start_key")),
    Op("get", _NOTE + "/smtplog/{id}", "One SMTP log entry", "notifications", errors=(404,)),
    Op("post", _NOTE + "/customer_update/message", "Send a customer update to descendant accounts' users",
       "notifications", "CustomerUpdate", errors=(400,), success=202, content=_BODY_TYPES),
    Op("get", _CHANNELS, "The account's calls in progress (from the serve role of `controller run`)", "channels",
       query=("page_size", "start_key"), errors=(503,)),
    Op("get", _CHANNELS + "/{id}", "One call in progress", "channels", errors=(404, 503)),
    Op("put", _CHANNELS + "/{id}", "hangup, or a blind transfer to target (Kazoo's actions)", "channels",
       "ChannelAction", errors=(400, 404, 503), success=202),
    Op("post", _CHANNELS + "/{id}", "The same as PUT", "channels", "ChannelAction", errors=(400, 404, 503),
       success=202),
    Op("get", "/v2/accounts/{account_id}/cdrs", "The account's call records, newest first", "cdrs",
       query=("created_from", "created_to", "page_size", "start_key"), errors=(400,)),
    Op("get", "/v2/accounts/{account_id}/cdrs/{id}", "One call record", "cdrs", errors=(404,)),
    Op("get", _PARTICIPANTS, "Who is in the conference room now (FreeSWITCH's mod_conference)", "conferences",
       errors=(404, 503)),
    Op("get", _PARTICIPANTS + "/{participant_id}", "One participant", "conferences", errors=(404, 503)),
    Op("put", _PARTICIPANTS + "/{participant_id}", "mute, unmute, deaf, undeaf or kick the participant",
       "conferences", "ParticipantAction", errors=(400, 404, 503), success=202),
    Op("post", _PARTICIPANTS + "/{participant_id}", "The same as PUT", "conferences", "ParticipantAction",
       errors=(400, 404, 503), success=202),
    Op("get", "/v2/accounts/{account_id}/parked_calls", "The calls parked in the account's slots (FreeSWITCH's lot)",
       "parked_calls", errors=(503,)),
)

_QUERY = {
    "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
    "start_key": {"type": "string", "description": "the key of the first item of the page (next_start_key)"},
    "folder": {"enum": ["new", "saved", "deleted"]},
    "accept": {"enum": ["application/json", "text/html", "text/plain"]},
    "created_from": {"type": "integer", "description": "Gregorian seconds (Kazoo's; unix seconds are taken too)"},
    "created_to": {"type": "integer", "description": "Gregorian seconds; at most 31 days after created_from"},
}
_STATUS = {200: "Success", 201: "Created", 202: "Accepted (jobs queued)", 400: "Invalid request",
           401: "No valid X-Auth-Token", 403: "Out of the token's reach, or not allowed",
           404: "No such document (or no audio)", 406: "Not acceptable", 409: "Conflict", 413: "Body too large",
           415: "Unsupported media type", 429: "Too many failed logins (Retry-After says when to try again)",
           503: "Not available now (the serve role or FreeSWITCH did not answer)"}


def _response(status: int, content: tuple[str, ...]) -> dict[str, Any]:
    if status >= 400:
        return {"description": _STATUS[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    media = {kind: {"schema": {"$ref": "#/components/schemas/Envelope"} if kind == "application/json"
                    else {"type": "string"}} for kind in content if kind != "multipart/form-data"}
    return {"description": _STATUS[status], "content": media}


def _operation(op: Op) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in re.findall(r"{(\w+)}", op.path)]
    params += [{"name": name, "in": "query", "required": False, "schema": _QUERY[name]} for name in op.query]
    statuses = (op.success, *op.errors) if op.public else (op.success, 401, 403, 413, *op.errors)
    doc: dict[str, Any] = {
        "summary": op.summary, "tags": [op.tag], "operationId": f"{op.method}_{_slug(op.path)}", "parameters": params,
        "responses": {str(s): _response(s, op.content) for s in sorted(set(statuses))},
    }
    if op.body == "Audio":
        binary = {"schema": {"$ref": "#/components/schemas/Audio"}}
        media_types = (*_AUDIO, "application/octet-stream")
        doc["requestBody"] = {"required": True, "content": {
            **{kind: binary for kind in media_types},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"file": binary["schema"]}}}}}
    elif op.body:
        envelope = {"type": "object", "properties": {"data": {"$ref": f"#/components/schemas/{op.body}"},
                                                     "action": {"type": "string"}}}
        media = {"application/json": {"schema": envelope}}
        media.update({kind: {"schema": {"type": "string"}} for kind in op.content if kind.startswith("text/")})
        media.update({kind: {"schema": {"$ref": "#/components/schemas/Audio"}}
                      for kind in op.content if kind.startswith("audio/")})
        if "multipart/form-data" in op.content:
            media["multipart/form-data"] = {"schema": {"type": "object", "properties": {
                "content": {"type": "string", "format": "binary"}}}}
        doc["requestBody"] = {"required": op.method != "delete", "content": media}
    if op.public:
        doc["security"] = []
    return doc


def _slug(path: str) -> str:
    if path in ("/", "/v2/"):
        return "root" if path == "/" else "v2"
    return re.sub(r"[^a-z0-9]+", "_", path.removeprefix("/v2/").lower()).strip("_")


def _components() -> dict[str, Any]:
    schemas = {name: dict(schema.validator(name).schema) for name in
               ("account.json", "user.json", "device.json", "vmbox.json", "group.json", "menu.json",
                "temporal_rule.json", "temporal_rule_set.json", "media.json", "callflow.json", "conference.json",
                "directory.json", "queue.json",
                "list.json", "faxbox.json")}
    envelope = {"type": "object", "required": ["data", "status", "request_id"], "properties": {
        "data": {}, "status": {"enum": ["success", "error"]}, "request_id": {"type": "string"},
        "revision": {"type": "string"}, "auth_token": {"type": "string"}, "timestamp": {"type": "string"},
        "version": {"type": "string"}, "node": {"type": "string"}, "page_size": {"type": "integer"},
        "start_key": {"type": "string"}, "next_start_key": {"type": "string"}}}
    error = {"allOf": [{"$ref": "#/components/schemas/Envelope"}, {"type": "object", "properties": {
        "error": {"type": "string", "description": "the HTTP status code"}, "message": {"type": "string"},
        "data": {"type": "object", "description": "{field: {rule: message}}",
                 "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}}}}}]}
    return {
        "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
        "schemas": {
            "Envelope": envelope, "Error": error,
            "Account": schemas["account.json"], "User": schemas["user.json"], "Device": schemas["device.json"],
            "Vmbox": schemas["vmbox.json"], "Group": schemas["group.json"], "Menu": schemas["menu.json"],
            "TemporalRule": schemas["temporal_rule.json"], "TemporalRuleSet": schemas["temporal_rule_set.json"],
            "Callflow": schemas["callflow.json"], "Media": schemas["media.json"],
            "Directory": schemas["directory.json"],
            "Conference": schemas["conference.json"], "List": schemas["list.json"],
            "Queue": schemas["queue.json"],
            "AgentStatus": {"type": "object", "required": ["status"], "properties": {
                "status": {"enum": ["login", "logout", "pause", "resume"]},
                "timeout": {"type": "integer", "minimum": 1, "description": "seconds a pause lasts"}}},
            "Faxbox": schemas["faxbox.json"],
            "Audio": {"type": "string", "format": "binary", "description": "a WAV or MP3 file"},
            "Notification": FIELDS_SCHEMA,
            "MessageFolder": {"type": "object", "required": ["folder"],
                              "properties": {"folder": {"enum": ["new", "saved", "deleted"]}}},
            "Action": {"type": "object", "properties": {"action": {"enum": ["remove_customizations", "force_system"]}}},
            "UserAuth": {"type": "object", "required": ["credentials"], "properties": {
                "credentials": {"type": "string", "minLength": 1, "maxLength": 64,
                                "description": "md5 (or sha1) hex digest of username:password"},
                "method": {"enum": ["md5", "sha"], "default": "md5"}, "account_name": {"type": "string"},
                "account_realm": {"type": "string"}, "phone_number": {"type": "string"}}},
            "ChannelAction": {"type": "object", "required": ["action"], "properties": {
                "action": {"enum": ["hangup", "transfer"]},
                "target": {"type": "string", "pattern": "^\\+?[0-9A-Za-z*#]{1,32}$"},
                "leg": {"enum": ["self", "bleg"], "default": "self"}}},
            "ParticipantAction": {"type": "object", "required": ["action"], "properties": {
                "action": {"enum": ["mute", "unmute", "deaf", "undeaf", "kick"]}}},
            "ApiAuth": {"type": "object", "required": ["api_key"], "properties": {
                "api_key": {"type": "string", "minLength": 64, "maxLength": 64}}},
            "ApiKey": {"type": "object", "properties": {"api_key": {
                "type": "string", "pattern": "^[0-9a-fA-F]{64}$", "description": "a Kazoo account's key to keep"}}},
            "CustomerUpdate": {"allOf": [{"$ref": "#/components/schemas/Notification"}, {
                "type": "object", "properties": {
                    "recipient_id": {"type": "string"}, "template_id": {"type": "string"},
                    "user_type": {"type": "string", "description": "all_users, admins_only (default) or a user id"},
                    "databag": {"type": "object"}}}]},
        },
    }


@functools.cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "controller HTTP API", "version": controller.__version__,
                 "description": "Crossbar-style /v2 API of the call controller (see README.md, HTTP API)."},
        "security": [{"token": []}],
        "paths": paths,
        "components": _components(),
    }


@bp.get("/v2/openapi.json")
def serve() -> Response:
    return jsonify(document())
