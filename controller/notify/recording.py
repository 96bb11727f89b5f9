"""The recording of a voicemail message (Kazoo's voicemail_to_email attachment): attached to the
email when the mail sender can read it, otherwise linked.

`data.voicemail.media_path` is where FreeSWITCH wrote the file. It is attached when it names a
readable regular file of an audio type (by extension: `.wav` audio/wav, `.mp3` audio/mpeg, ...) no
larger than `CONTROLLER_MAX_ATTACHMENT_BYTES`, inside `CONTROLLER_VOICEMAIL_DIR`; anything else
(another host's path, a missing, unreadable, oversized or non-audio file, a path outside the
folder) is not read further. A job names the path, so the path is not trusted: its folder's real
path (symlinks resolved) must lie inside the voicemail folder's, the file is reached from that
folder one component at a time and opened with O_NOFOLLOW: a recording that is a symlink (to
`/etc/passwd`) is not followed, nor a folder swapped for one after the check.

The link is the job's own `media_url`, or `CONTROLLER_MEDIA_URL` followed by the URL-encoded
message id.

The attachment's file name is made from the caller and the time the message was left, reduced to
letters, digits, `+` and `-` (a caller ID name is caller-controlled: no quote, dot, slash, CR or LF
can reach the Content-Disposition header or a mail client's save dialog).
"""

from __future__ import annotations

import datetime
import logging
import mimetypes
import os
import re
import stat
from typing import Any
from urllib.parse import quote

from controller.notify.message import Attachment

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_ROOT = "/var/lib/freeswitch/storage/voicemail"  # CONTROLLER_VOICEMAIL_DIR's default
_UNSAFE = re.compile(r"[^A-Za-z0-9+-]+")


def _types() -> mimetypes.MimeTypes:
    types = mimetypes.MimeTypes()  # the built-in table only, not the host's /etc/mime.types
    types.add_type("audio/wav", ".wav")  # the registered name (the table says audio/x-wav)
    for extension, kind in ((".ogg", "audio/ogg"), (".flac", "audio/flac"), (".m4a", "audio/mp4")):
        types.add_type(kind, extension)  # formats FreeSWITCH can record that the table lacks
    return types


def safe_name(text: str, limit: int) -> str:
    """Letters, digits, `+` and `-` only, each run of anything else as one `_`, at most `limit`."""
    return _UNSAFE.sub("_", text).strip("_")[:limit].strip("_")


def file_name(voicemail: dict[str, Any], call: dict[str, Any], extension: str) -> str:
    """`voicemail-<caller name>-<caller number>-<YYYYmmdd-HHMMSS>.<ext>` (UTC time the message was
    left; the name left out when it is the number or empty)."""
    name, number = str(call.get("caller_id_name") or ""), str(call.get("caller_id_number") or "")
    when = datetime.datetime.fromtimestamp(float(voicemail.get("timestamp") or call.get("started_at") or 0),
                                           tz=datetime.UTC)
    parts = ("voicemail", safe_name(name, 40) if name != number else "", safe_name(number, 20),
             when.strftime("%Y%m%d-%H%M%S"))
    suffix = safe_name(extension.lower(), 8)
    stem = "-".join(part for part in parts if part)
    return f"{stem}.{suffix}" if suffix else stem


class Recordings:
    """Reads voicemail recordings for attachment and builds their links."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, media_url: str = "", *,
                 root: str = DEFAULT_ROOT) -> None:
        self.max_bytes = max_bytes
        self.media_url = media_url.rstrip("/")
        self.root = os.path.realpath(root)
        self._types = _types()

    def url(self, voicemail: dict[str, Any]) -> str:
        if voicemail.get("media_url"):
            return str(voicemail["media_url"])
        if self.media_url and voicemail.get("message_id"):
            return f"{self.media_url}/{quote(str(voicemail['message_id']), safe='')}"
        return ""

    def attachment(self, job: dict[str, Any]) -> Attachment | None:
        """The recording of a job as an attachment, or None when it cannot be attached."""
        voicemail = (job.get("data") or {}).get("voicemail") or {}
        path = str(voicemail.get("media_path") or "")
        if not path:
            return None
        content_type = self._types.guess_type(path)[0] or ""
        if not content_type.startswith("audio/"):
            log.info("job %s: %s is not an audio file: not attached", job.get("id"), path)
            return None
        data = self._read(path)
        if data is None:
            return None
        extension = os.path.splitext(path)[1].lstrip(".")
        return Attachment(file_name(voicemail, job.get("call") or {}, extension), content_type, data)

    def read(self, path: str) -> bytes | None:
        """The recording at `path`, read as an attachment is (inside the voicemail folder, a
        regular file of at most `max_bytes`, no symlink followed); None when it cannot be."""
        return self._read(path)

    def _folder(self, path: str) -> str | None:
        """The path's folder relative to the voicemail folder, every symlink in it resolved; None
        when it lies outside."""
        folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        if os.path.commonpath([folder, self.root]) != self.root:
            return None
        return os.path.relpath(folder, self.root)

    def _open(self, folder: str, name: str) -> int:
        """Open the file walking down from the voicemail folder one component at a time, none of
        them followed if it is (or has become, since the check) a symlink."""
        flags = os.O_RDONLY | os.O_NOFOLLOW
        fd = os.open(self.root, flags | os.O_DIRECTORY)
        try:
            for part in (p for p in folder.split(os.sep) if p not in ("", ".")):
                fd, parent = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd), fd
                os.close(parent)
            return os.open(name, flags | os.O_NONBLOCK, dir_fd=fd)  # O_NONBLOCK: a FIFO has no writer
        finally:
            os.close(fd)

    def _read(self, path: str) -> bytes | None:
        folder = self._folder(path)
        if folder is None:
            log.warning("recording %s is outside the voicemail folder %s: not attached", path, self.root)
            return None
        try:
            with open(self._open(folder, os.path.basename(path)), "rb") as media:
                info = os.fstat(media.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > self.max_bytes:
                    log.info("recording %s: not a regular file or over %d bytes: not attached", path, self.max_bytes)
                    return None
                data = media.read(self.max_bytes + 1)
        except OSError as exc:
            log.info("recording %s not readable here (%s): not attached", path, exc.strerror or exc)
            return None
        return data if len(data) <= self.max_bytes else None
