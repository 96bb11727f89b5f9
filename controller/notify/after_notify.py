"""What becomes of a voicemail message once its email went out: the box's `delete_after_notify`
and `save_after_notify` (Kazoo's kvm_message:notify_and_update_meta).

The mail sender calls `after_delivery` for a job only once the job is complete and that is
written (every recipient reached: no failed, partial or retried send, and not before the send),
and only for a `voicemail_to_email` job whose `data.voicemail.after_notify` names an action, set
from the box when the message was left (voicemail_notify.py):
- `save`: the message moves to the saved folder;
- `delete`: the message document is removed, then its recording, when the email carried the
  recording as an attachment. An email that only linked it (too large, not readable here) leaves
  both: deleting would leave the owner a dead link. Kazoo marks the message deleted; here it is
  gone, with its file, since the owner has it in their mailbox.
A message already gone (deleted by its owner meanwhile, or by an earlier run of the same job)
is nothing to do. A recording is removed only inside the voicemail folder, and a symlink is
removed itself, never what it points to.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from controller.errors import NotFoundError
from controller.notify.prepare import Prepared
from controller.store.voicemail import VoicemailMessages

log = logging.getLogger(__name__)


def action_of(job: Any) -> str:
    """The job's after-notify action: `save`, `delete`, or "" for none."""
    if not isinstance(job, dict) or job.get("type") != "voicemail_to_email":
        return ""
    action = ((job.get("data") or {}).get("voicemail") or {}).get("after_notify")
    return action if action in ("save", "delete") else ""


def after_delivery(rds: Any, root: str, prepared: Prepared) -> None:
    """Apply the job's after-notify action (see the module docstring); `root` is the voicemail
    folder. Never raises: a message that could not be saved or deleted stays as it was."""
    try:
        _apply(rds, root, prepared)
    except Exception:
        log.exception("job %s: after-notify action not applied", prepared.claimed.job_id)


def _apply(rds: Any, root: str, prepared: Prepared) -> None:
    job = prepared.claimed.doc
    action = action_of(job)
    if not action:
        return
    voicemail = job["data"]["voicemail"]
    aid, box_id, message_id = str(job["account_id"]), str(voicemail["box_id"]), str(voicemail.get("message_id", ""))
    messages = VoicemailMessages(rds)
    try:
        message = messages.get(aid, box_id, message_id)
    except NotFoundError:
        return
    if action == "save":
        messages.move(aid, box_id, message_id, "saved")
        log.info("job %s: message %s of box %s saved after its email", job["id"], message_id, box_id)
        return
    if prepared.attachment is None:
        log.info("job %s: message %s of box %s kept: its email linked the recording", job["id"], message_id, box_id)
        return
    messages.remove(aid, box_id, message_id)
    remove_recording(root, str(message.get("media_path") or ""))
    log.info("job %s: message %s of box %s deleted after its email", job["id"], message_id, box_id)


def remove_recording(root: str, path: str) -> None:
    """Remove a recording of the voicemail folder `root` (anything else is left, logged)."""
    if not path:
        return
    real_root = os.path.realpath(root)
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    if os.path.commonpath([folder, real_root]) != real_root:
        log.warning("recording %s is outside the voicemail folder %s: left", path, real_root)
        return
    try:
        os.unlink(os.path.join(folder, os.path.basename(path)))
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("recording %s left: %s", path, exc)
