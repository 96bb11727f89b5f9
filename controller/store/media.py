"""The audio of the accounts' `media` documents (Kazoo keeps it as the media document's
attachment; here it is a file FreeSWITCH plays directly).

Layout: `<root>/<account id>/<media id>.wav` or `.mp3`, where root is `CONTROLLER_MEDIA_DIR`,
else `<CONTROLLER_DATA_DIR>/media`, made absolute (FreeSWITCH resolves a relative path against
its sound folder). Every name is built here from ids that match ID (letters, digits, `_`, `-`:
no `.`, no separator), never from a client's text such as an upload's file name.

The API writes the files: a temporary file in the account's folder, fsynced, renamed over the
old one, so a call already playing the old audio keeps it and the next call gets the new one.
FreeSWITCH reads them: folders are created 0755 and files 0644 (less the process's umask). Below
the root, each folder and file is opened one at a time with O_NOFOLLOW: a folder or file swapped
for a symlink is not followed, for reading, writing or removing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator

from controller.config import Settings
from controller.store.audio import KINDS, Kind

log = logging.getLogger(__name__)

ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def media_root(settings: Settings) -> str:
    """Where the media files live (absolute)."""
    return os.path.abspath(settings.media_dir or os.path.join(settings.data_dir, "media"))


def is_id(text: object) -> bool:
    return isinstance(text, str) and ID.fullmatch(text) is not None


def file_name(media_id: str, kind: Kind) -> str:
    if not is_id(media_id):
        raise ValueError(f"media id {media_id!r} cannot name a file")
    return f"{media_id}.{kind.extension}"


def file_path(root: str, account_id: str, media_id: str, kind: Kind) -> str:
    """The path FreeSWITCH plays a stored media file from."""
    if not is_id(account_id):
        raise ValueError(f"account id {account_id!r} cannot name a folder")
    return f"{root}/{account_id}/{file_name(media_id, kind)}"


class MediaFiles:
    """The media files under one root."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, account_id: str, media_id: str, kind: Kind) -> str:
        return file_path(self.root, account_id, media_id, kind)

    @contextlib.contextmanager
    def _folder(self, account_id: str, create: bool = False) -> Iterator[int]:
        """The account's folder, opened (created first when `create`)."""
        if not is_id(account_id):
            raise ValueError(f"account id {account_id!r} cannot name a folder")
        if create:
            os.makedirs(self.root, mode=0o755, exist_ok=True)
        root = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)  # the operator's: may be a symlink
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(account_id, 0o755, dir_fd=root)
            folder = os.open(account_id, _DIRECTORY, dir_fd=root)
        finally:
            os.close(root)
        try:
            yield folder
        finally:
            os.close(folder)

    def write(self, account_id: str, media_id: str, kind: Kind, data: bytes) -> str:
        """Store the audio (replacing any of the same kind) and return its path. Audio of
        another kind stays until `remove(..., keep=kind)`: the document still names it."""
        name = file_name(media_id, kind)
        temporary = f".{media_id}.{secrets.token_hex(8)}.part"
        with self._folder(account_id, create=True) as folder:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=folder)
            try:
                with open(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder)
                raise
            os.fsync(folder)
        return self.path(account_id, media_id, kind)

    def read(self, account_id: str, media_id: str, kind: Kind, limit: int) -> bytes | None:
        """The audio, or None when there is none (or it is no regular file, or over `limit`)."""
        name = file_name(media_id, kind)
        try:
            with self._folder(account_id) as folder:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError:
            return None
        with open(fd, "rb") as media:
            info = os.fstat(media.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
                return None
            data = media.read(limit + 1)
        return data if len(data) <= limit else None

    def remove(self, account_id: str, media_id: str, keep: Kind | None = None) -> None:
        """Remove the media's audio (all kinds but `keep`); nothing there is no error."""
        try:
            with self._folder(account_id) as folder:
                for kind in KINDS:
                    if kind != keep:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(file_name(media_id, kind), dir_fd=folder)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("media %s of account %s: audio not removed (%s)", media_id, account_id, exc.strerror or exc)

    def remove_account(self, account_id: str) -> None:
        """Remove the account's folder with the files in it (a deleted account's media); a
        symlink in its place is removed, not followed."""
        try:
            with self._folder(account_id) as folder:
                for entry in os.listdir(folder):
                    with contextlib.suppress(OSError):
                        os.unlink(entry, dir_fd=folder)
        except FileNotFoundError:
            return
        except OSError:  # a symlink (ELOOP) or a file (ENOTDIR) where the folder should be
            pass
        root = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.stat(account_id, dir_fd=root, follow_symlinks=False).st_mode):
                    os.rmdir(account_id, dir_fd=root)
                else:
                    os.unlink(account_id, dir_fd=root)
        finally:
            os.close(root)
