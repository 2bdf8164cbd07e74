"""Names and text strings that are not valid UTF-8 or UTF-16 are data, not a crash.

A PDF name may hold any bytes (``#FF``) and a text string may claim UTF-16 and hold a
lone surrogate.  Fuzzed files put them where the rebuild reads names and text: resource
keys, font names, subtypes, the document information, outlines, destinations, page
labels, optional content.  Each file must be rebuilt, its page text intact, read back
with PDFium.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from pikepdf import Array, Dictionary, Name, String

from sanitizers.base import Limits
from sanitizers.pdf import PdfRebuild
from tests.sanitizers import pdf_builders as b

TEXT = "Names and strings"
LONE_SURROGATE = String(b"\xfe\xff\xd8\x00")  # UTF-16BE with a high surrogate and nothing after
NOT_UTF8 = "#FF#FE"


def font_resource_key(pdf: pikepdf.Pdf) -> None:
    page = pdf.pages[0]
    key, font = next(iter(page.Resources.Font.items()))
    del page.Resources.Font[key]
    page.Resources.Font[Name(f"/F{NOT_UTF8}")] = font
    page.Contents = pdf.make_stream(
        page.Contents.read_bytes().replace(key.encode(), f"/F{NOT_UTF8}".encode())
    )


def base_font(pdf: pikepdf.Pdf) -> None:
    for font in pdf.pages[0].Resources.Font.values():
        font.BaseFont = Name(f"/Sans{NOT_UTF8}")


def information(pdf: pikepdf.Pdf) -> None:
    pdf.trailer.Info = pdf.make_indirect(Dictionary(Title=LONE_SURROGATE, Author=String(b"\xff\xfe\x00")))


def annotation(pdf: pikepdf.Pdf) -> None:
    b.add_annotation(
        pdf,
        Dictionary(
            Type=Name.Annot, Subtype=Name(f"/Text{NOT_UTF8}"), Rect=[0, 0, 9, 9], Contents=LONE_SURROGATE
        ),
    )


def catalog_key(pdf: pikepdf.Pdf) -> None:
    pdf.Root[Name(f"/X{NOT_UTF8}")] = Name("/Y#C3#28")


def named_destination(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Names = Dictionary(
        Dests=Dictionary(Names=Array([LONE_SURROGATE, Array([pdf.pages[0].obj, Name.Fit])]))
    )


def outline(pdf: pikepdf.Pdf) -> None:
    item = pdf.make_indirect(
        Dictionary(Title=LONE_SURROGATE, Dest=Array([pdf.pages[0].obj, Name(f"/Fit{NOT_UTF8}")]))
    )
    pdf.Root.Outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, First=item, Last=item, Count=1))


def page_labels(pdf: pikepdf.Pdf) -> None:
    pdf.Root.PageLabels = Dictionary(Nums=Array([0, Dictionary(S=Name(f"/D{NOT_UTF8}"), P=LONE_SURROGATE)]))


def colour_space_key(pdf: pikepdf.Pdf) -> None:
    page = pdf.pages[0]
    page.Resources.ColorSpace = Dictionary({f"/C{NOT_UTF8}": Name.DeviceRGB})
    page.Contents = pdf.make_stream(page.Contents.read_bytes() + f" /C{NOT_UTF8} cs 1 0 0 sc".encode())


def optional_content(pdf: pikepdf.Pdf) -> None:
    group = pdf.make_indirect(Dictionary(Type=Name.OCG, Name=LONE_SURROGATE))
    pdf.Root.OCProperties = Dictionary(OCGs=Array([group]), D=Dictionary(Order=Array([group])))


@pytest.mark.parametrize(
    "spoil",
    [
        font_resource_key,
        base_font,
        information,
        annotation,
        catalog_key,
        named_destination,
        outline,
        page_labels,
        colour_space_key,
        optional_content,
    ],
)
@pytest.mark.parametrize("metadata", ["remove", "keep"])
def test_undecodable_names_and_strings_are_rebuilt(
    tmp_path: Path, spoil: Callable[[pikepdf.Pdf], None], metadata: str
) -> None:
    pdf = b.new_document([TEXT])
    spoil(pdf)
    src = b.save(pdf, tmp_path / "in.pdf")
    dst = tmp_path / "out.pdf"
    PdfRebuild().sanitize(src, dst, {"metadata": metadata}, Limits())
    document = pdfium.PdfDocument(dst)
    try:
        assert TEXT in document[0].get_textpage().get_text_bounded()
    finally:
        document.close()
