"""mod_spandsp's `rxfax PATH` as the simulator plays it, and the fax machine a simulated caller
may be (`Scenario.fax`).

What a real FreeSWITCH 1.11 showed (through loopback, `txfax` on the other leg): rxfax answers
nothing itself and returns `_none_` once the T.30 session ends; the result is in channel
variables set by its phase E handler, there on the app's CHANNEL_EXECUTE_COMPLETE:
fax_success (1/0), fax_result_code, fax_result_text, fax_document_transferred_pages,
fax_document_total_pages, fax_remote_station_id (the sender's own id), fax_local_station_id
(fax_ident), fax_transfer_rate, fax_ecm_used, fax_t38_status. Two pages took 20 s at 14400
bit/s. A caller who hangs up ends it with code 49, "The call dropped prematurely", 0 pages; one
that sends no fax tones times out after spandsp's T0, 60 s: code 2, "Timed out waiting for
initial communication". The TIFF is written only when pages arrive; like `record`, a folder that
does not exist is not created (the file cannot be opened).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from controller.lab.simulator import SimulatedCall

T0_SECONDS = 60.0  # spandsp's DEFAULT_TIMER_T0: no fax tones at all
RESULTS = {
    0: "OK",
    2: "Timed out waiting for initial communication",
    40: "TIFF/F file cannot be opened",
    49: "The call dropped prematurely",
}
PAGE_SIZE = (1728, 240)  # a fax page's width in pixels (A4/letter at 204 dpi); short, to be quick


@dataclasses.dataclass(frozen=True)
class FaxSender:
    """A caller that is a fax machine: sends `pages` in `seconds` (not scaled), ending with
    spandsp's `result_code` (0: the pages arrive), naming itself `station_id`."""

    pages: int = 1
    seconds: float = 0.02
    result_code: int = 0
    station_id: str = "+15557770000"
    t38: bool = False  # the sender switches to T.38 when FreeSWITCH offers it


def write_tiff(path: str, pages: int) -> None:
    """A fax's TIFF: bilevel G4 pages at 204 x 196 dpi, each with a black bar of its number's length."""
    images = []
    for number in range(1, pages + 1):
        page = Image.new("1", PAGE_SIZE, 1)
        ImageDraw.Draw(page).rectangle((40, 40, 40 + 100 * number, 80), fill=0)
        images.append(page)
    images[0].save(path, "TIFF", compression="group4", dpi=(204, 196), save_all=True, append_images=images[1:])


def _result(call: SimulatedCall, code: int, pages: int, sender: FaxSender | None, path: str) -> str:
    t38 = sender is not None and sender.t38 and call.channel.variable("fax_enable_t38") == "true"
    call.channel.set_variables({f"variable_{name}": value for name, value in {
        "fax_success": "1" if code == 0 else "0", "fax_result_code": str(code),
        "fax_result_text": RESULTS.get(code, f"spandsp error {code}"),
        "fax_document_transferred_pages": str(pages), "fax_document_total_pages": str(pages),
        "fax_remote_station_id": sender.station_id if sender and code != 2 else "",
        "fax_local_station_id": call.channel.variable("fax_ident") or "SpanDSP Fax Ident",
        "fax_transfer_rate": "14400", "fax_ecm_used": "on" if pages else "off",
        "fax_t38_status": "on" if t38 else "off", "fax_filename": path,
    }.items()})
    return "_none_"


def rxfax(call: SimulatedCall, arg: str) -> str:
    path = arg.strip()
    sender = call.scenario.fax
    if sender is None:  # a voice caller: no fax tones
        if call.wait(call.scenario.scaled(T0_SECONDS)):
            return _result(call, 2, 0, None, path)
        return _result(call, 49, 0, None, path)
    if not call.wait(sender.seconds):
        return _result(call, 49, 0, sender, path)
    if sender.result_code != 0:
        return _result(call, sender.result_code, 0, sender, path)
    if not os.path.isdir(os.path.dirname(path) or "."):
        return _result(call, 40, 0, sender, path)
    write_tiff(path, sender.pages)
    return _result(call, 0, sender.pages, sender, path)
