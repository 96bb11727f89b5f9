"""The macros of the two fax emails (Kazoo teletype's FAX_MACROS and FAX_ERROR_MACROS):
`fax.*` and `error.*`, from a job's `data.fax` (receive_fax's).

The values the sender's fax machine chose (its station id) are caller text: made one line, as
call data is (macros.py), and escaped in the HTML body like every macro.
"""

from __future__ import annotations

from typing import Any

from controller.esl.safety import one_line


def fax_macros(fax: dict[str, Any], when: dict[str, str], file_name: str) -> dict[str, Any]:
    """`when`: the fax's time as macros.py writes times; `file_name`: the PDF attached (empty
    when none)."""
    text = one_line(fax.get("result_text") or "")
    values = {
        "id": fax.get("fax_id", ""), "box_id": fax.get("box_id", ""), "box_name": one_line(fax.get("box_name", "")),
        "timestamp": fax.get("timestamp", ""), "date": when, "success": bool(fax.get("success")),
        "result_code": fax.get("result_code", ""), "result_text": text,
        "total_pages": fax.get("total_pages", 0), "transferred_pages": fax.get("transferred_pages", 0),
        "remote_station_id": one_line(fax.get("remote_station_id") or ""),
        "transfer_rate": fax.get("transfer_rate", 0), "ecm_used": bool(fax.get("ecm_used")),
        "t38": bool(fax.get("t38")), "attached": bool(file_name), "media": file_name,
        "document_type": "pdf" if file_name else "", "info": text,
    }
    return {"fax": values, "error": {"fax_info": "" if fax.get("success") else text, "call_info": ""}}
