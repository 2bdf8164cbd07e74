"""テキスト化: the document's text only, as UTF-8, one form feed between pages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pypdfium2 as pdfium

from sanitizers.base import Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.errors import SanitizeError, VerifyError
from sanitizers.output import write_atomically
from sanitizers.pdf.pdfium_open import is_encrypted, open_with_pdfium

PAGE_BREAK = "\f"
#: Control characters that have no place in plain text (tab, newline and form feed do).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0d-\x1f\x7f\ufffe\uffff]")
_LINE_BREAK = re.compile(r"\r\n?")


class PdfText(Sanitizer):
    """テキスト化: extract the text layer with PDFium."""

    types: ClassVar[frozenset[str]] = frozenset({"pdf"})
    method: ClassVar[str] = "text"
    options: ClassVar[Mapping[str, OptionSpec]] = {}

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        report = Report("txt")
        with open_with_pdfium(untrusted_src, limits) as document:
            pages = [_page_text(document, index) for index in range(len(document))]
            if is_encrypted(document):
                report.add("pdf.decrypted", "decrypted", location="owner password only")
        text = PAGE_BREAK.join(pages)
        if not text.strip():
            raise SanitizeError("pdf.no_text", f"{len(pages)} page(s) without extractable text")
        data = text.encode("utf-8", errors="replace")  # lone surrogates from broken ToUnicode maps
        verify_text(data)
        write_atomically(dst, data)
        report.add("pdf.page", "neutralised", len(pages), "text extracted, everything else dropped")
        return report


def _page_text(document: pdfium.PdfDocument, index: int) -> str:
    page = document[index]
    try:
        text_page = page.get_textpage()
        try:
            untrusted_text = str(text_page.get_text_range())
        finally:
            text_page.close()
    finally:
        page.close()
    return _CONTROL.sub("", _LINE_BREAK.sub("\n", untrusted_text))


def verify_text(data: bytes) -> None:
    """The output is strict UTF-8 plain text with no control characters."""
    try:
        written = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerifyError("pdf.verify_failed", f"the text output is not UTF-8: {exc}") from None
    if _CONTROL.search(written):
        raise VerifyError("pdf.verify_failed", "the text output holds control characters")
