"""PDF sanitisers: rebuild (CDR), image (画像化) and text (テキスト化)."""

from sanitizers.pdf.raster import PdfImage
from sanitizers.pdf.rebuild import PdfRebuild
from sanitizers.pdf.text import PdfText

__all__ = ["PdfImage", "PdfRebuild", "PdfText"]
