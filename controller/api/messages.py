"""`/v2/accounts/{id}/vmboxes/{box}/messages`: a box's voicemail messages (oldest first,
`?folder=new|saved|deleted` to filter), one message, moving it to another folder (POST or PATCH
`{"data": {"folder": ...}}`), deleting it, and its recording (`GET .../messages/{id}/raw`, Kazoo's
cb_vmboxes raw download: audio/wav, as an attachment).

The recording is the file the voicemail module had FreeSWITCH write, at the message's
`media_path`. It is served only from the box's own folder under `CONTROLLER_VOICEMAIL_DIR`
(`<dir>/<account>/<box>/`), read as the mail sender reads attachments (notify/recording.py): a
path elsewhere, a file that is a symlink or sits in a folder swapped for one, or a file that is
not regular is not read (404)."""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response, request

from controller.api.auth import reachable, require_write
from controller.api.body import request_data
from controller.api.context import ctx
from controller.api.envelope import reply
from controller.api.errors import ApiError, invalid, not_found
from controller.api.paging import paged
from controller.errors import NotFoundError
from controller.notify.recording import Recordings, file_name
from controller.store.media import is_id
from controller.store.voicemail import FOLDERS

bp = Blueprint("messages", __name__, url_prefix="/v2/accounts/<aid>/vmboxes/<box_id>/messages")
AUDIO_ENDPOINTS = frozenset({"messages.get_raw"})
RECORDING_MAX_BYTES = 64 * 1024 * 1024  # over half an hour of 16 kHz audio
RECORDING_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}


def blueprints() -> list[Blueprint]:
    return [bp]


def _box(aid: str, box_id: str) -> None:
    reachable(aid)
    if ctx().services.vmboxes.find(aid, box_id) is None:
        raise not_found("vmbox", box_id)


def _message(aid: str, box_id: str, media_id: str) -> dict[str, Any]:
    try:
        return ctx().services.messages.get(aid, box_id, media_id)
    except NotFoundError:
        raise not_found("voicemail message", media_id) from None


@bp.get("")
def list_messages(aid: str, box_id: str) -> Response:
    _box(aid, box_id)
    folder = request.args.get("folder")
    if folder is not None and folder not in FOLDERS:
        raise invalid("folder", "enum", f"folder must be one of {', '.join(FOLDERS)}")
    found = ctx().services.messages.all(aid, box_id, folder)  # oldest first, as a caller hears them
    return paged(found, key=lambda m: str(m.get("media_id")), presorted=True)


@bp.get("/<media_id>")
def get_message(aid: str, box_id: str, media_id: str) -> Response:
    _box(aid, box_id)
    return reply(_message(aid, box_id, media_id))


@bp.post("/<media_id>")
def replace_message(aid: str, box_id: str, media_id: str) -> Response:
    return _move(aid, box_id, media_id)


@bp.patch("/<media_id>")
def patch_message(aid: str, box_id: str, media_id: str) -> Response:
    return _move(aid, box_id, media_id)


def _move(aid: str, box_id: str, media_id: str) -> Response:
    require_write()
    _box(aid, box_id)
    data = request_data()
    unknown = sorted(set(data) - {"folder", "media_id", "id"})
    if unknown:
        problems = {key: {"additionalProperties": "only the folder of a message can change"} for key in unknown}
        raise ApiError(400, "validation failed", problems)
    folder = data.get("folder")
    if folder not in FOLDERS:
        raise invalid("folder", "enum", f"folder must be one of {', '.join(FOLDERS)}")
    _message(aid, box_id, media_id)
    return reply(ctx().services.messages.move(aid, box_id, media_id, str(folder)))


@bp.delete("/<media_id>")
def delete_message(aid: str, box_id: str, media_id: str) -> Response:
    require_write()
    _box(aid, box_id)
    message = _message(aid, box_id, media_id)
    ctx().services.messages.remove(aid, box_id, media_id)
    return reply(message)


@bp.get("/<media_id>/raw")
def get_raw(aid: str, box_id: str, media_id: str) -> Response:
    _box(aid, box_id)
    message = _message(aid, box_id, media_id)
    path = str(message.get("media_path") or "")
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    data = None
    if path and is_id(aid) and is_id(box_id):
        folder = os.path.join(ctx().services.settings.voicemail_dir, aid, box_id)
        data = Recordings(RECORDING_MAX_BYTES, root=folder).read(path)
    if data is None:
        raise ApiError(404, "bad identifier", {"id": {"not_found": f"the recording of message {media_id!r} "
                                                                    "cannot be read"}})
    disposition = f"attachment; filename={file_name(message, message, extension)}"
    return Response(data, mimetype=RECORDING_TYPES.get(extension, "application/octet-stream"),
                    headers={"Content-Disposition": disposition})
