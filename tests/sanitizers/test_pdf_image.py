"""画像化: pages become pictures; nothing else of the original survives, and it stays small."""

from __future__ import annotations

import math
import random
import zlib
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageChops

from sanitizers.base import Limits, Report, Sanitizer
from sanitizers.errors import EncryptedError, LimitError, SanitizeError
from sanitizers.pdf import PdfImage
from sanitizers.pdf.encode import EncodedImage, encode_page
from sanitizers.pdf.group4 import group4
from sanitizers.pdf.symbols import SymbolBook
from tests.sanitizers import pdf_builders as b
from tests.sanitizers.contract import SanitizerContract

IMAGE = PdfImage()


def rasterise(src: Path, tmp_path: Path, limits: Limits | None = None, **options: int) -> tuple[Path, Report]:
    dst = tmp_path / "out.pdf"
    return dst, IMAGE.sanitize(src, dst, options, limits or Limits())


def page_images(path: Path) -> list[tuple[dict[str, object], Image.Image]]:
    """Each page's single image XObject (failing if a page has anything else), with the
    image decoded by pikepdf, not by the code under test."""
    images = []
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            assert set(page.obj.Resources.keys()) == {"/XObject"}
            (image,) = page.obj.Resources.XObject.values()
            assert image.Subtype == Name.Image
            images.append((dict(image.items()), pikepdf.PdfImage(image).as_pil_image().convert("RGB")))
    return images


def font_kinds(path: Path) -> list[set[str]]:
    """Per page, the subtypes of the fonts it may show."""
    with pikepdf.open(path) as pdf:
        return [{str(font.Subtype) for font in page.obj.Resources.Font.values()} for page in pdf.pages]


def dense_text_document(pages: int = 1) -> pikepdf.Pdf:
    pdf = b.new_document(["x"] * pages)
    for number, page in enumerate(pdf.pages):
        lines = b" ".join(
            b"(Line %d of page %d of a dense office letter, in Helvetica.) Tj 0 -16 Td" % (i, number)
            for i in range(40)
        )
        page.obj.Contents = pdf.make_stream(b"BT /F1 12 Tf 72 780 Td " + lines + b" ET")
    return pdf


def identical_renderings(first: Path, second: Path) -> bool:
    """PDFium shows every page of both files with exactly the same pixels."""
    documents = [pdfium.PdfDocument(first), pdfium.PdfDocument(second)]
    try:
        if len(documents[0]) != len(documents[1]):
            return False
        for index in range(len(documents[0])):
            shown = [
                d[index]
                .render(scale=150 / 72, rev_byteorder=True, no_smoothtext=True, no_smoothpath=True)
                .to_pil()
                for d in documents
            ]
            if ImageChops.difference(shown[0], shown[1]).getbbox() is not None:
                return False
        return True
    finally:
        for document in documents:
            document.close()


def render(path: Path, dpi: int = 150) -> Image.Image:
    document = pdfium.PdfDocument(path)
    try:
        return (
            document[0]
            .render(scale=dpi / 72, rev_byteorder=True, no_smoothtext=True, no_smoothpath=True)
            .to_pil()
        )
    finally:
        document.close()


def graphic_document() -> pikepdf.Pdf:
    """Flat colour boxes: a few exact colours, the typical chart or slide."""
    pdf = b.new_document(["Quarterly figures"])
    boxes = b"".join(
        b"%s rg %d 300 80 200 re f " % (colour, x)
        for colour, x in ((b"1 0 0", 72), (b"0 0.5 1", 172), (b"0.2 0.8 0.2", 272), (b"0.9 0.9 0", 372))
    )
    pdf.pages[0].obj.Contents = pdf.make_stream(boxes + pdf.pages[0].obj.Contents.read_bytes())
    return pdf


def photo_document() -> pikepdf.Pdf:
    """A page filled by a photograph-like image (smooth shading plus sensor noise)."""
    rng = random.Random(7)
    width, height = 200, 280
    samples = bytes(
        min(
            255,
            max(0, int(128 + 90 * math.sin(x / 23 + channel) * math.cos(y / 31)) + rng.randrange(-12, 13)),
        )
        for y in range(height)
        for x in range(width)
        for channel in range(3)
    )
    pdf = b.new_document(["Photo"])
    image = pdf.make_stream(
        zlib.compress(samples),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=width,
        Height=height,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
    )
    pdf.pages[0].obj.Resources.XObject = Dictionary(Im1=image)
    pdf.pages[0].obj.Contents = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im1 Do Q")
    return pdf


class TestContract(SanitizerContract):
    def make_sanitizer(self) -> Sanitizer:
        return PdfImage()

    def make_good_input(self, tmp_path: Path) -> Path:
        return b.build(tmp_path / "in.pdf", b.open_action_js, b.form_with_js_and_xfa)


