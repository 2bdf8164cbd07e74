"""Pictures and Word's embedded fonts inside OOXML packages are written anew, never copied.

Each attack is built from scratch: a picture or a font followed by a payload, or carrying
one inside.  Outputs are read back with zipfile, Pillow and the font's own table directory
(none of them shares code with the rebuild), and searched for the payload's bytes.
"""

from __future__ import annotations

import io
import struct
import uuid
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from sanitizers.base import Limits
from sanitizers.errors import MalformedError, VerifyError
from sanitizers.ooxml import OoxmlRebuild
from sanitizers.ooxml.verify import verify_package
from sanitizers.pdf.fonts import sfnt_file, sfnt_tables
from sanitizers.pipeline import FINAL_REFUSALS
from tests.sanitizers import ooxml_builders as b
from tests.sanitizers.contract import removed_counts
from tests.sanitizers.pdf_builders import TRUETYPE_FONT, woff2_wrapped

PAYLOAD = b"MZ\x90\x00 PE payload that must not survive " * 20
FONT_KEY = uuid.UUID("1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d")
OBFUSCATED_FONT = "application/vnd.openxmlformats-officedocument.obfuscatedFont"


def picture(fmt: str) -> bytes:
    image = Image.new("RGB", (48, 32), (230, 40, 40))
    image.paste((20, 60, 200), (0, 0, 24, 32))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def with_picture(name: str, data: bytes, content_type: str) -> b.Builder:
    def add(package: b.Package) -> None:
        package.add(f"word/media/{name}", data, content_type)
        rid = package.relate("word/document.xml", b.REL + "image", f"media/{name}")
        b.append_to_body(
            package, f'<w:p><w:r><w:pict><v:shape><v:imagedata r:id="{rid}"/></v:shape></w:pict></w:r></w:p>'
        )

    return add


def rebuild(src: Path, tmp_path: Path) -> tuple[Path, dict[str, int]]:
    dst = tmp_path / "out.docx"
    report = OoxmlRebuild().sanitize(src, dst, {}, Limits())
    return dst, removed_counts(report)


