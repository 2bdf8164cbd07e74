"""Bilevel images (JBIG2, CCITT fax): decoded by PDFium, written anew as CCITT Group 4.

Neither codec has a decoder here outside a PDF reader, so PDFium, the reader 画像化
renders with, decodes them.  Each image is placed alone on a page of a scratch document
that holds only what decoding reads: its codec's data and parameters (JBIG2 globals
included) and its size, as 1-bit grey.  PDFium's unrendered bitmap of it is then the
image's samples whatever the colour space, decode array or masks of the original, which
keeps them.  The samples are compressed again by libtiff (``group4.py``); nothing of the
coded data is kept, so what follows its end, or hides in JBIG2 segments that no page
draws, goes.

The page and region sizes a JBIG2 stream declares are held to max_pixels before PDFium
allocates them, as the image's own size is.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from sanitizers.base import Limits
from sanitizers.errors import LimitError
from sanitizers.pdf.group4 import group4
from sanitizers.pdf.values import int_of

JBIG2 = "/JBIG2Decode"
CCITT = frozenset({"/CCITTFaxDecode", "/CCF"})
BILEVEL_CODECS = CCITT | {JBIG2}
#: CCITT's default line width (ISO 32000-2, Table 11).
DEFAULT_COLUMNS = 1728
#: JBIG2 segment types that declare a region's size first (ITU-T T.88, 7.3 and 7.4.1).
_REGION_SEGMENTS = frozenset({4, 6, 7, 20, 22, 23, 36, 38, 39, 40, 42, 43})
_PAGE_INFORMATION = 48
_END_OF_STRIPE = 50
_UNKNOWN_HEIGHT = _UNKNOWN_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class BilevelImage:
    """What decoding a bilevel image reads; ``parms`` may belong to any open PDF."""

    codec: str
    untrusted_data: bytes
    parms: pikepdf.Object | None
    width: int
    height: int


def decoded_bits(images: Sequence[BilevelImage], limits: Limits) -> list[Image.Image | None]:
    """Each image's samples as a "1" image (a 1 bit is a sample of 1), or None where
    PDFium cannot decode it.  Raises LimitError for sizes beyond max_pixels."""
    if not images:
        return []
    for image in images:
        _check_sizes(image, limits)
    with pikepdf.Pdf.new() as scratch:
        for image in images:
            _add_page(scratch, image)
        buffer = io.BytesIO()
        scratch.save(buffer)
    document = pdfium.PdfDocument(buffer.getvalue())
    try:
        return [_decoded(document, index, image) for index, image in enumerate(images)]
    finally:
        document.close()


def group4_entries(bits: Image.Image) -> tuple[bytes, pikepdf.Name, pikepdf.Dictionary | None]:
    """The data, filter and parameters of an image of ``bits``: CCITT G4, or the bits
    Flate-compressed when libtiff splits them into strips."""
    coded = group4(bits)
    if coded is None:
        return zlib.compress(bits.tobytes()), pikepdf.Name.FlateDecode, None
    parms = pikepdf.Dictionary(K=-1, Columns=bits.width, Rows=bits.height, BlackIs1=True)
    return coded, pikepdf.Name.CCITTFaxDecode, parms


def _check_sizes(image: BilevelImage, limits: Limits) -> None:
    if image.width * image.height > limits.max_pixels:
        raise LimitError(
            "pdf.limit", f"an image of {image.width}×{image.height} exceeds max_pixels {limits.max_pixels}"
        )
    if image.codec == JBIG2:
        _check_jbig2_sizes(image.untrusted_data, limits.max_pixels)
        globals_stream = (
            image.parms.get("/JBIG2Globals") if isinstance(image.parms, pikepdf.Dictionary) else None
        )
        if isinstance(globals_stream, pikepdf.Stream):
            _check_jbig2_sizes(globals_stream.read_raw_bytes(), limits.max_pixels)
        return
    columns = int_of(image.parms.get("/Columns")) if isinstance(image.parms, pikepdf.Dictionary) else None
    if columns is not None and columns * image.height > limits.max_pixels:
        raise LimitError("pdf.limit", f"fax lines of {columns} pixels exceed max_pixels {limits.max_pixels}")


def _check_jbig2_sizes(untrusted_data: bytes, max_pixels: int) -> None:
    """Raise LimitError when a page, a region or a stripe that the segment headers declare
    exceeds ``max_pixels``.  The walk stops at a truncated header, where PDFium stops too,
    and at a segment of unknown length, the last one it can find."""
    at, page_width = 0, 0
    try:
        while at < len(untrusted_data):
            number, flags, counts = struct.unpack_from(">IBB", untrusted_data, at)
            at += 6
            referred = counts >> 5
            if referred == 7:  # the long form: 29 bits of count, then a retention bit each
                referred = struct.unpack_from(">I", untrusted_data, at - 1)[0] & 0x1FFFFFFF
                at += 3 + (referred + 8) // 8
            at += referred * (1 if number <= 256 else 2 if number <= 65536 else 4)
            at += 4 if flags & 0x40 else 1
            (length,) = struct.unpack_from(">I", untrusted_data, at)
            at += 4
            kind = flags & 0x3F
            if kind == _PAGE_INFORMATION or kind in _REGION_SEGMENTS:
                width, height = struct.unpack_from(">II", untrusted_data, at)
                if kind == _PAGE_INFORMATION:
                    page_width = width
                    height = 0 if height == _UNKNOWN_HEIGHT else height  # striped: see the stripes
                _check_area(width, height, max_pixels)
            elif kind == _END_OF_STRIPE:
                (last_row,) = struct.unpack_from(">I", untrusted_data, at)
                _check_area(page_width, last_row + 1, max_pixels)
            if length == _UNKNOWN_LENGTH:
                return
            at += length
    except struct.error:
        return


def _check_area(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise LimitError(
            "pdf.limit", f"a JBIG2 segment of {width}×{height} pixels exceeds max_pixels {max_pixels}"
        )


def _add_page(scratch: pikepdf.Pdf, image: BilevelImage) -> None:
    stream = scratch.make_stream(
        image.untrusted_data,
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=image.width,
        Height=image.height,
        ColorSpace=pikepdf.Name.DeviceGray,
        BitsPerComponent=1,
        Filter=pikepdf.Name(image.codec),
    )
    if isinstance(image.parms, pikepdf.Dictionary):
        stream.DecodeParms = _copied(scratch, image.parms)
    page = scratch.add_blank_page(page_size=(3, 3))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=stream))
    page.Contents = scratch.make_stream(b"/Im0 Do")


def _copied(scratch: pikepdf.Pdf, value: pikepdf.Object) -> pikepdf.Object:
    """``value`` for ``scratch``: indirect objects (JBIG2 globals) copied over, direct
    dictionaries rebuilt around them."""
    if value.is_indirect:
        return scratch.copy_foreign(value)
    if isinstance(value, pikepdf.Dictionary):
        return pikepdf.Dictionary(
            {
                key: _copied(scratch, item) if isinstance(item, pikepdf.Object) else item
                for key, item in value.items()
            }
        )
    return value


def _decoded(document: pdfium.PdfDocument, index: int, image: BilevelImage) -> Image.Image | None:
    page = document[index]
    try:
        [drawn] = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=1)
        if not isinstance(drawn, pdfium.PdfImage):
            return None
        if bytes(drawn.get_data(decode_simple=False)) != image.untrusted_data:
            return None  # not the stream this page was given: nothing to trust it with
        grey = drawn.get_bitmap(render=False).to_pil().convert("L")  # a copy of the buffer
    except (pdfium.PdfiumError, ValueError):
        return None
    finally:
        page.close()
    if grey.size != (image.width, image.height):
        return None
    bits: Image.Image = grey.convert("1", dither=Image.Dither.NONE)
    return bits