def test_same_pages_and_sizes_and_nothing_else_survives(tmp_path: Path) -> None:
    pdf = b.new_document(["portrait", "landscape", "rotated"])
    pdf.pages[1].obj.MediaBox = Array([0, 0, 842, 595])
    pdf.pages[2].obj.Rotate = 90
    for builder, _ in b.HOSTILE.values():
        if builder is not b.page_aa:
            builder(pdf)
    src = b.save(pdf, tmp_path / "in.pdf")
    dst, report = rasterise(src, tmp_path)
    assert b.pdfium_page_sizes(dst) == b.pdfium_page_sizes(src) == [(595, 842), (842, 595), (842, 595)]
    assert identical_renderings(src, dst)
    found = b.constructs_in(dst)
    assert (
        found & (b.FORBIDDEN_CONSTRUCTS | {"/Font", "/Annots", "/AcroForm", "/Outlines", "/Names", "/URI"})
        == set()
    )
    assert b.pdfium_texts(dst) == ["", "", ""]
    assert [(f.construct, f.action, f.count) for f in report.findings] == [("pdf.page", "neutralised", 3)]


def test_text_pages_become_shared_symbols_lossless_and_smaller_than_g4(tmp_path: Path) -> None:
    src = b.save(dense_text_document(pages=3), tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path)
    assert font_kinds(dst) == [{"/Type3"}] * 3
    assert identical_renderings(src, dst)
    with pikepdf.open(dst) as pdf:
        shared = {page.obj.Resources.objgen for page in pdf.pages}
        (font,) = pdf.pages[0].obj.Resources.Font.values()
        symbols = sum(b" BI " in procedure.read_bytes() for procedure in font.CharProcs.values())
    assert len(shared) == 1 and 20 < symbols < 120  # letters, digits, punctuation, stored once
    g4_pages = 0
    document = pdfium.PdfDocument(src)
    for index in range(3):
        ink = document[index].render(scale=150 / 72, no_smoothtext=True, no_smoothpath=True).to_pil()
        g4_pages += len(group4(ink.convert("1", dither=Image.Dither.NONE)) or b"")
    document.close()
    assert dst.stat().st_size * 3 < g4_pages


def test_a_single_sparse_page_is_group4_when_its_symbols_would_cost_more(tmp_path: Path) -> None:
    """Nothing follows to reuse a lone page's symbols: it pays for them in full."""
    src = b.save(b.new_document(["Just one short line."]), tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path)
    ((image, _),) = page_images(dst)
    assert image["/Filter"] == Name.CCITTFaxDecode
    assert identical_renderings(src, dst)


def test_coloured_text_becomes_one_symbol_layer_per_colour(tmp_path: Path) -> None:
    pdf = dense_text_document(pages=3)
    for page in pdf.pages:
        heading = b"0 0 0.8 rg BT /F1 18 Tf 72 810 Td (Notice from the Tax Division) Tj ET 0 g "
        page.obj.Contents = pdf.make_stream(heading + page.obj.Contents.read_bytes())
    src = b.save(pdf, tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path)
    assert font_kinds(dst) == [{"/Type3"}] * 3
    assert identical_renderings(src, dst)
    with pikepdf.open(dst) as out:
        drawing = out.pages[0].obj.Contents.read_bytes()
    assert b"0 0 0.8 rg" in drawing
    assert b"0 0 0 rg" in drawing


def test_pages_that_do_not_repeat_fall_back_to_group4(tmp_path: Path) -> None:
    rng = random.Random(5)
    dots = b" ".join(b"%d %d 1.2 1.2 re" % (rng.randrange(560), rng.randrange(800)) for _ in range(9000))
    pdf = b.new_document(["x"])
    pdf.pages[0].obj.Contents = pdf.make_stream(dots + b" f")
    src = b.save(pdf, tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path)
    ((image, shown),) = page_images(dst)
    assert image["/Filter"] == Name.CCITTFaxDecode
    assert image["/BitsPerComponent"] == 1
    assert (image["/Width"], image["/Height"]) == (1240, 1755)
    assert ImageChops.difference(shown, render(src)).getbbox() is None  # lossless
    assert identical_renderings(src, dst)


def test_flat_colours_become_an_exact_palette(tmp_path: Path) -> None:
    src = b.save(graphic_document(), tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path)
    ((image, shown),) = page_images(dst)
    assert image["/Filter"] == Name.FlateDecode
    assert image["/ColorSpace"][0] == Name.Indexed
    assert ImageChops.difference(shown, render(src)).getbbox() is None


