"""What mod_spandsp says about a fax it received: the variables its rxfax sets when the T.30
session ends (mod_spandsp_fax.c's phase E handler), read from the app's CHANNEL_EXECUTE_COMPLETE.

A real FreeSWITCH (1.11, through loopback) set, for two pages received: fax_success 1,
fax_result_code 0, fax_result_text OK, fax_document_transferred_pages 2,
fax_document_total_pages 2, fax_remote_station_id (what the sender's machine calls itself),
fax_local_station_id, fax_transfer_rate 14400, fax_ecm_used on, fax_t38_status off; for a caller
that hung up after two seconds of tone: code 49, "The call dropped prematurely", 0 pages. A
completion without them (the channel went before FreeSWITCH told us) reads as that same failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

RESULT_VARIABLES = (
    "fax_success", "fax_result_code", "fax_result_text", "fax_document_transferred_pages",
    "fax_document_total_pages", "fax_remote_station_id", "fax_transfer_rate", "fax_ecm_used",
    "fax_t38_status",
)
CALL_DROPPED = (49, "The call dropped prematurely")  # spandsp's T30_ERR_CALLDROPPED
NOT_STARTED = (-1, "The fax was not received: FreeSWITCH did not run rxfax")
NO_PAGES = "no pages received"  # Kazoo's fax_request, for a success without a page
TEXT_LIMIT = 256  # the job schema's bound on texts FreeSWITCH (and the caller's machine) chose


@dataclasses.dataclass(frozen=True)
class FaxResult:
    is_success: bool
    code: int
    text: str
    transferred_pages: int = 0
    total_pages: int = 0
    remote_station_id: str = ""
    transfer_rate: int = 0
    ecm_used: bool = False
    t38: bool = False


def _int(value: str) -> int:
    return int(value) if value.strip().lstrip("-").isdigit() else 0


def read(completion: Mapping[str, str], is_gone: bool = False) -> FaxResult:
    """The result in rxfax's completion; without one, the call dropped (`is_gone`) or rxfax
    never ran."""
    def var(name: str) -> str:
        return str(completion.get("variable_" + name) or "")

    if not var("fax_result_code").strip():
        code, text = CALL_DROPPED if is_gone or not completion else NOT_STARTED
        return FaxResult(False, code, text)
    pages = _int(var("fax_document_transferred_pages"))
    success = var("fax_success") == "1"
    text = var("fax_result_text") or ("OK" if success else "unknown error")
    if success and pages == 0:
        success, text = False, NO_PAGES
    return FaxResult(
        is_success=success, code=_int(var("fax_result_code")), text=text, transferred_pages=pages,
        total_pages=_int(var("fax_document_total_pages")), remote_station_id=var("fax_remote_station_id"),
        transfer_rate=_int(var("fax_transfer_rate")), ecm_used=var("fax_ecm_used") == "on",
        t38=var("fax_t38_status") not in ("", "off"),
    )


def about(fax_id: str, timestamp: float, path: str, result: FaxResult) -> dict[str, Any]:
    """The job's `data.fax` (notify/job.schema.json): the TIFF's path only for a fax received."""
    fax: dict[str, Any] = {
        "fax_id": fax_id, "timestamp": timestamp, "success": result.is_success,
        "result_code": result.code, "result_text": result.text[:TEXT_LIMIT],
        "transferred_pages": result.transferred_pages, "total_pages": result.total_pages,
        "remote_station_id": result.remote_station_id[:TEXT_LIMIT], "transfer_rate": result.transfer_rate,
        "ecm_used": result.ecm_used, "t38": result.t38,
    }
    if result.is_success:
        fax["media_path"] = path
    return fax
