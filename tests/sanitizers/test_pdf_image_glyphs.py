"""画像化 text pages as Type 3 glyphs: small, exactly the rendered pixels, no letters;
and the verification that lets such glyph fonts, and nothing else, into image-only output."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageChops

from sanitizers.base import Limits
from sanitizers.errors import MalformedError, VerifyError
from sanitizers.pdf.raster import IMAGE_ONLY
from sanitizers.pdf.symbols import SymbolBook, SymbolPage
from sanitizers.pdf.verify import verify_pdf
from tests.sanitizers import pdf_builders as b
from tests.sanitizers.test_pdf_image import dense_text_document, identical_renderings, rasterise

SYLLABLES = ("ka", "shi", "to", "na", "mi", "ro", "te", "su", "ku", "ri", "an", "en", "or", "is", "ed", "al")
#: Text extraction of glyph pages finds replacement characters and line breaks, no letters.
NOT_LETTERS = {"\ufffd", "\r", "\n"}


def report_document(path: Path, pages: int) -> Path:
    """bench/pdf.py's generated text document: 50 lines of 12 words per page in
    (non-embedded) Helvetica, words following Zipf's law over 3000 syllable words."""
    rng = random.Random(2024)
    words = ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(3000)]
    weights = [1 / rank for rank in range(1, len(words) + 1)]
    pdf = pikepdf.Pdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    for _ in range(pages):
        lines = " ".join(f"({' '.join(rng.choices(words, weights, k=12))}) Tj 0 -14 Td" for _ in range(50))
        page = Dictionary(
            Type=Name.Page,
            MediaBox=[0, 0, 595, 842],
            Resources=Dictionary(Font=Dictionary(F1=font)),
            Contents=pdf.make_stream(f"BT /F1 10 Tf 60 790 Td {lines} ET".encode()),
        )
        pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def test_a_text_report_stays_within_one_and_a_half_times_its_size(tmp_path: Path) -> None:
    src = report_document(tmp_path / "in.pdf", pages=20)
    dst, _ = rasterise(src, tmp_path)
    assert dst.stat().st_size <= 1.5 * src.stat().st_size
    assert b.pdfium_page_sizes(dst) == b.pdfium_page_sizes(src)
    assert identical_renderings(src, dst)
    texts = b.pdfium_texts(dst)
    assert len(texts) == 20 and set("".join(texts)) <= NOT_LETTERS


def test_glyph_fonts_hold_only_image_masks_and_map_to_no_letters(tmp_path: Path) -> None:
    src = b.save(dense_text_document(pages=2), tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path)
    with pikepdf.open(dst) as pdf:
        (font,) = pdf.pages[0].obj.Resources.Font.values()
        assert font.Subtype == Name.Type3 and "/Resources" not in font
        assert b"<FFFD>" in font.ToUnicode.read_bytes() and b"<00> <FF>" in font.ToUnicode.read_bytes()
        operators = {
            str(instruction.operator)
            for procedure in font.CharProcs.values()
            for instruction in pikepdf.parse_content_stream(procedure)
        }
    assert operators <= {"d1", "cm", "INLINE IMAGE"}
    assert set("".join(b.pdfium_texts(dst))) <= NOT_LETTERS


def test_hundreds_of_symbols_spread_over_several_fonts_exactly(tmp_path: Path) -> None:
    """More than 256 glyphs: font switches within lines, codes that a literal string
    must escape, blanks either way and moves too long for a blank, all drawn exactly."""
    rng = random.Random(11)
    ink = Image.new("L", (640, 400), 0)
    symbols = []
    for _ in range(320):
        # Ink in every column, so that each symbol is cut as one piece.
        symbol = Image.new("L", (6, 8), 0)
        symbol.putdata([255 if rng.random() < 0.4 or y == x % 8 else 0 for y in range(8) for x in range(6)])
        symbols.append(symbol)
    x, y = 4, 4
    for symbol in symbols + symbols[::-1]:
        if x > 600:
            x, y = 4, y + 12
        ink.paste(symbol, (x, y))
        x += 6 + rng.choice([1, 1, 2, 3, 7, 90])
    book = SymbolBook(pikepdf.new(), tall_line=50)
    page = SymbolPage(ink.width, ink.height)
    assert book.draw_layer(page, ink, (0, 0, 0))
    book.commit(page)
    output = book.output
    output.pages.append(
        pikepdf.Page(
            Dictionary(
                Type=Name.Page,
                MediaBox=Array([0, 0, ink.width, ink.height]),
                Resources=book.resources,
                Contents=output.make_stream(page.content),
            )
        )
    )
    dst = tmp_path / "glyphs.pdf"
    output.save(dst)
    verify_pdf(dst, IMAGE_ONLY, Limits())
    assert len(book.resources.Font.keys()) == 2
    document = pdfium.PdfDocument(dst)
    try:
        shown = document[0].render(scale=1, no_smoothtext=True, no_smoothpath=True).to_pil().convert("L")
    finally:
        document.close()
    drawn = shown.point([255 if value < 128 else 0 for value in range(256)])
    assert ImageChops.difference(drawn, ink).getbbox() is None
    assert re.search(rb"\\[()\\\\]", page.content) is not None  # codes 40, 41 or 92 were escaped


