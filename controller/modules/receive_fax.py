"""receive_fax — receive a fax from the caller and mail it (Kazoo's cf_receive_fax and cf_faxbox,
which hand the call to the fax application's fax_request), on FreeSWITCH's mod_spandsp.

Data: `owner_id` (the user whose email gets the fax), `faxbox_id` (or Kazoo's `id`: a faxbox
document, `/v2/accounts/{id}/faxboxes`, whose `owner_id` and `notifications.inbound.email.send_to`
get it, whose `fax_identity` (else `caller_id`) is the station id answered with and whose
`fax_header` is FreeSWITCH's fax_header), `media.fax_option` (T.38: `true` or `auto` accept and
ask for it, `false` audio (G.711) only; absent: the faxbox's, else audio only, Kazoo's default).

The controller makes the account's folder `<CONTROLLER_FAX_DIR>/<account>` with FreeSWITCH's
`mkdir` first (rxfax, like record, does not create a missing folder), answers, and runs
`rxfax <folder>/<fax id>.tiff`. What came of it is read from the variables mod_spandsp sets
(fax_success, fax_result_code, fax_result_text, the pages, the remote station id) on the app's
completion, fresh ones: they are cleared first. A fax with fax_success 1 and at least one page
queues one `fax_inbound_to_email` job (the mail sender attaches the TIFF as a PDF); anything else
(no fax tones, the caller hung up, a T.30 error) queues one `fax_inbound_error_to_email` with
mod_spandsp's result text, when the call ends (fax_notify.py: the spool keeps it through a Redis
outage). That job is the call's one email: a `missed_call_alert` earlier in the flow sends nothing
for it. Then the call is hung up and the flow stops, as Kazoo's fax_request ends it.

Caller text (its caller ID, the station id its fax machine sends) never reaches an application
argument: the path is made of the account id and a generated id, and the box's own texts go in
as inert variable values (`multiset`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.errors import ChannelGoneError
from controller.esl.safety import multiset, one_line
from controller.flow import Next
from controller.modules import fax_notify, fax_result

log = logging.getLogger(__name__)


def faxbox(call: Call, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The faxbox the node names (`id` first, as Kazoo's cf_faxbox reads it, then `faxbox_id`)."""
    box_id = str(data.get("id") or data.get("faxbox_id") or "")
    if not box_id:
        return None
    box = call.services.document(call.account_id, "faxboxes", box_id)
    if box is None:
        log.warning("call %s: faxbox %s not found: the fax goes to the node's owner_id only", call.uuid, box_id)
    return box


def t38(data: Mapping[str, Any], box: Mapping[str, Any] | None) -> bool:
    """Whether T.38 is offered: `media.fax_option` of the node, else of the box (Kazoo's
    lookup_fax_option); true, "true" and "auto" say yes, anything else (or nothing) no."""
    option = (data.get("media") or {}).get("fax_option")
    if option is None and box:
        option = (box.get("media") or {}).get("fax_option")
    return option is True or str(option).lower() in ("true", "auto")


def variables(call: Call, box: Mapping[str, Any] | None, offer_t38: bool) -> dict[str, str]:
    """mod_spandsp's settings for this fax, and its result variables cleared."""
    settings = {name: "" for name in fax_result.RESULT_VARIABLES}
    flag = "true" if offer_t38 else "false"
    settings.update({"fax_enable_t38": flag, "fax_enable_t38_request": flag})
    box = box or {}
    ident = str(box.get("fax_identity") or box.get("caller_id") or call.destination)
    settings["fax_ident"] = ident[:20]  # T.30's station id: 20 characters
    if box.get("fax_header"):
        settings["fax_header"] = str(box["fax_header"])
    return settings


def handle(data: dict[str, Any], call: Call) -> Next:
    box = faxbox(call, data)
    fax_id = uuid.uuid4().hex
    folder = f"{call.services.settings.fax_dir}/{call.account_id}"
    path = f"{folder}/{fax_id}.tiff"
    steps = [
        multiset(variables(call, box, t38(data, box))),
        ("mkdir", one_line(folder)),
        ("answer", ""),
        ("rxfax", one_line(path)),
    ]
    entry = fax_notify.expect(call, data, box, fax_id=fax_id, started=time.time(), path=path)
    try:
        completion: Mapping[str, str] = call.channel.execute_all(steps)
    except ChannelGoneError:
        completion = {}  # the caller hung up before mod_spandsp's result reached us
    result = fax_result.read(completion, call.channel.is_gone)
    log.info("call %s: fax %s %s (%s, %d pages)", call.uuid, fax_id,
             "received" if result.is_success else "failed", result.text, result.transferred_pages)
    fax_notify.settle(call, entry, result)
    call.channel.hangup()
    return None
