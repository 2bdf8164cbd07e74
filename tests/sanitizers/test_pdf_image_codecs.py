"""Every image codec decoded and written anew: nothing reaches the output in a codec
container the rebuild did not write, neither in image XObjects nor in inline images.

Each attack is built from scratch: samples and coded data with Pillow (libtiff), the
JBIG2 and LZW framing by hand after the standards, documents with pikepdf.  Outputs are
read back with pikepdf (every stream decoded) and rendered with PDFium.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageCms, ImageDraw, TiffImagePlugin

from sanitizers.base import Limits
from sanitizers.errors import LimitError, VerifyError
from sanitizers.pdf import PdfRebuild
from sanitizers.pdf.icc import reserialised
from sanitizers.pipeline import FINAL_REFUSALS
from sanitizers.verification import Expectation, verify_output
from tests.sanitizers import pdf_builders as b
from tests.sanitizers.test_pdf_embedded_images import (
    differs_little,
    image_document,
    picture,
    pixels,
    refused,
    samples_of,
    the_image,
)

PAYLOAD = b"MZ\x90\x00 appended executable, not an image " * 20
#: What the output's filters may be: the codecs the rebuild writes.
WRITTEN_FILTERS = {Name.FlateDecode, Name.DCTDecode, Name.CCITTFaxDecode}


def as_written(pdf: pikepdf.Pdf, path: Path) -> Path:
    """``pdf`` saved with every stream as it was given: qpdf would otherwise recompress
    LZW, run-length and ASCII data, and data it was given plain, as Flate."""
    return b.save(pdf, path, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


def rebuilt(pdf: pikepdf.Pdf, tmp_path: Path) -> tuple[Path, Path]:
    src = as_written(pdf, tmp_path / "in.pdf")
    dst = tmp_path / "out.pdf"
    PdfRebuild().sanitize(src, dst, {}, Limits())
    return src, dst


def coded_image_document(data: bytes, filters: list[str]) -> pikepdf.Pdf:
    """``image_document`` whose data is written as already coded by ``filters``, so that
    saving keeps it as it is (qpdf would decode and recompress data it was given plain)."""
    pdf = image_document(data, filters)
    image = pdf.pages[0].Resources.XObject.Im0
    image.write(data, filter=Array([Name(f) for f in filters]))
    return pdf


def bilevel_picture() -> Image.Image:
    """A 64×48 "1" image: a box, a diagonal and a dotted row."""
    bits = Image.new("1", (64, 48), 1)
    draw = ImageDraw.Draw(bits)
    draw.rectangle((8, 8, 40, 30), fill=0)
    draw.line((0, 47, 63, 0), fill=0)
    for x in range(0, 64, 3):
        bits.putpixel((x, 40), 0)
    return bits


def tiff_strip(image: Image.Image, compression: str) -> bytes:
    """``image`` coded by libtiff as one strip, as a PDF filter of the same codec reads it."""
    buffer = io.BytesIO()
    image.save(buffer, "TIFF", compression=compression, tiffinfo={278: image.height})
    with TiffImagePlugin.TiffImageFile(io.BytesIO(buffer.getvalue())) as tiff:
        [offset], [count] = tiff.tag_v2[273], tiff.tag_v2[279]
    return buffer.getvalue()[offset : offset + count]


def group4_of(bits: Image.Image) -> bytes:
    """G4 as Pillow writes it (BlackIsZero): decodes to the bits with /BlackIs1 true."""
    return tiff_strip(bits, "group4")


def jbig2_segment(number: int, kind: int, data: bytes) -> bytes:
    """A segment header (T.88, 7.2) with no referred-to segments, on page 1, then ``data``."""
    return struct.pack(">IBBBI", number, kind, 0, 1, len(data)) + data


def jbig2_page(bits: Image.Image) -> bytes:
    """An embedded JBIG2 stream: page information, one immediate lossless generic region
    coded with MMR (T.88, 6.2.6: the region is coded as by T.6, 1 bits black), end of page."""
    width, height = bits.size
    ink = bits.point(lambda v: 255 - v).convert("1")  # JBIG2 codes black as 1
    page = struct.pack(">IIIIBH", width, height, 0, 0, 0, 0)
    region = struct.pack(">IIIIB", width, height, 0, 0, 0) + b"\x01" + group4_of(ink)
    return jbig2_segment(0, 48, page) + jbig2_segment(1, 39, region) + jbig2_segment(2, 49, b"")


def lzw(image: Image.Image) -> bytes:
    """The samples LZW-coded by libtiff, which codes as the PDF filter reads (EarlyChange 1)
    and ends with the end-of-data code."""
    return tiff_strip(image, "tiff_lzw")


def run_length(data: bytes) -> bytes:
    """RunLengthDecode data of literal runs only, ending in EOD (128)."""
    out = bytearray()
    for start in range(0, len(data), 128):
        chunk = data[start : start + 128]
        out += bytes([len(chunk) - 1]) + chunk
    return bytes(out) + b"\x80"


def every_stream_decoded(path: Path) -> bytes:
    """Each stream's data decoded by qpdf (as far as qpdf can), and the file's structure."""
    return b.decompressed_bytes(path)


def filters_of(path: Path) -> list[object]:
    """The /Filter of every image XObject of the file."""
    with pikepdf.open(path) as pdf:
        return [
            o.get("/Filter")
            for o in pdf.objects
            if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == Name.Image
        ]


def assert_clean_image(src: Path, dst: Path) -> None:
    """The output's images are in written codecs, show what the input showed, and carry
    no byte of the payload."""
    for found in filters_of(dst):
        names = list(found) if isinstance(found, Array) else [found]
        assert len(names) <= 1 and set(names) <= WRITTEN_FILTERS, found
    assert b"appended executable" not in every_stream_decoded(dst)
    assert differs_little(pixels(src), pixels(dst))


class TestBilevel:
    def test_a_ccitt_g4_image_with_an_appended_payload(self, tmp_path: Path) -> None:
        coded = group4_of(bilevel_picture())
        parms = Dictionary(K=-1, Columns=64, Rows=48, BlackIs1=True)
        pdf = image_document(
            coded + PAYLOAD,
            ["/CCITTFaxDecode"],
            ColorSpace=Name.DeviceGray,
            BitsPerComponent=1,
            DecodeParms=Array([parms]),
        )
        src, dst = rebuilt(pdf, tmp_path)
        assert_clean_image(src, dst)
        dictionary, raw = the_image(dst)
        assert dictionary["/Filter"] == Name.CCITTFaxDecode and raw == coded

    def test_a_ccitt_group_3_image_becomes_group_4(self, tmp_path: Path) -> None:
        coded = tiff_strip(bilevel_picture(), "group3")  # 1-D Modified Huffman lines
        parms = Dictionary(K=0, Columns=64, Rows=48, BlackIs1=True)
        pdf = image_document(
            coded + PAYLOAD,
            ["/CCITTFaxDecode"],
            ColorSpace=Name.DeviceGray,
            BitsPerComponent=1,
            DecodeParms=Array([parms]),
        )
        src, dst = rebuilt(pdf, tmp_path)
        assert_clean_image(src, dst)
        assert the_image(dst)[0]["/DecodeParms"].K == -1

    def test_a_jbig2_image_is_decoded_by_pdfium_and_written_as_g4(self, tmp_path: Path) -> None:
        pdf = image_document(
            jbig2_page(bilevel_picture()) + PAYLOAD,
            ["/JBIG2Decode"],
            ColorSpace=Name.DeviceGray,
            BitsPerComponent=1,
        )
        src, dst = rebuilt(pdf, tmp_path)
        assert_clean_image(src, dst)
        assert the_image(dst)[0]["/Filter"] == Name.CCITTFaxDecode
        assert b.pdfium_texts(dst) == b.pdfium_texts(src)  # the page's text stays: no 画像化

    def test_jbig2_globals_are_applied_and_not_kept(self, tmp_path: Path) -> None:
        """The page's segments refer to nothing here, so the globals hold only a payload."""
        pdf = image_document(
            jbig2_page(bilevel_picture()), ["/JBIG2Decode"], ColorSpace=Name.DeviceGray, BitsPerComponent=1
        )
        image = pdf.pages[0].Resources.XObject.Im0
        image.DecodeParms = Array([Dictionary(JBIG2Globals=pdf.make_stream(jbig2_segment(0, 62, PAYLOAD)))])
        src, dst = rebuilt(pdf, tmp_path)
        assert_clean_image(src, dst)
        assert (
            "/DecodeParms" not in the_image(dst)[0]
            or "/JBIG2Globals" not in the_image(dst)[0]["/DecodeParms"]
        )

    def test_an_image_mask_keeps_its_decode_array(self, tmp_path: Path) -> None:
        coded = group4_of(bilevel_picture())
        pdf = image_document(
            coded + PAYLOAD,
            ["/CCITTFaxDecode"],
            ColorSpace=None,
            BitsPerComponent=None,
            ImageMask=True,
            Decode=Array([1, 0]),
            DecodeParms=Array([Dictionary(K=-1, Columns=64, Rows=48, BlackIs1=True)]),
        )
        src, dst = rebuilt(pdf, tmp_path)
        assert_clean_image(src, dst)
        assert the_image(dst)[0]["/Decode"] == Array([1, 0])

    def test_a_jbig2_page_larger_than_max_pixels_is_a_limit(self, tmp_path: Path) -> None:
        huge = jbig2_segment(0, 48, struct.pack(">IIIIBH", 100_000, 100_000, 0, 0, 0, 0))
        pdf = image_document(huge, ["/JBIG2Decode"], ColorSpace=Name.DeviceGray, BitsPerComponent=1)
        src = b.save(pdf, tmp_path / "in.pdf")
        with pytest.raises(LimitError) as caught:
            PdfRebuild().sanitize(src, tmp_path / "out.pdf", {}, Limits())
        assert caught.value.code not in FINAL_REFUSALS

    @pytest.mark.parametrize(
        "data",
        [b"", b"\x00" * 40 + PAYLOAD],
        ids=["empty", "garbage"],
    )
    def test_a_jbig2_image_pdfium_cannot_decode_refuses(self, tmp_path: Path, data: bytes) -> None:
        pdf = image_document(data, ["/JBIG2Decode"], ColorSpace=Name.DeviceGray, BitsPerComponent=1)
        assert "JBIG2" in refused(pdf, tmp_path).detail

    def test_a_bilevel_codec_over_8_bit_samples_refuses(self, tmp_path: Path) -> None:
        refused(image_document(group4_of(bilevel_picture()), ["/CCITTFaxDecode"]), tmp_path)