# -- verification --------------------------------------------------------------------

Mutation = Callable[[pikepdf.Pdf], None]


def _font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    return next(iter(pdf.pages[0].obj.Resources.Font.values()))


def _glyph(pdf: pikepdf.Pdf) -> pikepdf.Object:
    font = _font(pdf)
    return font.CharProcs[next(iter(font.CharProcs.keys()))]


def glyph_draws(content: bytes) -> Mutation:
    return lambda pdf: _glyph(pdf).write(b"10 0 0 0 10 10 d1 " + content)


def glyph_draws_a_form_with_resources(pdf: pikepdf.Pdf) -> None:
    form = pdf.make_stream(
        b"BT /F1 1 Tf (x) Tj ET",
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=Array([0, 0, 10, 10]),
        Resources=Dictionary(Font=Dictionary(F1=Dictionary(Type=Name.Font, Subtype=Name.Type1))),
    )
    _font(pdf).Resources = Dictionary(XObject=Dictionary(X=form))
    glyph_draws(b"/X Do")(pdf)


def font_has_resources(pdf: pikepdf.Pdf) -> None:
    _font(pdf).Resources = Dictionary()


def glyph_has_resources(pdf: pikepdf.Pdf) -> None:
    _glyph(pdf).Resources = Dictionary()


def page_shows_a_type1_font(pdf: pikepdf.Pdf) -> None:
    fonts = pdf.pages[0].obj.Resources.Font
    fonts.F1 = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)


def to_unicode_gives_letters(pdf: pikepdf.Pdf) -> None:
    _font(pdf).ToUnicode = pdf.make_stream(b"1 beginbfrange <00> <FF> <0041> endbfrange")


def font_without_to_unicode(pdf: pikepdf.Pdf) -> None:
    del _font(pdf).ToUnicode


def font_with_a_standard_encoding(pdf: pikepdf.Pdf) -> None:
    _font(pdf).Encoding = Name.WinAnsiEncoding


def page_draws(content: bytes) -> Mutation:
    def mutate(pdf: pikepdf.Pdf) -> None:
        page = pdf.pages[0].obj
        page.Contents = pdf.make_stream(page.Contents.read_bytes() + b"\n" + content)

    return mutate


REFUSED: dict[str, tuple[Mutation, str]] = {
    "a glyph that draws a path": (glyph_draws(b"0 0 5 5 re f"), "operator re in a Type 3 glyph"),
    "a glyph that shows text": (glyph_draws(b"BT /F1 1 Tf (x) Tj ET"), "operator BT in a Type 3 glyph"),
    "a glyph that draws a form": (glyph_draws_a_form_with_resources, "operator Do in a Type 3 glyph"),
    "a font with resources": (font_has_resources, "/Resources in a Type 3 font"),
    "a glyph with resources": (glyph_has_resources, "Type 3 glyph that is not a plain stream"),
    "a coloured inline image in a glyph": (
        glyph_draws(b"BI /W 1 /H 1 /BPC 8 /CS /G ID \x00 EI"),
        "not a plain image mask",
    ),
    "a page with a Type 1 font": (page_shows_a_type1_font, "resource /Font holding a /Type1 font"),
    "a ToUnicode that gives letters": (to_unicode_gives_letters, "replacement-character ToUnicode"),
    "a font without ToUnicode": (font_without_to_unicode, "replacement-character ToUnicode"),
    "a font with a standard encoding": (font_with_a_standard_encoding, "encoding other than"),
    "a page that sets a text rendering mode": (page_draws(b"3 Tr"), "operator Tr in page 1"),
    "a page that draws a path": (page_draws(b"0 0 m 10 10 l S"), "operator S in page 1"),
}


#: Content that hides operators after a fault (an unterminated string) does not pass either.
UNPARSABLE: dict[str, Mutation] = {
    "a glyph": glyph_draws(b"(0 0 5 5 re f"),
    "a page": page_draws(b"(0 0 5 5 re f"),
}


@pytest.fixture
def glyph_output(tmp_path: Path) -> Path:
    src = b.save(dense_text_document(pages=2), tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path)
    return dst


def test_glyph_output_verifies(glyph_output: Path) -> None:
    verify_pdf(glyph_output, IMAGE_ONLY, Limits())


@pytest.mark.parametrize("construct", REFUSED)
def test_verification_refuses(construct: str, glyph_output: Path, tmp_path: Path) -> None:
    mutate, message = REFUSED[construct]
    with pikepdf.open(glyph_output) as pdf:
        mutate(pdf)
        changed = tmp_path / "changed.pdf"
        pdf.save(changed)
    with pytest.raises(VerifyError, match=re.escape(message)):
        verify_pdf(changed, IMAGE_ONLY, Limits())


@pytest.mark.parametrize("content", UNPARSABLE)
def test_verification_refuses_content_that_does_not_parse(
    content: str, glyph_output: Path, tmp_path: Path
) -> None:
    with pikepdf.open(glyph_output) as pdf:
        UNPARSABLE[content](pdf)
        changed = tmp_path / "changed.pdf"
        pdf.save(changed)
    with pytest.raises(MalformedError, match="EOF while reading token"):
        verify_pdf(changed, IMAGE_ONLY, Limits())
