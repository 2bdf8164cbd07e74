"""Opening untrusted PDFs with PDFium (for 画像化 and テキスト化) under the limits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from sanitizers.base import Limits
from sanitizers.errors import LimitError, MalformedError
from sanitizers.pdf.limits import encryption_refusal

PDFIUM_PASSWORD_ERROR = 4
NOT_ENCRYPTED = -1


@contextmanager
def open_with_pdfium(untrusted_path: Path, limits: Limits) -> Iterator[pdfium.PdfDocument]:
    """A PDFium document with an acceptable page count; closed on exit.

    No password is tried: owner-password-only files open, anything else is refused.
    Forms are never initialised, so no form environment (and no script engine) exists.
    """
    limits.checked_size(untrusted_path, "pdf.limit")
    try:
        document = pdfium.PdfDocument(untrusted_path)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == PDFIUM_PASSWORD_ERROR:
            raise encryption_refusal(untrusted_path) from None
        raise MalformedError("pdf.malformed", f"PDFium cannot open it: {exc}") from None
    try:
        pages = len(document)
        if pages == 0:
            raise MalformedError("pdf.malformed", "the document has no pages")
        if pages > limits.max_pages:
            raise LimitError("pdf.limit", f"{pages} pages, limit {limits.max_pages}")
        yield document
    except pdfium.PdfiumError as exc:  # a page that cannot be loaded or rendered
        raise MalformedError("pdf.malformed", f"PDFium cannot read it: {exc}") from None
    finally:
        document.close()


def is_encrypted(document: pdfium.PdfDocument) -> bool:
    return int(pdfium_c.FPDF_GetSecurityHandlerRevision(document)) != NOT_ENCRYPTED


def displayed_size(page: pdfium.PdfPage) -> tuple[float, float]:
    """Width and height in points as the page is shown (PDFium applies /Rotate)."""
    width, height = page.get_size()
    return float(width), float(height)