def every_member(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def read_member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


@pytest.mark.parametrize(
    ("fmt", "name", "content_type"),
    [("PNG", "a.png", "image/png"), ("JPEG", "a.jpeg", "image/jpeg"), ("GIF", "a.gif", "image/gif")],
)
def test_a_picture_keeps_its_pixels_and_loses_what_follows_it(
    tmp_path: Path, fmt: str, name: str, content_type: str
) -> None:
    original = picture(fmt)
    src = b.build(tmp_path / "in.docx", "docx", with_picture(name, original + PAYLOAD, content_type))
    dst, removed = rebuild(src, tmp_path)
    assert removed["image.trailing_data"] == 1
    assert PAYLOAD[:24] not in every_member(dst)
    written = read_member(dst, f"word/media/{name}")
    with Image.open(io.BytesIO(written)) as out, Image.open(io.BytesIO(original)) as before:
        assert out.format == fmt
        difference = ImageChops.difference(out.convert("RGB"), before.convert("RGB")).getbbox()
        assert difference is None or fmt == "JPEG"


def test_a_slides_picture_loses_what_follows_it_too(tmp_path: Path) -> None:
    def slide_picture(package: b.Package) -> None:
        package.add("ppt/media/image9.gif", picture("GIF") + PAYLOAD, "image/gif")
        package.relate("ppt/slides/slide1.xml", b.REL + "image", "../media/image9.gif")

    src = b.build(tmp_path / "in.pptx", "pptx", slide_picture)
    dst = tmp_path / "out.pptx"
    removed = removed_counts(OoxmlRebuild().sanitize(src, dst, {}, Limits()))
    assert removed["image.trailing_data"] == 1
    assert PAYLOAD[:24] not in every_member(dst)
    with Image.open(io.BytesIO(read_member(dst, "ppt/media/image9.gif"))) as out:
        assert out.format == "GIF"


def test_metadata_hidden_in_a_picture_goes(tmp_path: Path) -> None:
    image = Image.new("RGB", (16, 16), (1, 2, 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", comment=b"<script>fetch('//evil.example')</script>")
    src = b.build(tmp_path / "in.docx", "docx", with_picture("c.jpeg", buffer.getvalue(), "image/jpeg"))
    dst, removed = rebuild(src, tmp_path)
    assert removed["image.comment"] == 1
    assert b"evil.example" not in every_member(dst)


def test_a_picture_that_does_not_decode_is_dropped_with_its_reference(tmp_path: Path) -> None:
    truncated = picture("PNG")[:60]
    src = b.build(tmp_path / "in.docx", "docx", with_picture("t.png", truncated, "image/png"))
    dst = tmp_path / "out.docx"
    report = OoxmlRebuild().sanitize(src, dst, {}, Limits())
    dropped = [f for f in report.findings if f.construct == "ooxml.unreadable_picture"]
    assert dropped and dropped[0].action == "dropped" and "image." in (dropped[0].location or "")
    with zipfile.ZipFile(dst) as archive:
        assert "word/media/t.png" not in archive.namelist()
        assert b"r:id" not in archive.read("word/document.xml")


def test_a_picture_over_the_image_limits_is_dropped_not_decoded(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("1", (6000, 6000)).save(buffer, "PNG")
    src = b.build(tmp_path / "in.docx", "docx", with_picture("big.png", buffer.getvalue(), "image/png"))
    dst = tmp_path / "out.docx"
    report = OoxmlRebuild().sanitize(src, dst, {}, Limits(max_pixels=1_000_000))
    assert any(
        f.construct == "ooxml.unreadable_picture" and "image.limit" in (f.location or "")
        for f in report.findings
    )


def emf(*records: bytes) -> bytes:
    """An EMF written from [MS-EMF]: a header, ``records``, the end-of-file record."""
    eof = struct.pack("<IIIII", 14, 20, 0, 16, 20)
    body = b"".join(records) + eof
    header = struct.pack(
        "<II4i4iIIIIHHIII2i2i", 1, 88, 0, 0, 47, 31, 0, 0, 1270, 846, 0x464D4520, 0x10000,
        88 + len(body), 2 + len(records), 1, 0, 0, 0, 0, 1024, 768, 320, 240,
    )  # fmt: skip
    return header + body


RECTANGLE = struct.pack("<II4i", 43, 24, 2, 2, 40, 30)  # EMR_RECTANGLE
COMMENT = struct.pack("<III", 70, 12 + len(PAYLOAD), len(PAYLOAD)) + PAYLOAD  # EMR_COMMENT


def record_types(metafile: bytes) -> list[int]:
    """The EMF's record types, walked by their sizes (independent of the rebuild's walker)."""
    types, at = [], 0
    while at < len(metafile):
        kind, size = struct.unpack_from("<II", metafile, at)
        types.append(kind)
        at += size
        if kind == 14:
            break
    assert at == len(metafile)
    return types


def test_a_metafile_keeps_its_drawing_and_loses_comments_and_what_follows(tmp_path: Path) -> None:
    data = emf(RECTANGLE, COMMENT) + PAYLOAD
    src = b.build(tmp_path / "in.docx", "docx", with_picture("d.emf", data, "image/x-emf"))
    dst, removed = rebuild(src, tmp_path)
    assert removed["metafile.comment"] == 1 and removed["metafile.trailing_data"] == 1
    assert PAYLOAD[:24] not in every_member(dst)
    assert record_types(read_member(dst, "word/media/d.emf")) == [1, 43, 14]


# fonts


def obfuscated(font: bytes, key: uuid.UUID) -> bytes:
    """ECMA-376 Part 1, 17.8.1, written from the standard: the GUID's bytes in reverse."""
    xor = bytes.fromhex(key.hex)[::-1]
    return bytes(byte ^ xor[i % 16] for i, byte in enumerate(font[:32])) + font[32:]


def with_font(data: bytes, key: str = "{" + str(FONT_KEY).upper() + "}") -> b.Builder:
    def add(package: b.Package) -> None:
        package.add("word/fonts/font1.odttf", data, OBFUSCATED_FONT)
        package.add(
            "word/fontTable.xml",
            f'<w:fonts xmlns:w="{b.W}" xmlns:r="{b.R}"><w:font w:name="DejaVu Sans">'
            f'<w:embedRegular r:id="rIdF" w:fontKey="{key}"/></w:font></w:fonts>',
            b.DOC + "wordprocessingml.fontTable+xml",
        )
        package.relate("word/document.xml", b.REL + "fontTable", "fontTable.xml")
        package.relate("word/fontTable.xml", b.REL + "font", "fonts/font1.odttf", rid="rIdF")

    return add


def table_directory(font: bytes) -> dict[bytes, tuple[int, int]]:
    (count,) = struct.unpack_from(">H", font, 4)
    return {
        tag: (offset, length)
        for tag, _, offset, length in (struct.unpack_from(">4sIII", font, 12 + 16 * i) for i in range(count))
    }


def test_an_embedded_font_is_rewritten_by_ots_and_keeps_its_key(tmp_path: Path) -> None:
    font = TRUETYPE_FONT.read_bytes()
    src = b.build(tmp_path / "in.docx", "docx", with_font(obfuscated(font + PAYLOAD, FONT_KEY)))
    dst, _ = rebuild(src, tmp_path)
    assert PAYLOAD[:24] not in every_member(dst)
    assert b'w:fontKey="{' + str(FONT_KEY).upper().encode() in read_member(dst, "word/fontTable.xml")
    clean = obfuscated(read_member(dst, "word/fonts/font1.odttf"), FONT_KEY)
    tables = table_directory(clean)
    assert {b"glyf", b"loca", b"cmap", b"head"} <= tables.keys()
    end = max(offset + length for offset, length in tables.values())
    assert len(clean) - end in range(4)  # nothing after the last table but its padding
    # the glyph outlines are the font's own
    glyf_at, glyf_length = tables[b"glyf"]
    assert clean[glyf_at : glyf_at + glyf_length] in font


def test_a_payload_in_a_table_of_its_own_inside_the_font_goes(tmp_path: Path) -> None:
    font = TRUETYPE_FONT.read_bytes()
    tables = sfnt_tables(font)
    assert tables is not None
    carrying = sfnt_file(font[:4], {**tables, b"zPay": PAYLOAD})  # a table no rasteriser reads
    src = b.build(tmp_path / "in.docx", "docx", with_font(obfuscated(carrying, FONT_KEY)))
    dst, _ = rebuild(src, tmp_path)
    assert PAYLOAD[:24] not in every_member(dst)
    clean = obfuscated(read_member(dst, "word/fonts/font1.odttf"), FONT_KEY)
    assert b"zPay" not in table_directory(clean) and b"glyf" in table_directory(clean)


def test_a_graphite_table_carrying_a_payload_goes(tmp_path: Path) -> None:
    """Graphite's tables (SIL's shaping engine, which Word never runs) are not compiled into
    the OTS that mukaika builds: one in a font is dropped, whatever it holds."""
    font = TRUETYPE_FONT.read_bytes()
    tables = sfnt_tables(font)
    assert tables is not None
    silf = struct.pack(">IHH", 0x00050000, 0, 1) + PAYLOAD  # version 5, no compression, one subtable
    src = b.build(
        tmp_path / "in.docx",
        "docx",
        with_font(obfuscated(sfnt_file(font[:4], {**tables, b"Silf": silf}), FONT_KEY)),
    )
    dst, _ = rebuild(src, tmp_path)
    assert PAYLOAD[:24] not in every_member(dst)
    clean = obfuscated(read_member(dst, "word/fonts/font1.odttf"), FONT_KEY)
    assert b"Silf" not in table_directory(clean) and b"glyf" in table_directory(clean)


def test_a_woff2_wrapped_font_is_refused_not_unpacked(tmp_path: Path) -> None:
    """The WOFF 2.0 decoder is not compiled into mukaika's OTS either: Word never embeds one."""
    wrapped = woff2_wrapped(TRUETYPE_FONT.read_bytes())
    src = b.build(tmp_path / "in.docx", "docx", with_font(obfuscated(wrapped, FONT_KEY)))
    with pytest.raises(MalformedError, match=r"WOFF 2\.0"):
        rebuild(src, tmp_path)


def test_a_font_ots_refuses_refuses_the_rebuild_so_the_next_method_runs(tmp_path: Path) -> None:
    garbage = b"\x00\x01\x00\x00" + b"\x00\x05" + bytes(600)
    src = b.build(tmp_path / "in.docx", "docx", with_font(obfuscated(garbage, FONT_KEY)))
    with pytest.raises(MalformedError) as refusal:
        rebuild(src, tmp_path)
    assert refusal.value.code == "ooxml.embedded_font" not in FINAL_REFUSALS


def test_a_font_without_a_key_is_refused_not_copied(tmp_path: Path) -> None:
    font = TRUETYPE_FONT.read_bytes()
    src = b.build(tmp_path / "in.docx", "docx", with_font(obfuscated(font, FONT_KEY), key="not-a-guid"))
    with pytest.raises(MalformedError, match="key"):
        rebuild(src, tmp_path)


def test_powerpoint_fonts_are_dropped(tmp_path: Path) -> None:
    def embedded_font(package: b.Package) -> None:
        package.add("ppt/fonts/font1.fntdata", TRUETYPE_FONT.read_bytes()[:4096], "application/x-fontdata")
        package.relate("ppt/presentation.xml", b.REL + "font", "fonts/font1.fntdata")

    src = b.build(tmp_path / "in.pptx", "pptx", embedded_font)
    dst = tmp_path / "out.pptx"
    report = OoxmlRebuild().sanitize(src, dst, {}, Limits())
    assert any(f.construct == "ooxml.embedded_font" for f in report.findings)
    with zipfile.ZipFile(dst) as archive:
        assert not any(name.startswith("ppt/fonts/") for name in archive.namelist())


# the verifier, on packages the rebuild did not write


def package_bytes(tmp_path: Path, *builders: b.Builder) -> bytes:
    return b.build(tmp_path / "p.docx", "docx", *builders).read_bytes()


def test_the_verifier_refuses_a_picture_with_data_after_its_end(tmp_path: Path) -> None:
    data = package_bytes(tmp_path, with_picture("a.png", picture("PNG") + PAYLOAD, "image/png"))
    with pytest.raises(VerifyError, match=r"a\.png"):
        verify_package(data, keep_web_links=True)


def test_the_verifier_refuses_a_picture_that_is_something_else(tmp_path: Path) -> None:
    data = package_bytes(tmp_path, with_picture("a.png", PAYLOAD, "image/png"))
    with pytest.raises(VerifyError, match="not a picture"):
        verify_package(data, keep_web_links=True)


def test_the_verifier_refuses_a_font_with_bytes_outside_its_tables(tmp_path: Path) -> None:
    font = TRUETYPE_FONT.read_bytes()
    data = package_bytes(tmp_path, with_font(obfuscated(font + PAYLOAD, FONT_KEY)))
    with pytest.raises(VerifyError, match=r"font1\.odttf"):
        verify_package(data, keep_web_links=True)


def test_the_verifier_refuses_a_metafile_with_a_comment(tmp_path: Path) -> None:
    data = package_bytes(tmp_path, with_picture("d.emf", emf(RECTANGLE, COMMENT), "image/x-emf"))
    with pytest.raises(VerifyError, match=r"d\.emf"):
        verify_package(data, keep_web_links=True)


def test_the_verifier_accepts_what_the_rebuild_wrote(tmp_path: Path) -> None:
    src = b.build(
        tmp_path / "in.docx",
        "docx",
        with_picture("a.png", picture("PNG") + PAYLOAD, "image/png"),
        with_picture("d.emf", emf(RECTANGLE, COMMENT), "image/x-emf"),
        with_font(obfuscated(TRUETYPE_FONT.read_bytes(), FONT_KEY)),
    )
    dst, _ = rebuild(src, tmp_path)
    verify_package(dst.read_bytes(), keep_web_links=True)