class TestGeneralFilters:
    def test_an_lzw_image_with_a_payload_after_its_end_of_data(self, tmp_path: Path) -> None:
        samples = picture().tobytes()
        src, dst = rebuilt(coded_image_document(lzw(picture()) + PAYLOAD, ["/LZWDecode"]), tmp_path)
        assert_clean_image(src, dst)
        assert samples_of(dst)[0] == samples

    def test_a_run_length_image_with_trailing_bytes(self, tmp_path: Path) -> None:
        samples = picture().tobytes()
        src, dst = rebuilt(
            coded_image_document(run_length(samples) + PAYLOAD, ["/RunLengthDecode"]), tmp_path
        )
        assert_clean_image(src, dst)
        assert samples_of(dst)[0] == samples

    def test_an_ascii_hex_wrapped_flate_image_with_a_payload(self, tmp_path: Path) -> None:
        samples = picture().tobytes()
        wrapped = zlib.compress(samples).hex().encode() + b">" + PAYLOAD.hex().encode()
        src, dst = rebuilt(coded_image_document(wrapped, ["/ASCIIHexDecode", "/FlateDecode"]), tmp_path)
        assert_clean_image(src, dst)
        assert samples_of(dst)[0] == samples

    @pytest.mark.parametrize("compressed", [True, False], ids=["flate", "unfiltered"])
    def test_samples_beyond_the_last_row_go(self, tmp_path: Path, compressed: bool) -> None:
        samples = picture().tobytes()
        src = b.save(image_document(samples + PAYLOAD, []), tmp_path / "in.pdf", compress_streams=compressed)
        dst = tmp_path / "out.pdf"
        PdfRebuild().sanitize(src, dst, {}, Limits())
        assert_clean_image(src, dst)
        assert samples_of(dst)[0] == samples

    def test_an_unknown_codec_refuses(self, tmp_path: Path) -> None:
        refused(image_document(PAYLOAD, ["/FancyDecode"]), tmp_path)


