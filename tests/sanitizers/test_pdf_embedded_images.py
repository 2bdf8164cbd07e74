"""Image XObjects: codec containers decoded or cut at their end, never copied with a payload.

Each attack is built from scratch with Pillow and pikepdf; outputs are read back with
pikepdf and PDFium, which share no code with ``sanitizers.pdf.images``.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageChops, features

from sanitizers.base import Limits
from sanitizers.errors import MalformedError
from sanitizers.pdf import PdfRebuild
from sanitizers.pipeline import FINAL_REFUSALS
from tests.sanitizers import pdf_builders as b

PAYLOAD = b"PK\x03\x04 appended archive " * 40


def picture(mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, (64, 48), (200, 30, 30, 128)[: len(mode)] if mode != "L" else 90)
    for x in range(0, 64, 8):
        image.paste((20, 20, 220, 255)[: len(mode)] if mode != "L" else 200, (x, 0, x + 4, 48))
    return image


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def image_document(data: bytes, filters: list[str], **entries: object) -> pikepdf.Pdf:
    pdf = b.new_document(["Picture below"])
    stream = pdf.make_stream(data)
    stream.Type, stream.Subtype, stream.Width, stream.Height = Name.XObject, Name.Image, 64, 48
    stream.Filter = Array([Name(f) for f in filters])
    for key, value in {"ColorSpace": Name.DeviceRGB, "BitsPerComponent": 8, **entries}.items():
        if value is not None:
            stream[f"/{key}"] = value
    page = pdf.pages[0]
    page.Resources.XObject = Dictionary(Im0=stream)
    page.Contents = pdf.make_stream(page.Contents.read_bytes() + b" q 320 0 0 240 100 300 cm /Im0 Do Q")
    return pdf


def rebuilt(pdf: pikepdf.Pdf, tmp_path: Path) -> tuple[Path, Path]:
    src = b.save(pdf, tmp_path / "in.pdf")
    dst = tmp_path / "out.pdf"
    PdfRebuild().sanitize(src, dst, {}, Limits())
    return src, dst


def refused(pdf: pikepdf.Pdf, tmp_path: Path) -> MalformedError:
    with pytest.raises(MalformedError) as caught:
        rebuilt(pdf, tmp_path)
    assert caught.value.code not in FINAL_REFUSALS  # the rule's next method (画像化) runs
    assert "embedded image" in caught.value.detail
    return caught.value


def main_image(pdf: pikepdf.Pdf) -> pikepdf.Stream:
    """The picture, not its soft mask."""
    images = [o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.get("/Width") == 64]
    masks = {o.SMask.objgen for o in images if "/SMask" in o}
    [image] = [o for o in images if o.objgen not in masks]
    return image


def the_image(path: Path) -> tuple[dict[str, pikepdf.Object], bytes]:
    """The one image XObject's dictionary and raw bytes (pikepdf)."""
    with pikepdf.open(path) as pdf:
        image = main_image(pdf)
        return {k: image[k] for k in image.keys()}, image.read_raw_bytes()  # noqa: SIM118 (stream keys)


def samples_of(path: Path) -> tuple[bytes, bytes | None]:
    """The image's decoded samples and its soft mask's, by qpdf."""
    with pikepdf.open(path) as pdf:
        image = main_image(pdf)
        mask = image.get("/SMask")
        return image.read_bytes(), mask.read_bytes() if isinstance(mask, pikepdf.Stream) else None


def pixels(path: Path) -> Image.Image:
    document = pdfium.PdfDocument(path)
    try:
        rendered: Image.Image = document[0].render(scale=1).to_pil().convert("RGB")
        return rendered
    finally:
        document.close()


def differs_little(first: Image.Image, second: Image.Image) -> bool:
    """Same size, and no channel further apart than rounding (after a lossless recode)."""
    if first.size != second.size:
        return False
    extrema: tuple[tuple[int, int], ...] = ImageChops.difference(first, second).getextrema()  # type: ignore[assignment]
    return all(high <= 8 for _, high in extrema)


