"""The sanitisers the product ships, registered explicitly (no import side effects)."""

from __future__ import annotations

from pathlib import Path

from sanitizers.archives import ArchiveRebuild, ZipRebuild
from sanitizers.base import Registry, Sanitizer
from sanitizers.convert import OfficeToImage, OfficeToPdf, soffice_path
from sanitizers.html import HtmlRebuild, HtmlText
from sanitizers.images import ImageRebuild
from sanitizers.mail import MailRebuild
from sanitizers.odf import OdfRebuild
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
        OdfRebuild(),
        OleRebuild(),
        XlsbRefusal(),
        ZipRebuild(),
        ArchiveRebuild(),
        MailRebuild(),
        OfficeToPdf(),
        OfficeToImage(),
    ]


def default_registry() -> Registry:
    return Registry(shipped_sanitizers())


def helper_programs() -> list[Path]:
    """The programs the shipped sanitisers start: LibreOffice's program folder. A confined
    worker may execute these and nothing else."""
    office = soffice_path()
    return [Path(office).parent] if office else []