def inline_document(dictionary: bytes, data: bytes, *, in_form: bool = False) -> pikepdf.Pdf:
    """A page that draws one inline image of ``dictionary`` and ``data``, itself or through
    a form XObject."""
    pdf = b.new_document(["Inline picture below"])
    page = pdf.pages[0]
    drawing = b"q 320 0 0 240 100 300 cm BI " + dictionary + b" ID " + data + b" EI Q"
    if in_form:
        form = pdf.make_stream(drawing, Type=Name.XObject, Subtype=Name.Form, BBox=Array([0, 0, 595, 842]))
        page.Resources.XObject = Dictionary(Fm0=form)
        drawing = b"/Fm0 Do"
    page.Contents = pdf.make_stream(page.Contents.read_bytes() + b" " + drawing)
    return pdf


def inline_filters(path: Path) -> list[list[str]]:
    """The filters of every inline image of every stream of the file, by name."""
    found = []
    with pikepdf.open(path) as pdf:
        for obj in pdf.objects:
            if not isinstance(obj, pikepdf.Stream) or b"BI" not in obj.read_bytes():
                continue
            for instruction in pikepdf.parse_content_stream(obj):
                if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                    value = instruction.iimage.obj.get("/Filter")
                    found.append([str(n) for n in (value if isinstance(value, Array) else [value])])
    return found