class TestJpeg:
    def test_data_after_the_end_marker_vanishes(self, tmp_path: Path) -> None:
        jpeg = encoded(picture(), "JPEG")
        src, dst = rebuilt(image_document(jpeg + PAYLOAD, ["/DCTDecode"]), tmp_path)
        _, raw = the_image(dst)
        assert raw == jpeg
        assert b"appended archive" not in b.decompressed_bytes(dst)
        assert differs_little(pixels(src), pixels(dst))

    def test_under_a_general_filter_too(self, tmp_path: Path) -> None:
        jpeg = encoded(picture(), "JPEG")
        pdf = image_document(zlib.compress(jpeg + PAYLOAD), ["/FlateDecode", "/DCTDecode"])
        src, dst = rebuilt(pdf, tmp_path)
        dictionary, raw = the_image(dst)
        assert raw == jpeg and dictionary["/Filter"] == Name.DCTDecode
        assert differs_little(pixels(src), pixels(dst))

    def test_a_clean_jpeg_is_kept_byte_for_byte(self, tmp_path: Path) -> None:
        jpeg = encoded(picture(), "JPEG")
        _, dst = rebuilt(image_document(jpeg, ["/DCTDecode"]), tmp_path)
        assert the_image(dst)[1] == jpeg

    def test_a_broken_jpeg_refuses_the_rebuild(self, tmp_path: Path) -> None:
        refused(image_document(b"\xff\xd8\xff\xe0\x00\x10JFIF" + PAYLOAD, ["/DCTDecode"]), tmp_path)


@pytest.mark.skipif(not features.check("jpg_2000"), reason="Pillow has no JPEG 2000 codec")
class TestJpeg2000:
    def test_decoded_and_written_back_without_the_container(self, tmp_path: Path) -> None:
        jpx = encoded(picture(), "JPEG2000")
        src, dst = rebuilt(image_document(jpx + PAYLOAD, ["/JPXDecode"]), tmp_path)
        dictionary, _ = the_image(dst)
        assert dictionary["/Filter"] == Name.FlateDecode and dictionary["/ColorSpace"] == Name.DeviceRGB
        assert samples_of(dst)[0] == picture().tobytes()  # JPEG 2000 from Pillow is lossless
        assert b"appended archive" not in b.decompressed_bytes(dst)
        assert b"jP  " not in b.decompressed_bytes(dst)  # no JP2 signature box left
        assert differs_little(pixels(src), pixels(dst))

    def test_alpha_becomes_a_soft_mask(self, tmp_path: Path) -> None:
        jpx = encoded(picture("RGBA"), "JPEG2000")
        _, dst = rebuilt(image_document(jpx, ["/JPXDecode"], ColorSpace=None, SMaskInData=1), tmp_path)
        dictionary, _ = the_image(dst)
        assert "/SMaskInData" not in dictionary
        assert samples_of(dst)[1] == picture("RGBA").getchannel("A").tobytes()

    def test_garbage_refuses_the_rebuild(self, tmp_path: Path) -> None:
        refused(image_document(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + PAYLOAD, ["/JPXDecode"]), tmp_path)


class TestFlate:
    def test_data_after_the_compressed_samples_vanishes(self, tmp_path: Path) -> None:
        samples = picture().tobytes()
        src, dst = rebuilt(image_document(zlib.compress(samples) + PAYLOAD, ["/FlateDecode"]), tmp_path)
        _, raw = the_image(dst)
        assert b"appended archive" not in raw
        with pikepdf.open(dst) as pdf:
            image = main_image(pdf)
            assert image.read_bytes() == samples
        assert differs_little(pixels(src), pixels(dst))

    def test_clean_samples_are_not_recompressed(self, tmp_path: Path) -> None:
        compressed = zlib.compress(picture().tobytes())
        _, dst = rebuilt(image_document(compressed, ["/FlateDecode"]), tmp_path)
        assert the_image(dst)[1] == compressed
