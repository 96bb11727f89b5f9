"""`/v2/accounts/{id}/media`: Kazoo's media documents (Crossbar's cb_media) and their audio.

The documents are listed, created (`PUT`), read, replaced (`POST`), merged (`PATCH`) and deleted
like the account's other documents, validated against `store/schemas/media.json`, each write
bumping the account's revision (the call path's caches see it on the next call). Their audio:

- `POST` or `PUT /media/{id}/raw` (or `POST /media/{id}` with an audio Content-Type, as Kazoo
  also takes it) uploads it: the body itself with Content-Type `audio/wav` (`audio/x-wav`),
  `audio/mpeg` (`audio/mp3`) or `application/octet-stream`, or one file in a
  `multipart/form-data` body. The bytes must be WAV or MP3 (store/audio.py) and agree with the
  declared type; at most `CONTROLLER_MEDIA_MAX_BYTES` (413 beyond). The file is stored where
  FreeSWITCH plays it (store/media.py) and the document gets `content_type`, `content_length`
  and `media_source: upload`. Those two fields are the upload's: a client's values are dropped.
- `GET /media/{id}/raw` (or `GET /media/{id}` with an audio `Accept`, as Kazoo) answers it, with
  the stored type; 404 while nothing was uploaded.
- `DELETE /media/{id}` removes the document, then its file.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from controller.api.auth import reachable, require_write
from controller.api.body import merge, request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, field_errors, invalid, not_found
from controller.api.paging import paged
from controller.api.resource import Resource
from controller.errors import NotFoundError
from controller.store import audio
from controller.store.documents import Documents, schema_errors
from controller.store.media import MediaFiles, media_root

bp = Blueprint("media", __name__, url_prefix="/v2/accounts/<aid>/media")
# Set by the upload only (Kazoo's validate_upload sets them from the attachment).
UPLOAD_FIELDS = ("content_type", "content_length")
# What the routes that answer in audio accept (the app's Accept check lets these through).
AUDIO_TYPES = sorted({alias for kind in audio.KINDS for alias in kind.aliases} | {"application/octet-stream"})
AUDIO_ENDPOINTS = frozenset({"media.get_media", "media.get_raw"})
MULTIPART_OVERHEAD = 65536  # a multipart body's boundaries and part headers, beyond the file


def blueprints() -> list[Blueprint]:
    return [bp]


def _documents() -> Documents:
    return Documents(ctx().services.rds, "media")


def _files() -> MediaFiles:
    return MediaFiles(media_root(ctx().services.settings))


RESOURCE = Resource("media", "media", _documents, lambda doc: field_errors(schema_errors("media", doc)), "id")


def _existing(aid: str, media_id: str) -> dict[str, Any]:
    doc = _documents().find(aid, media_id)
    if doc is None:
        raise not_found("media", media_id)
    return doc


def _client_doc(data: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """A client's document with the upload's fields as stored (none before an upload)."""
    doc = {key: value for key, value in data.items() if key not in UPLOAD_FIELDS}
    return {**doc, **{key: stored[key] for key in UPLOAD_FIELDS if key in stored}}


@bp.get("")
def list_media(aid: str) -> Response:
    reachable(aid)
    return paged(_documents().all(aid))


@bp.put("")
def create_media(aid: str) -> Response:
    require_write()
    reachable(aid)
    data = request_data()
    doc = _client_doc({**data, "id": data.get("id") or uuid.uuid4().hex}, {})
    return RESOURCE.validate_and_save(aid, doc, create=True)


@bp.get("/<media_id>")
def get_media(aid: str, media_id: str) -> Response:
    reachable(aid)
    if _wants_audio():
        return _download(aid, media_id)
    return reply(_existing(aid, media_id))


@bp.post("/<media_id>")
def replace_media(aid: str, media_id: str) -> Response:
    if _is_upload():
        return _upload(aid, media_id)
    require_write()
    reachable(aid)
    stored = _existing(aid, media_id)
    return RESOURCE.validate_and_save(aid, _client_doc({**request_data(), "id": media_id}, stored))


@bp.patch("/<media_id>")
def patch_media(aid: str, media_id: str) -> Response:
    require_write()
    reachable(aid)
    stored = _existing(aid, media_id)
    doc = merge(stored, _client_doc(request_data(), {}))
    return RESOURCE.validate_and_save(aid, _client_doc({**doc, "id": media_id}, stored))


@bp.delete("/<media_id>")
def delete_media(aid: str, media_id: str) -> Response:
    require_write()
    reachable(aid)
    doc = _existing(aid, media_id)
    try:
        _documents().delete(aid, media_id)
    except NotFoundError:
        raise not_found("media", media_id) from None
    _files().remove(aid, media_id)
    return reply(doc)


@bp.get("/<media_id>/raw")
def get_raw(aid: str, media_id: str) -> Response:
    reachable(aid)
    return _download(aid, media_id)


@bp.post("/<media_id>/raw")
@bp.put("/<media_id>/raw")
def upload_raw(aid: str, media_id: str) -> Response:
    return _upload(aid, media_id)


def _wants_audio() -> bool:
    """Whether `Accept` prefers audio to JSON (Kazoo answers GET /media/{id} with the file then)."""
    if not request.headers.get("Accept"):
        return False
    best = request.accept_mimetypes.best_match(["application/json", *AUDIO_TYPES])
    return best is not None and best != "application/json"


def _is_upload() -> bool:
    return request.mimetype in AUDIO_TYPES or request.mimetype == "multipart/form-data"


def _download(aid: str, media_id: str) -> Response:
    doc = _existing(aid, media_id)
    kind = audio.kind_of_type(str(doc.get("content_type") or ""))
    limit = max(ctx().services.settings.media_max_bytes, int(doc.get("content_length") or 0))
    data = _files().read(aid, media_id, kind, limit) if kind is not None else None
    if kind is None or data is None:
        raise ApiError(404, "bad identifier", {"id": {"not_found": f"media {media_id!r} has no audio: upload it "
                                                                    "to /raw"}})
    disposition = f"attachment; filename={media_id}.{kind.extension}"
    return Response(data, mimetype=kind.content_type, headers={"Content-Disposition": disposition})


def _upload(aid: str, media_id: str) -> Response:
    require_write()
    reachable(aid)
    stored = _existing(aid, media_id)
    data, declared = _audio_body()
    kind = _kind(data, declared)
    doc = {**stored, "content_type": kind.content_type, "content_length": len(data), "media_source": "upload"}
    problems = RESOURCE.check(doc)
    if problems:
        raise ApiError(400, "validation failed", problems)
    files = _files()
    files.write(aid, media_id, kind, data)
    saved = RESOURCE.validate_and_save(aid, doc)
    files.remove(aid, media_id, keep=kind)  # audio of the other kind, which the document named until now
    return saved


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "request entity too large", {"file": {
        "maxLength": f"the audio is larger than {limit} bytes (CONTROLLER_MEDIA_MAX_BYTES)"}})


def _audio_body() -> tuple[bytes, str]:
    """The uploaded bytes and their declared Content-Type, within the size limit."""
    limit = ctx().services.settings.media_max_bytes
    body_limit = limit + (MULTIPART_OVERHEAD if request.mimetype == "multipart/form-data" else 0)
    if request.content_length is not None and request.content_length > body_limit:
        raise _too_large(limit)
    # Read no further, a body without Content-Length too (werkzeug stops a chunked body at the
    # limit without a word: one byte more tells a body over the limit from one at it).
    request.max_content_length = body_limit + 1
    try:
        if request.mimetype == "multipart/form-data":
            parts = list(request.files.values())
            if len(parts) != 1:
                raise invalid("file", "maxItems" if parts else "required", "send exactly one audio file")
            data, declared = parts[0].read(limit + 1), parts[0].mimetype
        elif request.mimetype in AUDIO_TYPES:
            data, declared = request.get_data(cache=False), request.mimetype
        else:
            raise ApiError(415, "unsupported media type", {"Content-Type": {
                "enum": "send the audio as audio/wav, audio/mpeg or application/octet-stream"}})
    except RequestEntityTooLarge:
        raise _too_large(limit) from None
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise invalid("file", "required", "the body holds no audio file")
    return data, declared


def _kind(data: bytes, declared: str) -> audio.Kind:
    """What the bytes are; they must be WAV or MP3 and what the Content-Type said, if it said."""
    try:
        found = audio.sniff(data)
    except audio.AudioError as exc:
        raise invalid("file", "format", f"{exc}: only WAV and MP3 files can be stored") from None
    expected = audio.kind_of_type(declared)
    if expected is not None and expected != found:
        raise invalid("Content-Type", "enum", f"the file is {found.name} audio, not {declared}: send it as "
                                              f"{found.content_type} or application/octet-stream")
    return found
