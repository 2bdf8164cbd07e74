"""ImageRebuild: every construct is built here, and outputs are re-read with tiny walkers
written for the tests (not the sanitiser's own scanner)."""

from __future__ import annotations

import io
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, JpegImagePlugin

from sanitizers.base import Limits, Options, Report, Sanitizer
from sanitizers.detect import detect
from sanitizers.errors import SanitizeError
from sanitizers.images import ImageRebuild
from sanitizers.images import rebuild as rebuild_module
from sanitizers.pipeline import Rule, process_file
from sanitizers.registry import default_registry
from tests.sanitizers.contract import RebuildContract

IMAGE_TYPES = ("jpeg", "png", "gif", "tiff", "bmp", "webp")
PILLOW_FORMAT = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP"}
SECRET = b"SECRET-3f9a"  # planted in every metadata construct; must never reach an output

# --- independent readers ------------------------------------------------------------------


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of the segments up to the first SOS; the file must end at EOI."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    segments, pos = [], 2
    while True:
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        if marker == 0xDA:
            return segments
        pos += 2 + length


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    assert pos == len(data) and chunks[-1][0] == b"IEND"
    return chunks


def webp_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and 8 + int.from_bytes(data[4:8], "little") == len(data)
    kinds, pos = [], 12
    while pos < len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        kinds.append(data[pos : pos + 4])
        pos += 8 + size + (size & 1)
    return kinds


def gif_extensions(data: bytes) -> list[tuple[int, bytes]]:
    """(label, first data sub-block) of every extension; the file must end at its trailer."""

    def skip_blocks(pos: int) -> int:
        while data[pos]:
            pos += 1 + data[pos]
        return pos + 1

    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    extensions = []
    while data[pos] != 0x3B:
        if data[pos] == 0x21:
            extensions.append((data[pos + 1], data[pos + 3 : pos + 3 + data[pos + 2]]))
            pos = skip_blocks(pos + 2)
        else:
            assert data[pos] == 0x2C
            local = data[pos + 9]
            pos = skip_blocks(pos + 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1)
    assert pos == len(data) - 1
    return extensions


JPEG_APPS_WRITTEN = {0xE0: b"JFIF\0", 0xE2: b"ICC_PROFILE\0", 0xEE: b"Adobe"}
PNG_CHUNKS_WRITTEN = {
    b"IHDR",
    b"PLTE",
    b"tRNS",
    b"pHYs",
    b"iCCP",
    b"IDAT",
    b"IEND",
    b"acTL",
    b"fcTL",
    b"fdAT",
}
WEBP_CHUNKS_WRITTEN = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
TIFF_TAGS_WRITTEN = {
    256,
    257,
    258,
    259,
    262,
    273,
    277,
    278,
    279,
    282,
    283,
    284,
    296,
    317,
    320,
    338,
    339,
    34675,
}


def assert_no_metadata(data: bytes, image_type: str) -> None:
    """Only what an encoder writes for the pixels themselves, and nothing after the end."""
    assert SECRET not in data
    if image_type == "jpeg":
        for marker, payload in jpeg_segments(data):
            assert marker != 0xFE and not (0xE0 <= marker <= 0xEF and marker not in JPEG_APPS_WRITTEN)
            assert not 0xE0 <= marker <= 0xEF or payload.startswith(JPEG_APPS_WRITTEN[marker])
    elif image_type == "png":
        assert {kind for kind, _ in png_chunks(data)} <= PNG_CHUNKS_WRITTEN
    elif image_type == "gif":
        for label, first_block in gif_extensions(data):
            assert label == 0xF9 or (label == 0xFF and first_block == b"NETSCAPE2.0")
    elif image_type == "webp":
        assert set(webp_chunks(data)) <= WEBP_CHUNKS_WRITTEN
    elif image_type == "tiff":
        with Image.open(io.BytesIO(data), formats=["TIFF"]) as im:
            for index in range(im.n_frames):
                im.seek(index)
                assert set(im.tag_v2) <= TIFF_TAGS_WRITTEN


# --- builders -----------------------------------------------------------------------------


