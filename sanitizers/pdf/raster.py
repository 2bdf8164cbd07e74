"""画像化: every page rendered to pixels and reassembled as an image-only PDF.

Nothing of the original object graph survives: the output is written from scratch,
one page per page at its displayed size, drawing only pixels.  Each page is encoded by
its content (``encode.py``): a photograph as JPEG, a chart as a palette image, a black
and white page as shared symbols (``symbols.py``) or G4, so that rasterised office
documents stay small.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pikepdf
import pypdfium2 as pdfium

from sanitizers.base import Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.errors import LimitError
from sanitizers.output import write_atomically
from sanitizers.pdf.encode import encode_page
from sanitizers.pdf.pdfium_open import displayed_size, is_encrypted, open_with_pdfium
from sanitizers.pdf.symbols import SymbolBook, SymbolPage, inset_matrix
from sanitizers.pdf.verify import Promise, verify_pdf

POINTS_PER_INCH = 72
CONTENT_FLATE_LEVEL = 9
IMAGE_ONLY = Promise(web_links=False, metadata=False, image_only=True)


class PdfImage(Sanitizer):
    """画像化: render each page and emit an image-only PDF of the same pages."""

    types: ClassVar[frozenset[str]] = frozenset({"pdf"})
    method: ClassVar[str] = "image"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "dpi": OptionSpec(150, "rendering resolution in dots per inch", minimum=50, maximum=600),
        "quality": OptionSpec(75, "JPEG quality for photographic pages", minimum=30, maximum=95),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        chosen = self.resolved_options(options)
        dpi, quality = int(chosen["dpi"]), int(chosen["quality"])
        scale = dpi / POINTS_PER_INCH
        report = Report("pdf")
        with open_with_pdfium(untrusted_src, limits) as document:
            sizes = [_checked_size(document, index, scale, limits) for index in range(len(document))]
            if is_encrypted(document):
                report.add("pdf.decrypted", "decrypted", location="owner password only")
            output = pikepdf.Pdf.new()
            book = SymbolBook(output, tall_line=dpi // 3)  # a third of an inch
            for index, size in enumerate(sizes):
                last_page = index == len(sizes) - 1
                _add_rendered_page(output, book, document[index], size, dpi, quality, last_page)
        buffer = io.BytesIO()
        output.save(
            buffer,
            compress_streams=True,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            deterministic_id=True,
        )
        rasterised = buffer.getvalue()
        verify_pdf(rasterised, IMAGE_ONLY, limits, rerun_encoders=False)
        write_atomically(dst, rasterised)
        report.add("pdf.page", "neutralised", len(sizes), f"rendered to images at {dpi} dpi")
        return report


def _checked_size(
    document: pdfium.PdfDocument, index: int, scale: float, limits: Limits
) -> tuple[float, float]:
    """The page's size in points, once its rendering is known to fit max_pixels."""
    page = document[index]
    try:
        untrusted_width, untrusted_height = displayed_size(page)
    finally:
        page.close()
    width_px = math.ceil(untrusted_width * scale)
    height_px = math.ceil(untrusted_height * scale)
    if width_px < 1 or height_px < 1:
        raise LimitError(
            "pdf.limit", f"page {index + 1} has no area ({untrusted_width}×{untrusted_height} pt)"
        )
    if width_px * height_px > limits.max_pixels:
        raise LimitError(
            "pdf.limit",
            f"page {index + 1} renders to {width_px}×{height_px} pixels, over max_pixels {limits.max_pixels}",
        )
    return untrusted_width, untrusted_height


def _add_rendered_page(
    output: pikepdf.Pdf,
    book: SymbolBook,
    page: pdfium.PdfPage,
    size: tuple[float, float],
    dpi: int,
    quality: int,
    last_page: bool,
) -> None:
    # Text and vector art are rendered without anti-aliasing so that office pages keep
    # two or a few colours and compress as symbols, G4 or a palette; images stay smoothed.
    bitmap = page.render(
        scale=dpi / POINTS_PER_INCH, rev_byteorder=True, no_smoothtext=True, no_smoothpath=True
    )
    try:
        encoded = encode_page(
            bitmap.to_pil(), quality, book, last_page=last_page
        )  # the PIL image shares the bitmap's buffer
    finally:
        bitmap.close()
        page.close()
    # The bitmap spans the page exactly (PDFium stretches the page onto whole pixels),
    # so one bitmap pixel is width/columns by height/rows points, not quite 72/dpi.
    to_pixels = b"%s 0 0 %s 0 0 cm" % (_number(size[0] / encoded.width), _number(size[1] / encoded.height))
    if isinstance(encoded, SymbolPage):
        book.commit(encoded)
        _append_page(output, size, b"q %s\n%sQ" % (to_pixels, encoded.content), book.resources)
        return
    image = output.make_stream(encoded.data, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image)
    for key, value in encoded.dictionary.items():
        image[key] = value
    content = b"q %s %s /Im0 Do Q" % (to_pixels, inset_matrix(encoded.width, encoded.height))
    _append_page(output, size, content, pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)))


def _append_page(
    output: pikepdf.Pdf, size: tuple[float, float], content: bytes, resources: pikepdf.Object
) -> None:
    width, height = (Decimal(_number(v).decode()) for v in size)
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=pikepdf.Array([0, 0, width, height]),
        Resources=resources,
        Contents=output.make_stream(b""),
    )
    # At the highest level: text pages are mostly their content, and qpdf keeps a
    # stream that is already compressed as it is.
    page.Contents.write(zlib.compress(content, CONTENT_FLATE_LEVEL), filter=pikepdf.Name.FlateDecode)
    output.pages.append(pikepdf.Page(page))


def _number(value: float) -> bytes:
    """A PDF number without exponent, precise to a millionth of a pixel on any page."""
    return (f"{value:.10f}".rstrip("0").rstrip(".") or "0").encode()
