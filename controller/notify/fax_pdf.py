"""A received fax (the TIFF mod_spandsp writes) as a PDF, with Pillow: one PDF page per TIFF
page, at the first page's resolution (faxes are 204 x 98 or 204 x 196 dpi, the same on every
page of one fax; Pillow takes one for the document): the pages keep their paper size. Bilevel
pages stay CCITT G4-compressed.

This runs in the mail sender only, never in the process that serves calls, and off its event
loop (a gevent thread pool: decoding and encoding pages holds the CPU for tens of ms each).
The TIFF's pixels came from the caller's fax machine: Pillow's decompression-bomb limit stays on
and at most `MAX_PAGES` pages are read.
"""

from __future__ import annotations

import dataclasses
import io

import gevent
from PIL import Image, ImageSequence

MAX_PAGES = 200
FAX_DPI = (204.0, 196.0)  # when a page says nothing of its resolution (fine mode)


class FaxConversionError(Exception):
    """The file is not a TIFF Pillow can read, or has no page."""


@dataclasses.dataclass(frozen=True)
class Pdf:
    data: bytes
    pages: int


def _dpi(page: Image.Image) -> tuple[float, float]:
    dpi = page.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2 and all(float(d) > 1 for d in dpi):
        return float(dpi[0]), float(dpi[1])
    return FAX_DPI


def convert(tiff: bytes) -> Pdf:
    """The PDF of a TIFF's pages (FaxConversionError when it cannot be read)."""
    try:
        with Image.open(io.BytesIO(tiff)) as image:
            pages = [(page.convert("1") if page.mode not in ("1", "L", "RGB") else page.copy(), _dpi(page))
                     for page, _ in zip(ImageSequence.Iterator(image), range(MAX_PAGES), strict=False)]
        out = io.BytesIO()
        first, dpi = pages[0]
        first.save(out, "PDF", save_all=True, dpi=dpi, append_images=[page for page, _ in pages[1:]])
    except Exception as exc:  # Pillow's decoders raise many kinds (and warn, as errors in tests)
        raise FaxConversionError(f"not a readable TIFF: {type(exc).__name__}: {exc}") from exc
    return Pdf(out.getvalue(), len(pages))


def convert_off_loop(tiff: bytes) -> Pdf:
    """`convert` in the hub's thread pool, so that the mail sender's heartbeat goes on."""
    result: Pdf = gevent.get_hub().threadpool.apply(convert, (tiff,))
    return result