class TestInline:
    @pytest.mark.parametrize("in_form", [False, True], ids=["page", "form"])
    def test_hex_flate_data_with_a_payload_after_its_end(self, tmp_path: Path, in_form: bool) -> None:
        samples = picture().tobytes()
        data = zlib.compress(samples).hex().encode() + b">" + PAYLOAD
        src, dst = rebuilt(
            inline_document(b"/W 64 /H 48 /CS /RGB /BPC 8 /F [/AHx /Fl]", data, in_form=in_form), tmp_path
        )
        assert inline_filters(dst) == [["/ASCIIHexDecode", "/FlateDecode"]]
        assert b"appended executable" not in every_stream_decoded(dst)
        assert differs_little(pixels(src), pixels(dst))
        assert b.pdfium_texts(dst) == b.pdfium_texts(src)

    def test_binary_flate_data_with_a_payload_after_its_end(self, tmp_path: Path) -> None:
        samples = picture().tobytes()
        pdf = inline_document(b"/W 64 /H 48 /CS /RGB /BPC 8 /F /Fl", zlib.compress(samples) + PAYLOAD)
        src, dst = rebuilt(pdf, tmp_path)
        assert b"appended executable" not in every_stream_decoded(dst)
        assert differs_little(pixels(src), pixels(dst))

    def test_unfiltered_samples_with_a_payload_after_the_last_row(self, tmp_path: Path) -> None:
        samples = picture("L").tobytes()
        src, dst = rebuilt(inline_document(b"/W 64 /H 48 /CS /G /BPC 8", samples + PAYLOAD), tmp_path)
        assert inline_filters(dst) == [["/ASCIIHexDecode", "/FlateDecode"]]
        assert b"appended executable" not in every_stream_decoded(dst)
        assert differs_little(pixels(src), pixels(dst))

    def test_a_ccitt_inline_image_mask_with_a_payload(self, tmp_path: Path) -> None:
        coded = (group4_of(bilevel_picture()) + PAYLOAD).hex().encode() + b">"
        dictionary = (
            b"/W 64 /H 48 /IM true /F [/AHx /CCF] /DP [null << /K -1 /Columns 64 /Rows 48 /BlackIs1 true >>]"
        )
        src, dst = rebuilt(inline_document(dictionary, coded), tmp_path)
        assert inline_filters(dst) == [["/ASCIIHexDecode", "/CCITTFaxDecode"]]
        assert b"appended executable" not in every_stream_decoded(dst)
        assert differs_little(pixels(src), pixels(dst))

    def test_text_that_spells_bi_is_left_alone(self, tmp_path: Path) -> None:
        pdf = b.new_document(["BI ID EI as words"])
        src, dst = rebuilt(pdf, tmp_path)
        assert b.pdfium_texts(dst) == b.pdfium_texts(src)

    def test_an_inline_image_without_its_end_is_not_copied(self, tmp_path: Path) -> None:
        """qpdf drops it; a reader that reads on to the end of the stream would show it."""
        pdf = b.new_document(["Unended"])
        page = pdf.pages[0]
        page.Contents = pdf.make_stream(
            page.Contents.read_bytes() + b" BI /W 4 /H 4 /BPC 8 /CS /G ID " + PAYLOAD
        )
        _, dst = rebuilt(pdf, tmp_path)
        assert b"appended executable" not in every_stream_decoded(dst)

    def test_content_with_an_inline_image_that_does_not_parse_refuses(self, tmp_path: Path) -> None:
        pdf = b.new_document(["Broken"])
        page = pdf.pages[0]
        page.Contents = pdf.make_stream(page.Contents.read_bytes() + b" BI /W 4 /H 4 <</X ID abcd EI")
        refused(pdf, tmp_path)