def test_photographic_page_is_jpeg_and_quality_matters(tmp_path: Path) -> None:
    src = b.save(photo_document(), tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path, quality=40)
    ((image, _),) = page_images(dst)
    assert image["/Filter"] == Name.DCTDecode
    assert image["/ColorSpace"] == Name.DeviceRGB
    low = dst.stat().st_size
    dst, _ = rasterise(src, tmp_path, quality=90)
    assert dst.stat().st_size > low * 1.3


def test_dpi_option_sets_the_pixel_size(tmp_path: Path) -> None:
    src = b.save(graphic_document(), tmp_path / "in.pdf")
    dst, report = rasterise(src, tmp_path, dpi=72)
    ((image, _),) = page_images(dst)
    assert (image["/Width"], image["/Height"]) == (595, 842)
    assert report.findings[0].location == "rendered to images at 72 dpi"


def test_pixel_limit_is_checked_before_rendering(tmp_path: Path) -> None:
    pdf = b.new_document(["huge"])
    pdf.pages[0].obj.MediaBox = Array([0, 0, 14400, 14400])  # 200 inches square
    src = b.save(pdf, tmp_path / "in.pdf")
    with pytest.raises(LimitError, match="max_pixels"):
        rasterise(src, tmp_path)
    assert not (tmp_path / "out.pdf").exists()


def test_page_limit(tmp_path: Path) -> None:
    src = b.save(b.new_document(["a", "b", "c"]), tmp_path / "in.pdf")
    with pytest.raises(LimitError, match="3 pages"):
        rasterise(src, tmp_path, Limits(max_pages=2))


def test_owner_password_opens_user_password_does_not(tmp_path: Path) -> None:
    owner_only = b.save(
        b.new_document(), tmp_path / "o.pdf", encryption=pikepdf.Encryption(owner="x", user="")
    )
    _, report = rasterise(owner_only, tmp_path)
    assert report.findings[0].construct == "pdf.decrypted"
    locked = b.save(b.new_document(), tmp_path / "u.pdf", encryption=pikepdf.Encryption(owner="x", user="y"))
    with pytest.raises(EncryptedError):
        rasterise(locked, tmp_path)


def test_output_bytes_carry_no_trace_of_the_input(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", b.open_action_js, b.embedded_file_names, b.metadata)
    dst, _ = rasterise(src, tmp_path)
    data = b.decompressed_bytes(dst)
    for marker in (*b.FORBIDDEN_BYTES, b"Secret Author", b"Helvetica", b"First page"):
        assert marker not in data


def test_two_arbitrary_colours_use_group4_through_an_indexed_space(tmp_path: Path) -> None:
    pdf = b.new_document(["x"])
    pdf.pages[0].obj.Contents = pdf.make_stream(b"0 0 1 rg 0 0 595 842 re f 1 1 0 rg 100 100 200 200 re f")
    src = b.save(pdf, tmp_path / "in.pdf")
    dst, _ = rasterise(src, tmp_path)
    ((image, _),) = page_images(dst)
    assert image["/Filter"] == Name.CCITTFaxDecode
    assert image["/ColorSpace"][0] == Name.Indexed
    assert identical_renderings(src, dst)


def test_rendering_failure_is_malformed_not_a_crash(tmp_path: Path) -> None:
    src = tmp_path / "loop.pdf"
    raw = b.plain_bytes(b.new_document(["a"]))
    # A page tree whose only kid is the tree itself.
    src.write_bytes(raw.replace(b"/Kids [ 3 0 R ]", b"/Kids [ 2 0 R ]"))
    with pytest.raises(SanitizeError) as caught:
        rasterise(src, tmp_path)
    assert caught.value.code in {"pdf.malformed", "pdf.limit"}


def test_grey_photograph_is_grey_jpeg_when_jpeg_is_smaller() -> None:
    rng = random.Random(3)
    shading = Image.linear_gradient("L").resize((800, 1000))
    noise = Image.frombytes("L", (800, 1000), bytes(rng.randrange(0, 24) for _ in range(800 * 1000)))
    photo = ImageChops.add(shading, noise).convert("RGB")
    book = SymbolBook(pikepdf.new(), tall_line=50)
    encoded = encode_page(photo, 75, book, last_page=True)
    assert isinstance(encoded, EncodedImage)
    assert encoded.kind == "jpeg"
    assert encoded.entries["/ColorSpace"] == Name.DeviceGray
    flat = Image.new("RGB", (800, 1000), (255, 255, 255))
    for index in range(40):  # forty flat colours: a chart, kept exact
        flat.paste((index * 6, 255 - index * 6, 128), (index * 20, 0, index * 20 + 20, 1000))
    chart = encode_page(flat, 75, book, last_page=True)
    assert isinstance(chart, EncodedImage)
    assert chart.kind == "palette"