def picture(size: tuple[int, int] = (48, 32), mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: orientation and conversions are visible."""
    im = Image.new("RGB", size, (220, 20, 20))
    im.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    return im.convert(mode)


def encoded(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, format=PILLOW_FORMAT[fmt], **params)
    return out.getvalue()


def exif_block(orientation: int = 1, gps: bool = True) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = SECRET.decode()
    if gps:
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps_ifd[ExifTags.GPS.GPSLatitude] = (35.0, 41.0, 22.0)
    return exif.tobytes()


XMP_PACKET = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description "
    b"xmlns:dc='http://purl.org/dc/elements/1.1/' dc:creator='" + SECRET + b"'/></rdf:RDF>"
    b'</x:xmpmeta><?xpacket end="w"?>'
)


def photoshop_iptc() -> bytes:
    """APP13 payload: one Photoshop image resource (0x0404) holding an IPTC caption."""
    iptc = b"\x1c\x02\x78" + len(SECRET).to_bytes(2, "big") + SECRET
    resource = b"8BIM\x04\x04\x00\x00" + len(iptc).to_bytes(4, "big") + iptc + b"\0" * (len(iptc) % 2)
    return b"Photoshop 3.0\0" + resource


def with_jpeg_segments(jpeg: bytes, *segments: tuple[int, bytes]) -> bytes:
    raw = b"".join(b"\xff" + bytes([m]) + (len(p) + 2).to_bytes(2, "big") + p for m, p in segments)
    return jpeg[:2] + raw + jpeg[2:]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body).to_bytes(4, "big")
    return len(body).to_bytes(4, "big") + kind + body + crc


def with_png_chunks(png: bytes, *chunks: bytes, before: bytes = b"IDAT") -> bytes:
    at = png.index(before) - 4
    return png[:at] + b"".join(chunks) + png[at:]


def gif_extension(label: int, *blocks: bytes) -> bytes:
    return b"\x21" + bytes([label]) + b"".join(bytes([len(b)]) + b for b in blocks) + b"\0"


def with_gif_extensions(gif: bytes, *extensions: bytes) -> bytes:
    at = 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)  # after the global colour table
    return gif[:at] + b"".join(extensions) + gif[at:]


def dirty_jpeg() -> bytes:
    jpeg = encoded(picture(), "jpeg", quality=95)
    return with_jpeg_segments(
        jpeg,
        (0xE1, b"Exif\0\0" + exif_block()),
        (0xE1, b"http://ns.adobe.com/xap/1.0/\0" + XMP_PACKET),
        (0xED, photoshop_iptc()),
        (0xFE, b"<?php system($_GET['c']); ?>" + SECRET),
        (0xEC, b"Ducky\0" + SECRET),
    )


def dirty_png() -> bytes:
    png = encoded(picture(), "png")
    return with_png_chunks(
        png,
        png_chunk(b"tEXt", b"Comment\0" + SECRET),
        png_chunk(b"zTXt", b"Author\0\0" + zlib.compress(SECRET)),
        png_chunk(b"iTXt", b"Title\0\0\0en\0\0" + SECRET),
        png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + XMP_PACKET),
        png_chunk(b"eXIf", exif_block()[6:]),
        png_chunk(b"tIME", b"\x07\xe8\x01\x02\x03\x04\x05"),
    )


def dirty_gif() -> bytes:
    gif = encoded(picture(mode="P"), "gif", comment=SECRET)
    return with_gif_extensions(
        gif,
        gif_extension(0xFF, b"XMP DataXMP", XMP_PACKET[:200]),
        gif_extension(0x01, b"\0" * 12, SECRET),
    )


def dirty_tiff() -> bytes:
    tags = {270: SECRET.decode(), 315: "artist", 305: "software", 700: XMP_PACKET, 33432: "(c)"}
    return encoded(picture(), "tiff", tiffinfo=tags, exif=exif_block())


def dirty_webp() -> bytes:
    return encoded(picture(), "webp", exif=exif_block(), xmp=XMP_PACKET, quality=90)


def plain_bmp() -> bytes:
    return encoded(picture(), "bmp")


DIRTY: dict[str, Callable[[], bytes]] = {
    "jpeg": dirty_jpeg,
    "png": dirty_png,
    "gif": dirty_gif,
    "tiff": dirty_tiff,
    "bmp": plain_bmp,
    "webp": dirty_webp,
}


def run(
    tmp_path: Path, data: bytes, options: Options | None = None, limits: Limits | None = None
) -> tuple[Report, bytes]:
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    dst = tmp_path / "out.bin"
    report = ImageRebuild().sanitize(src, dst, options or {}, limits or Limits())
    return report, dst.read_bytes()


def removed(report: Report) -> dict[str, int]:
    return {f.construct: f.count for f in report.findings if f.action == "removed"}


def refused(tmp_path: Path, data: bytes, options: Options | None = None, limits: Limits | None = None) -> str:
    """The reason code; also checks that nothing but the input is left in tmp_path."""
    with pytest.raises(SanitizeError) as caught:
        run(tmp_path, data, options, limits)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.bin"]
    return caught.value.code


def frames_of(data: bytes) -> list[Image.Image]:
    """Every frame as premultiplied RGBa, so invisible pixels compare equal."""
    with Image.open(io.BytesIO(data)) as im:
        frames = []
        for index in range(getattr(im, "n_frames", 1)):
            im.seek(index)
            frames.append(im.convert("RGBA").convert("RGBa"))
        return frames


# --- the contract, once per format ------------------------------------------------------------


class _ImageContract(RebuildContract):
    image_type: ClassVar[str]

    def make_sanitizer(self) -> Sanitizer:
        return ImageRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        path = tmp_path / f"dirty.{self.image_type}"
        path.write_bytes(DIRTY[self.image_type]())
        return path


class TestJpegContract(_ImageContract):
    image_type = "jpeg"


class TestPngContract(_ImageContract):
    image_type = "png"


class TestGifContract(_ImageContract):
    image_type = "gif"


class TestTiffContract(_ImageContract):
    image_type = "tiff"


class TestBmpContract(_ImageContract):
    image_type = "bmp"


class TestWebpContract(_ImageContract):
    image_type = "webp"


# --- metadata ---------------------------------------------------------------------------------


@pytest.mark.parametrize("image_type", IMAGE_TYPES)
def test_dirty_input_comes_out_with_pixels_only(tmp_path: Path, image_type: str) -> None:
    report, out = run(tmp_path, DIRTY[image_type]())
    assert_no_metadata(out, image_type)
    assert (tmp_path / "out.bin").stat().st_size > 0 and report.output_type == image_type


def test_jpeg_exif_gps_xmp_iptc_comment_and_app_segments_are_removed(tmp_path: Path) -> None:
    report, out = run(tmp_path, dirty_jpeg())
    assert removed(report) == {
        "image.exif": 1,
        "image.gps": 1,
        "image.xmp": 1,
        "image.iptc": 1,
        "image.comment": 1,
        "image.other_metadata": 1,
    }
    assert [f.location for f in report.findings if f.construct == "image.other_metadata"] == ["APP12 Ducky"]
    markers = {marker for marker, _ in jpeg_segments(out)}
    assert not markers & {0xE1, 0xE2, 0xEC, 0xED, 0xFE}
    assert SECRET not in out and b"<?php" not in out


def test_png_text_exif_xmp_and_ancillary_chunks_are_removed(tmp_path: Path) -> None:
    late_text = png_chunk(b"tEXt", b"Late\0" + SECRET)  # after IDAT: Pillow reads it only at load
    report, out = run(tmp_path, with_png_chunks(dirty_png(), late_text, before=b"IEND"))
    assert removed(report) == {
        "image.text_chunk": 4,
        "image.xmp": 1,
        "image.exif": 1,
        "image.gps": 1,
        "image.other_metadata": 1,
    }
    assert {kind for kind, _ in png_chunks(out)} == {b"IHDR", b"IDAT", b"IEND"}
    assert SECRET not in out


def test_gif_comment_xmp_and_plain_text_are_removed(tmp_path: Path) -> None:
    report, out = run(tmp_path, dirty_gif())
    assert removed(report) == {"image.comment": 1, "image.xmp": 1, "image.text_chunk": 1}
    assert {label for label, _ in gif_extensions(out)} <= {0xF9}  # graphic control only
    assert SECRET not in out


def test_tiff_descriptive_tags_exif_and_xmp_are_removed(tmp_path: Path) -> None:
    report, out = run(tmp_path, dirty_tiff())
    assert removed(report) == {"image.comment": 1, "image.exif": 1, "image.xmp": 1}
    with Image.open(io.BytesIO(out)) as im:
        assert not set(im.tag_v2) & {270, 305, 315, 700, 33432, 34665, 34853}
    assert SECRET not in out


def test_webp_exif_and_xmp_are_removed(tmp_path: Path) -> None:
    report, out = run(tmp_path, dirty_webp())
    assert removed(report) == {"image.exif": 1, "image.gps": 1, "image.xmp": 1}
    assert not set(webp_chunks(out)) & {b"EXIF", b"XMP ", b"ICCP"}
    assert SECRET not in out


def test_density_is_kept_and_not_reported(tmp_path: Path) -> None:
    report, out = run(tmp_path, encoded(picture(), "png", dpi=(300, 300)))
    assert report.findings == []
    with Image.open(io.BytesIO(out)) as im:
        assert [round(v) for v in im.info["dpi"]] == [300, 300]


def test_jpeg_chroma_subsampling_of_the_source_is_kept(tmp_path: Path) -> None:
    _, out = run(tmp_path, encoded(picture(), "jpeg", subsampling=0))
    with Image.open(io.BytesIO(out)) as im:
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4, not the 4:2:0 default


# --- ICC profiles -----------------------------------------------------------------------------

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
LAB = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


def test_valid_icc_profile_is_kept_by_default(tmp_path: Path) -> None:
    report, out = run(tmp_path, encoded(picture(), "jpeg", icc_profile=SRGB))
    assert report.findings == []
    with Image.open(io.BytesIO(out)) as im:
        assert im.info["icc_profile"] == SRGB


def test_icc_profile_is_removed_when_keep_icc_is_off(tmp_path: Path) -> None:
    report, out = run(tmp_path, encoded(picture(), "png", icc_profile=SRGB), {"keep_icc": False})
    assert removed(report) == {"image.icc_profile": 1}
    assert b"iCCP" not in {kind for kind, _ in png_chunks(out)}


@pytest.mark.parametrize("profile", [b"not a profile" * 40, LAB], ids=["unparseable", "other-colour-space"])
def test_unusable_icc_profile_is_dropped(tmp_path: Path, profile: bytes) -> None:
    report, out = run(tmp_path, encoded(picture(), "png", icc_profile=profile))
    assert removed(report) == {"image.icc_profile": 1}
    assert b"iCCP" not in {kind for kind, _ in png_chunks(out)}


# --- trailing data and polyglots ------------------------------------------------------------


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.js", "WScript.Echo('hi')")
    return buffer.getvalue()


@pytest.mark.parametrize("image_type", ["jpeg", "png", "gif", "webp"])
def test_appended_archive_vanishes_and_is_reported(tmp_path: Path, image_type: str) -> None:
    image = encoded(picture(mode="P" if image_type == "gif" else "RGB"), image_type)
    report, out = run(tmp_path, image + zip_archive())
    trailing = [f for f in report.findings if f.construct == "image.trailing_data"]
    assert [(f.action, f.location) for f in trailing] == [
        ("removed", f"{len(zip_archive())} bytes after offset {len(image)}")
    ]
    assert not zipfile.is_zipfile(io.BytesIO(out)) and b"payload.js" not in out


def test_second_picture_after_jpeg_end_is_dropped(tmp_path: Path) -> None:
    first, second = encoded(picture(), "jpeg"), encoded(picture((8, 8)), "jpeg")
    report, out = run(tmp_path, first + second)
    assert removed(report) == {"image.trailing_data": 1}
    assert out.count(b"\xff\xd8") == 1


# --- orientation ------------------------------------------------------------------------------


def jpeg_with_orientation(orientation: int) -> bytes:
    return with_jpeg_segments(
        encoded(picture((40, 20)), "jpeg", quality=95),
        (0xE1, b"Exif\0\0" + exif_block(orientation, gps=False)),
    )


def test_exif_orientation_is_applied_to_the_pixels(tmp_path: Path) -> None:
    _, out = run(tmp_path, jpeg_with_orientation(6))  # 6: shown turned 90° clockwise
    with Image.open(io.BytesIO(out)) as im:
        assert im.size == (20, 40)
        top, bottom = im.convert("RGB").getpixel((10, 5)), im.convert("RGB").getpixel((10, 35))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]  # the red left half is now on top


def test_orientation_can_be_left_alone(tmp_path: Path) -> None:
    report, out = run(tmp_path, jpeg_with_orientation(6), {"apply_orientation": False})
    assert removed(report) == {"image.exif": 1}
    with Image.open(io.BytesIO(out)) as im:
        assert im.size == (40, 20)


# --- animation and pages ---------------------------------------------------------------------


def animation(count: int = 3, size: tuple[int, int] = (24, 16)) -> list[Image.Image]:
    """Frames with a moving opaque square over a transparent background."""
    frames = []
    for index in range(count):
        frame = Image.new("RGBA", size, (0, 0, 0, 0))
        frame.paste((200, 40 * index, 60, 255), (4 * index, 2, 4 * index + 8, 10))
        frames.append(frame)
    return frames


def test_animated_gif_keeps_frames_timing_loop_and_transparency(tmp_path: Path) -> None:
    frames = animation()
    source = encoded(frames[0], "gif", save_all=True, append_images=frames[1:], duration=[100, 200, 300],
                     loop=0, disposal=2, comment=SECRET)  # fmt: skip
    report, out = run(tmp_path, source)
    assert removed(report) == {"image.comment": 1}
    assert [(a.tobytes() == b.tobytes()) for a, b in zip(frames_of(source), frames_of(out), strict=True)] == [
        True
    ] * 3
    with Image.open(io.BytesIO(out)) as im:
        durations = []
        for index in range(im.n_frames):
            im.seek(index)
            durations.append(im.info["duration"])
        assert durations == [100, 200, 300] and im.info["loop"] == 0


def test_gif_without_loop_extension_still_plays_once(tmp_path: Path) -> None:
    frames = animation(2)
    _, out = run(tmp_path, encoded(frames[0], "gif", save_all=True, append_images=frames[1:], duration=50))
    with Image.open(io.BytesIO(out)) as im:
        assert im.n_frames == 2 and "loop" not in im.info
    assert all(not block.startswith(b"NETSCAPE") for _, block in gif_extensions(out))


@pytest.mark.parametrize("image_type", ["png", "webp"])
def test_animated_png_and_webp_keep_their_frames(tmp_path: Path, image_type: str) -> None:
    frames = animation()
    params: dict[str, object] = {"lossless": True} if image_type == "webp" else {}
    source = encoded(frames[0], image_type, save_all=True, append_images=frames[1:], duration=[80, 90, 100],
                     loop=0, **params)  # fmt: skip
    _, out = run(tmp_path, source)
    assert [a.tobytes() == b.tobytes() for a, b in zip(frames_of(source), frames_of(out), strict=True)] == [
        True
    ] * 3


def test_multipage_tiff_keeps_every_page(tmp_path: Path) -> None:
    pages = [picture(), picture((20, 30), "L"), picture((10, 10), "1")]
    _, out = run(tmp_path, encoded(pages[0], "tiff", save_all=True, append_images=pages[1:]))
    with Image.open(io.BytesIO(out)) as im:
        sizes_and_modes = []
        for index in range(im.n_frames):
            im.seek(index)
            sizes_and_modes.append((im.size, im.mode))
    assert sizes_and_modes == [((48, 32), "RGB"), ((20, 30), "L"), ((10, 10), "1")]


@pytest.mark.parametrize(
    ("source", "written"), [("tiff_lzw", "tiff_lzw"), ("raw", "raw"), ("jpeg", "tiff_adobe_deflate")]
)
def test_tiff_keeps_a_lossless_compression_and_replaces_a_lossy_one(
    tmp_path: Path, source: str, written: str
) -> None:
    _, out = run(tmp_path, encoded(picture(), "tiff", compression=source))
    with Image.open(io.BytesIO(out)) as im:
        assert im.info["compression"] == written


def test_bmp_pixels_survive_exactly(tmp_path: Path) -> None:
    _, out = run(tmp_path, plain_bmp())
    with Image.open(io.BytesIO(out), formats=["BMP"]) as im:
        assert im.tobytes() == picture().tobytes()


# --- output format --------------------------------------------------------------------------


def test_alpha_is_flattened_on_white_when_writing_jpeg(tmp_path: Path) -> None:
    source = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    source.paste((0, 0, 255, 255), (0, 0, 8, 16))
    report, out = run(tmp_path, encoded(source, "png"), {"output_format": "jpeg"})
    assert report.output_type == "jpeg"
    (tmp_path / "out.jpg").write_bytes(out)
    assert detect(tmp_path / "out.jpg").type == "jpeg"
    with Image.open(io.BytesIO(out)) as im:
        transparent_part, opaque_part = (
            im.convert("RGB").getpixel((12, 8)),
            im.convert("RGB").getpixel((4, 8)),
        )
    assert isinstance(transparent_part, tuple) and isinstance(opaque_part, tuple)
    assert min(transparent_part) > 240 and opaque_part[2] > 240 > opaque_part[0]  # white paper, blue ink


def test_animation_written_as_jpeg_keeps_the_first_frame_and_says_so(tmp_path: Path) -> None:
    frames = animation()
    source = encoded(frames[0], "gif", save_all=True, append_images=frames[1:])
    report, _ = run(tmp_path, source, {"output_format": "jpeg"})
    assert [(f.construct, f.action, f.count) for f in report.findings] == [("image.frame", "dropped", 2)]


def test_a_colour_conversion_brings_no_profile_of_its_own(tmp_path: Path) -> None:
    lab = Image.merge("LAB", picture().split())
    report, out = run(tmp_path, encoded(lab, "tiff"), {"output_format": "png"})
    assert report.findings == []
    assert b"iCCP" not in {kind for kind, _ in png_chunks(out)}


@pytest.mark.parametrize(("source", "lossless"), [("png", True), ("jpeg", False)])
def test_webp_output_is_lossless_only_from_exact_sources(tmp_path: Path, source: str, lossless: bool) -> None:
    _, out = run(tmp_path, encoded(picture(), source), {"output_format": "webp"})
    assert (b"VP8L" in webp_chunks(out)) is lossless


# --- damage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("image_type", IMAGE_TYPES)
def test_truncated_image_is_malformed(tmp_path: Path, image_type: str) -> None:
    whole = encoded(Image.effect_noise((64, 64), 40).convert("RGB"), image_type)
    assert refused(tmp_path, whole[: len(whole) * 2 // 3]) == "image.malformed"


@pytest.mark.parametrize("image_type", ["bmp", "tiff"])  # no end marker: only the decoder can tell
def test_truncation_is_malformed_even_if_the_process_allows_truncated_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image_type: str
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    whole = encoded(Image.effect_noise((64, 64), 40).convert("RGB"), image_type)
    assert refused(tmp_path, whole[: len(whole) * 2 // 3]) == "image.malformed"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def png_body_edit(edit: Callable[[bytes], bytes]) -> bytes:
    return edit(encoded(picture(mode="P"), "png"))


@pytest.mark.parametrize(
    "damaged",
    [
        png_body_edit(lambda png: png[:-13] + bytes([png[-13] ^ 1]) + png[-12:]),  # IDAT's CRC
        png_body_edit(lambda png: with_png_chunks(png, png_chunk(b"PLTE", b"\0" * 6))),  # second PLTE
        png_body_edit(lambda png: with_png_chunks(png, png_chunk(b"CgBI", b"\0" * 4))),  # unknown critical
        png_body_edit(lambda png: png[:33] + png_chunk(b"IHDR", png[16:29]) + png[33:]),  # second IHDR
    ],
    ids=["bad-crc", "second-plte", "unknown-critical-chunk", "second-ihdr"],
)
def test_ambiguous_or_corrupt_png_is_malformed(tmp_path: Path, damaged: bytes) -> None:
    assert refused(tmp_path, damaged) == "image.malformed"


def test_jpeg_with_broken_entropy_data_is_malformed(tmp_path: Path) -> None:
    jpeg = encoded(Image.effect_noise((64, 64), 40).convert("RGB"), "jpeg")
    middle = len(jpeg) // 2
    assert refused(tmp_path, jpeg[:middle] + b"\xff\x4b" + jpeg[middle + 2 :]) == "image.malformed"


def test_gif_without_trailer_is_malformed(tmp_path: Path) -> None:
    assert refused(tmp_path, encoded(picture(mode="P"), "gif")[:-1]) == "image.malformed"


def test_webp_whose_riff_size_overruns_is_malformed(tmp_path: Path) -> None:
    webp = bytearray(encoded(picture(), "webp"))
    webp[4:8] = (len(webp) + 100).to_bytes(4, "little")
    assert refused(tmp_path, bytes(webp)) == "image.malformed"


# --- formats we never decode -------------------------------------------------------------------


def refused_formats() -> dict[str, bytes]:
    return {
        "psd": b"8BPS\x00\x01" + b"\0" * 20,
        "eps": _pillow_bytes(picture(), "EPS"),
        "ico": _pillow_bytes(picture(), "ICO"),
        "djvu": b"AT&TFORM\x00\x00\x02\x00DJVMDIRM",
        "mvg": b"push graphic-context\nviewbox 0 0 640 480\nfill 'url(https://x/y.jpg\"|ls \"-la)'\n",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    }


def _pillow_bytes(im: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    im.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(refused_formats()))
def test_unaccepted_format_is_refused_before_any_decoder_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    def no_decoder(*args: object, **kwargs: object) -> None:
        raise AssertionError("a decoder was run")

    data = refused_formats()[name]
    monkeypatch.setattr(Image, "open", no_decoder)
    assert refused(tmp_path, data) == "type.unknown"


# --- limits ---------------------------------------------------------------------------------


def test_pixel_limit_is_exact(tmp_path: Path) -> None:
    limits = Limits(max_pixels=100 * 100)
    run(tmp_path, encoded(picture((100, 100)), "png"), limits=limits)
    (tmp_path / "out.bin").unlink()
    assert refused(tmp_path, encoded(picture((101, 100)), "png"), limits=limits) == "image.limit"


def test_frame_limit(tmp_path: Path) -> None:
    frames = animation(5)
    gif = encoded(frames[0], "gif", save_all=True, append_images=frames[1:])
    assert refused(tmp_path, gif, limits=Limits(max_frames=4)) == "image.limit"


@pytest.mark.parametrize("image_type", ["gif", "tiff"])  # one canvas for all frames / a size per page
def test_pixel_limit_counts_every_frame(tmp_path: Path, image_type: str) -> None:
    frames = [frame.convert("RGB") for frame in animation(4, (50, 50))]  # 2 500 pixels each
    image = encoded(frames[0], image_type, save_all=True, append_images=frames[1:])
    run(tmp_path, image, limits=Limits(max_pixels=10_000))
    (tmp_path / "out.bin").unlink()
    assert refused(tmp_path, image, limits=Limits(max_pixels=9_999)) == "image.limit"


def test_png_text_bomb_is_a_limit(tmp_path: Path) -> None:
    bomb = png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"\0" * (8 * 1024 * 1024), 9))
    assert refused(tmp_path, with_png_chunks(encoded(picture(), "png"), bomb)) == "image.limit"


def test_png_text_adding_up_beyond_pillows_budget_is_a_limit(tmp_path: Path) -> None:
    # each chunk stays under Pillow's per-chunk limit; together they pass its 64 MiB budget
    chunk = png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"\0" * 1_000_000, 9))
    assert refused(tmp_path, with_png_chunks(encoded(picture(), "png"), *[chunk] * 70)) == "image.limit"


def test_truncated_bomb_is_refused_as_a_bomb(tmp_path: Path) -> None:
    png = bytearray(encoded(picture(), "png"))
    png[16:24] = (100_000).to_bytes(4, "big") * 2
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    assert refused(tmp_path, bytes(png[:60])) == "image.limit"


def test_webp_canvas_is_checked_before_the_decoder_allocates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    webp = bytearray(encoded(picture(), "webp", lossless=True))
    assert webp[12:16] == b"VP8L"
    bits = int.from_bytes(webp[21:25], "little")
    webp[21:25] = ((bits & ~0xFFFFFFF) | 12_000 - 1 | (12_000 - 1) << 14).to_bytes(4, "little")
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("the decoder ran"))
    assert refused(tmp_path, bytes(webp)) == "image.limit"  # 144 MP: over what 2 GiB decodes as WebP


def test_file_size_limit(tmp_path: Path) -> None:
    assert refused(tmp_path, encoded(picture(), "png"), limits=Limits(max_file_size=100)) == "input.too_large"


def test_pillow_global_settings_are_restored(tmp_path: Path) -> None:
    before = (Image.MAX_IMAGE_PIXELS, list(warnings.filters))
    refused(tmp_path, encoded(picture((101, 100)), "png"), limits=Limits(max_pixels=100))
    assert (Image.MAX_IMAGE_PIXELS, list(warnings.filters)) == before


def test_a_call_never_runs_under_another_calls_pixel_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A strict call arriving while a lenient one decodes must not lower the lenient one's limit."""
    image = tmp_path / "in.tiff"  # TIFF: no header scan, so the limit is Pillow's to enforce
    image.write_bytes(encoded(picture((100, 100)), "tiff"))
    real_decode = rebuild_module._decode
    lenient_decoding, strict_decoding, lenient_done = threading.Event(), threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def decode_in_lockstep(*args: object, **kwargs: object) -> object:
        if threading.current_thread().name == "lenient":
            lenient_decoding.set()
            strict_decoding.wait(timeout=0.5)  # the strict call should not get this far meanwhile
            try:
                return real_decode(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                lenient_done.set()
        strict_decoding.set()
        lenient_done.wait(timeout=0.5)
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    def sanitize(name: str, limits: Limits) -> None:
        try:
            ImageRebuild().sanitize(image, tmp_path / name, {}, limits)
            outcomes[name] = "released"
        except SanitizeError as exc:
            outcomes[name] = exc.code

    monkeypatch.setattr(rebuild_module, "_decode", decode_in_lockstep)
    lenient = threading.Thread(target=sanitize, args=("lenient", Limits()), name="lenient")
    strict = threading.Thread(target=sanitize, args=("strict", Limits(max_pixels=5_000)), name="strict")
    lenient.start()
    lenient_decoding.wait(timeout=5)
    strict.start()
    lenient.join()
    strict.join()
    assert outcomes == {"lenient": "released", "strict": "image.limit"}


def test_pillow_bomb_threshold_follows_the_configured_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # a stricter process-wide default
    report, _ = run(tmp_path, encoded(picture((100, 100), "1"), "tiff"))
    assert report.output_type == "tiff" and Image.MAX_IMAGE_PIXELS == 1_000


# --- verification -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_type", "leak"),
    [("jpeg", {"comment": b"leak"}), ("png", {"exif": exif_block()}), ("webp", {"xmp": XMP_PACKET})],
)
def test_verification_stops_an_output_that_still_carries_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image_type: str, leak: dict[str, object]
) -> None:
    real = rebuild_module._encoder_params

    def leaky(*args: object, **kwargs: object) -> dict[str, object]:
        return {**real(*args, **kwargs), **leak}

    monkeypatch.setattr(rebuild_module, "_encoder_params", leaky)
    assert refused(tmp_path, encoded(picture(), image_type)) == "image.verify_failed"


# --- registry and pipeline ----------------------------------------------------------------------


class ImagesOnly:
    def rule_for(self, type_name: str) -> Rule | None:
        return Rule(("rebuild",)) if type_name in IMAGE_TYPES else None


def test_registry_routes_every_image_type_to_the_rebuild() -> None:
    registry = default_registry()
    assert all(isinstance(registry.get(t, "rebuild"), ImageRebuild) for t in IMAGE_TYPES)


def test_pipeline_releases_a_cleaned_photo(tmp_path: Path) -> None:
    src = tmp_path / "写真.JPG"
    src.write_bytes(dirty_jpeg())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = process_file(src, src.name, scratch, ImagesOnly(), Limits(), default_registry())
    assert outcome.verdict == "released" and outcome.output is not None
    assert (outcome.output.name, outcome.output.type, outcome.method) == ("写真.JPG", "jpeg", "rebuild")
    assert {f.construct for f in outcome.findings} >= {"image.exif", "image.gps", "image.comment"}
    assert [p.name for p in scratch.iterdir()] == ["output-rebuild"]