def verifier_refusal(pdf: pikepdf.Pdf, tmp_path: Path) -> str:
    """What the gateway's verifier says of ``pdf`` as a taken-over worker would write it."""
    output = as_written(pdf, tmp_path / "written.pdf")
    with pytest.raises(VerifyError) as caught:
        verify_output(output, Expectation("pdf", "rebuild"), Limits())
    return caught.value.detail


def verifier_passes(path: Path) -> None:
    verify_output(path, Expectation("pdf", "rebuild"), Limits())


class TestVerifier:
    """The verifier holds an output to what the rebuild writes, trusting nothing else."""

    def test_a_rebuilt_output_of_every_kind_passes(self, tmp_path: Path) -> None:
        for name, pdf in {
            "jbig2": image_document(
                jbig2_page(bilevel_picture()),
                ["/JBIG2Decode"],
                ColorSpace=Name.DeviceGray,
                BitsPerComponent=1,
            ),
            "lzw": coded_image_document(lzw(picture()), ["/LZWDecode"]),
            "inline": inline_document(
                b"/W 64 /H 48 /CS /RGB /BPC 8 /F /Fl", zlib.compress(picture().tobytes())
            ),
        }.items():
            (tmp_path / name).mkdir()
            verifier_passes(rebuilt(pdf, tmp_path / name)[1])

    def test_a_jbig2_image_is_refused(self, tmp_path: Path) -> None:
        pdf = image_document(
            jbig2_page(bilevel_picture()), ["/JBIG2Decode"], ColorSpace=Name.DeviceGray, BitsPerComponent=1
        )
        assert "an image under /JBIG2Decode" in verifier_refusal(pdf, tmp_path)

    def test_an_lzw_image_is_refused(self, tmp_path: Path) -> None:
        assert "an image under /LZWDecode" in verifier_refusal(
            coded_image_document(lzw(picture()), ["/LZWDecode"]), tmp_path
        )

    def test_a_jpeg_with_trailing_data_is_refused(self, tmp_path: Path) -> None:
        buffer = io.BytesIO()
        picture().save(buffer, "JPEG")
        pdf = image_document(buffer.getvalue() + PAYLOAD, ["/DCTDecode"])
        assert "data after the end of a JPEG image" in verifier_refusal(pdf, tmp_path)

    def test_flate_samples_with_trailing_data_are_refused(self, tmp_path: Path) -> None:
        pdf = coded_image_document(zlib.compress(picture().tobytes()) + PAYLOAD, ["/FlateDecode"])
        assert "compressed samples" in verifier_refusal(pdf, tmp_path)

    def test_a_g4_image_with_an_appended_payload_is_refused(self, tmp_path: Path) -> None:
        parms = Dictionary(K=-1, Columns=64, Rows=48, BlackIs1=True)
        pdf = image_document(
            group4_of(bilevel_picture()) + PAYLOAD,
            ["/CCITTFaxDecode"],
            ColorSpace=Name.DeviceGray,
            BitsPerComponent=1,
            DecodeParms=parms,
        )
        assert "not what libtiff writes" in verifier_refusal(pdf, tmp_path)

    def test_an_inline_image_in_binary_or_with_a_payload_is_refused(self, tmp_path: Path) -> None:
        samples = zlib.compress(picture().tobytes())
        binary = inline_document(b"/W 64 /H 48 /CS /RGB /BPC 8 /F /Fl", samples)
        assert "an inline image under /FlateDecode" in verifier_refusal(binary, tmp_path)
        hex_data = (samples + PAYLOAD).hex().encode() + b">"
        padded = inline_document(b"/W 64 /H 48 /CS /RGB /BPC 8 /F [/AHx /Fl]", hex_data)
        assert "compressed samples" in verifier_refusal(padded, tmp_path)

    def test_an_icc_profile_with_an_appended_payload_is_refused(self, tmp_path: Path) -> None:
        profile = bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
        clean = reserialised(profile, 3)
        pdf = b.new_document(["Colour managed"])
        stream = pdf.make_stream(clean + PAYLOAD, N=3)
        pdf.pages[0].Resources.ColorSpace = Dictionary(CS0=Array([Name.ICCBased, stream]))
        assert "an ICC profile that is not as LittleCMS writes it" in verifier_refusal(pdf, tmp_path)
        stream.write(clean)
        verifier_passes(b.save(pdf, tmp_path / "clean.pdf"))

    def test_an_icc_profile_behind_an_indirect_family_name_is_checked(self, tmp_path: Path) -> None:
        pdf = b.new_document(["Colour managed"])
        family = pdf.make_indirect(Name.ICCBased)
        stream = pdf.make_stream(b"\x00" * 40 + PAYLOAD, N=3)
        pdf.pages[0].Resources.ColorSpace = Dictionary(CS0=Array([family, stream]))
        assert "ICC profile" in verifier_refusal(pdf, tmp_path)

    def test_a_type_1_font_program_is_refused(self, tmp_path: Path) -> None:
        pdf = b.embedded_font_document(b.type1_program(), "ABC", key="/FontFile")
        assert "a /FontFile font program" in verifier_refusal(pdf, tmp_path)

    @pytest.mark.skipif(not b.TRUETYPE_FONT.is_file(), reason="DejaVu Sans is not installed")
    def test_a_truetype_font_with_an_appended_payload_is_refused(self, tmp_path: Path) -> None:
        pdf = b.embedded_font_document(b.TRUETYPE_FONT.read_bytes() + PAYLOAD)
        assert "not as OTS writes it" in verifier_refusal(pdf, tmp_path)
        (tmp_path / "rebuilt").mkdir()
        verifier_passes(
            rebuilt(b.embedded_font_document(b.TRUETYPE_FONT.read_bytes()), tmp_path / "rebuilt")[1]
        )
