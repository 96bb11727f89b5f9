"""Telling a fax's recipients: one `fax_inbound_to_email` job for a fax received, one
`fax_inbound_error_to_email` for one that failed (Kazoo's fax_request notify_success /
notify_failure, which teletype turns into these two emails).

Recipients, as Kazoo's fax_request finds them: with a faxbox, its `owner_id` and its
`notifications.inbound.email.send_to` (else `notifications.email.send_to`); without one, the
node's `owner_id`. A node's own `owner_id` is added to a box's. The job is keyed by the call and
its template, so a call mails one of them once.

The job is queued when the call ends, by a termination handler, as missed_call_alert's is,
registered before rxfax starts (`expect`) and given the result once rxfax ends (`settle`): a
Redis that does not answer then, or a controller that dies during or after the fax, leaves it to
the spool or to the controller that finishes the call, and the fax is still mailed once. A call
finished without the result (its controller died during the fax) reads it from the variables of
the channel's CHANNEL_DESTROY, where mod_spandsp left it. The call is marked at once, so that a
missed_call_alert before the fax sends nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.flow import queues_jobs_only
from controller.modules import fax_result
from controller.notify.calldata import call_data, instance_of
from controller.notify.job import make_job

RECEIVED = "fax_inbound_to_email"
FAILED = "fax_inbound_error_to_email"


def send_to(box: Mapping[str, Any]) -> list[str]:
    """The box's inbound email addresses (a string or a list, Kazoo's two forms)."""
    notifications = box.get("notifications") or {}
    found = ((notifications.get("inbound") or {}).get("email") or {}).get("send_to")
    if not found:
        found = (notifications.get("email") or {}).get("send_to")
    addresses = [found] if isinstance(found, str) else list(found or [])
    return [str(a) for a in addresses if str(a).strip()]


def recipients(data: Mapping[str, Any], box: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    owners = [str(o) for o in ((box or {}).get("owner_id"), data.get("owner_id")) if o]
    found: list[dict[str, Any]] = [{"type": "user", "id": owner} for owner in dict.fromkeys(owners)]
    emails = send_to(box or {})
    if emails:
        found.append({"type": "email", "id": emails})
    return found


def expect(call: Call, data: Mapping[str, Any], box: Mapping[str, Any] | None, *, fax_id: str, started: float,
           path: str) -> dict[str, Any]:
    """Before rxfax: have this fax's job queued when the call ends, whatever happens meanwhile.
    Returns the handler's data, which `settle` completes with the result."""
    about: dict[str, Any] = {"fax_id": fax_id, "started": started, "path": path}
    if box:
        about.update(box_id=str(box["id"]), box_name=str(box.get("name", "")))
    owner = data.get("owner_id") or (box or {}).get("owner_id")
    if owner:
        about["owner_id"] = str(owner)
    entry = {"recipients": recipients(data, box), "expected": about}
    call.register_termination(send, entry)
    call.mark_fax_mailed()
    return entry


def settle(call: Call, entry: dict[str, Any], result: fax_result.FaxResult) -> None:
    """rxfax ended: the job will say how (`result`)."""
    entry["fax"] = described(entry["expected"], result)
    call.save_state()


def described(expected: Mapping[str, Any], result: fax_result.FaxResult) -> dict[str, Any]:
    """The job's `data.fax`: fax_result.about, with the box and owner."""
    fax = fax_result.about(str(expected["fax_id"]), float(expected["started"]), str(expected["path"]), result)
    fax.update({k: expected[k] for k in ("box_id", "box_name", "owner_id") if k in expected})
    return fax


@queues_jobs_only
def send(call: Call, data: dict[str, Any]) -> None:
    """Termination handler: queue the fax's one job. Without the result (the controller that
    ran rxfax died), the channel's last variables tell it, else the call dropped."""
    fax = data.get("fax") or described(data["expected"], fax_result.read(call.last_variables, is_gone=True))
    kind = RECEIVED if fax["success"] else FAILED
    job = make_job(kind, call.account_id, call_data(call), instance=instance_of(call),
                   recipients=list(data["recipients"]), data={"fax": dict(fax)})
    call.queue_job(job)
