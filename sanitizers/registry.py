"""The sanitisers the product ships, registered explicitly (no import side effects)."""

from __future__ import annotations

from sanitizers.archives import ArchiveRefusal, ZipRebuild
from sanitizers.base import Registry, Sanitizer
from sanitizers.convert import OfficeToImage, OfficeToPdf
from sanitizers.html import HtmlRebuild, HtmlText
from sanitizers.images import ImageRebuild
from sanitizers.ole import OleRebuild
from sanitizers.ooxml import OoxmlRebuild, XlsbRefusal
from sanitizers.pdf import PdfImage, PdfRebuild, PdfText
from sanitizers.rtf import RtfRebuild
from sanitizers.svg import SvgRebuild
from sanitizers.text import CsvRebuild, TextRebuild


def shipped_sanitizers() -> list[Sanitizer]:
    return [
        PdfRebuild(),
        PdfImage(),
        PdfText(),
        ImageRebuild(),
        TextRebuild(),
        CsvRebuild(),
        HtmlRebuild(),
        HtmlText(),
        SvgRebuild(),
        RtfRebuild(),
        OoxmlRebuild(),
        OleRebuild(),
        XlsbRefusal(),
        ZipRebuild(),
        ArchiveRefusal(),
        OfficeToPdf(),
        OfficeToImage(),
    ]


def default_registry() -> Registry:
    return Registry(shipped_sanitizers())
