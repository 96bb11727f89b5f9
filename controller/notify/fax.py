"""The received fax as the PDF attachment of its email (Kazoo teletype's fax_inbound_to_email;
the macros of both fax emails are fax_macros.py).

`data.fax.media_path` is where FreeSWITCH wrote the TIFF. It is read only from the job's own
account's folder, `<CONTROLLER_FAX_DIR>/<account>` (where receive_fax has rxfax write it: a job
naming another account's fax, or anything else, attaches nothing), as voicemail recordings are
(recording.py: no symlink followed, at most `CONTROLLER_MAX_ATTACHMENT_BYTES`), converted to
PDF (fax_pdf.py) and attached as `fax-<caller number>-<YYYYmmdd-HHMMSS>.pdf`; a file that cannot
be read or converted is not attached (the email says so).
"""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

from controller.notify import fax_pdf
from controller.notify.message import Attachment
from controller.notify.recording import DEFAULT_MAX_BYTES, Recordings, safe_name

log = logging.getLogger(__name__)

DEFAULT_ROOT = "/var/lib/freeswitch/storage/fax"  # CONTROLLER_FAX_DIR's default
JOB_TYPES = frozenset({"fax_inbound_to_email", "fax_inbound_error_to_email"})


def fax_of(job: dict[str, Any]) -> dict[str, Any]:
    return dict((job.get("data") or {}).get("fax") or {})


def file_name(fax: dict[str, Any], call: dict[str, Any]) -> str:
    when = datetime.datetime.fromtimestamp(float(fax.get("timestamp") or call.get("started_at") or 0),
                                           tz=datetime.UTC)
    number = safe_name(str(call.get("caller_id_number") or ""), 20)
    return "-".join(p for p in ("fax", number, when.strftime("%Y%m%d-%H%M%S")) if p) + ".pdf"


class Faxes:
    """Reads received faxes and makes them PDF attachments."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, *, root: str = DEFAULT_ROOT) -> None:
        self._files = Recordings(max_bytes, root=root)  # the same guarded read, another folder

    def attachment(self, job: dict[str, Any]) -> Attachment | None:
        """The fax of a `fax_inbound_to_email` job as a PDF, or None when it cannot be."""
        fax = fax_of(job)
        path = str(fax.get("media_path") or "")
        if job.get("type") != "fax_inbound_to_email" or not path:
            return None
        if not self.is_in_account_folder(path, str(job.get("account_id") or "")):
            log.warning("job %s: fax %s is not in its account's fax folder: not attached", job.get("id"), path)
            return None
        tiff = self._files.read(path)
        if tiff is None:
            return None
        try:
            pdf = fax_pdf.convert_off_loop(tiff)
        except fax_pdf.FaxConversionError as exc:
            log.warning("job %s: fax %s not attached: %s", job.get("id"), path, exc)
            return None
        return Attachment(file_name(fax, job.get("call") or {}), "application/pdf", pdf.data)

    def is_in_account_folder(self, path: str, account_id: str) -> bool:
        """Whether the file lies right in `<fax dir>/<account>` (that folder's real path: the
        guarded read then refuses any symlink on the way down)."""
        if not account_id or account_id in (".", "..") or os.sep in account_id or "\x00" in account_id:
            return False
        folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        return folder == os.path.join(self._files.root, account_id)
