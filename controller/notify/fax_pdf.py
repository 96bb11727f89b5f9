"""A received fax (the TIFF mod_spandsp writes) as a PDF, with Pillow: one PDF page per TIFF
page, at the first page's resolution (faxes are 204 x 98 or 204 x 196 dpi, the same on every
page of one fax; Pillow takes one for the document): the pages keep their paper size. Bilevel
pages stay CCITT G4-compressed.

This runs in the mail sender only, never in the process that serves calls, and off its event
loop (a gevent thread pool: decoding and encoding pages holds the CPU for tens of ms each).
The TIFF's pixels came from the caller's fax machine, and a G4 page of a few bytes can say it is
millions of lines long: every page's size is read from its header before any is decoded, a file
of more than `MAX_PAGES` pages or with a page over `MAX_PAGE_PIXELS` is refused, and the pages
are decoded one at a time while the PDF is written (Pillow's PDF writer walks the TIFF's frames),
so a fax never holds more than one decoded page in memory.
"""

from __future__ import annotations

import dataclasses
import io

import gevent
from PIL import Image, ImageSequence

MAX_PAGES = 200
# T.30's widest line (4864 pixels: A3 at 400 dpi) by twice an A4 page's superfine lines: a page
# (one byte a pixel once decoded) stays under 45 MB.
MAX_PAGE_PIXELS = 4864 * 2 * 4576
PDF_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK"})  # what Pillow's PDF writer takes
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
    """The PDF of a TIFF's pages (FaxConversionError when it cannot be read or is too large)."""
    try:
        with Image.open(io.BytesIO(tiff)) as image:
            pages = _count_pages(image)
            image.seek(0)
            out = io.BytesIO()
            image.save(out, "PDF", save_all=True, dpi=_dpi(image))
    except FaxConversionError:
        raise
    except Exception as exc:  # Pillow's decoders raise many kinds (and warn, as errors in tests)
        raise FaxConversionError(f"not a readable TIFF: {type(exc).__name__}: {exc}") from exc
    return Pdf(out.getvalue(), pages)


def _count_pages(image: Image.Image) -> int:
    """How many pages the TIFF has, each checked from its header alone (nothing is decoded)."""
    pages = 0
    for page in ImageSequence.Iterator(image):
        pages += 1
        if pages > MAX_PAGES:
            raise FaxConversionError(f"more than {MAX_PAGES} pages")
        width, height = page.size
        if width * height > MAX_PAGE_PIXELS:
            raise FaxConversionError(f"page {pages} is {width} x {height} pixels, over {MAX_PAGE_PIXELS}")
        if page.mode not in PDF_MODES:
            raise FaxConversionError(f"page {pages} has pixels of mode {page.mode}")
    if not pages:
        raise FaxConversionError("no page")
    return pages


def convert_off_loop(tiff: bytes) -> Pdf:
    """`convert` in the hub's thread pool, so that the mail sender's heartbeat goes on."""
    result: Pdf = gevent.get_hub().threadpool.apply(convert, (tiff,))
    return result
