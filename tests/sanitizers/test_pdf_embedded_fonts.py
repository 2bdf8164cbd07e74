"""Embedded font programs leave the rebuild as OTS wrote them, never as they came.

Each attack is built from scratch around a real TrueType font of the system; outputs are
read back with pikepdf and PDFium, which share no code with ``sanitizers.pdf.fonts``.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest

from sanitizers.base import Limits
from sanitizers.errors import MalformedError
from sanitizers.pdf import PdfRebuild, fonts
from sanitizers.pdf._eexec import decrypt
from sanitizers.pipeline import FINAL_REFUSALS
from tests.sanitizers import pdf_builders as b

PAYLOAD = b"MZ\x90\x00\x03\x00\x00\x00 appended executable " * 40

pytestmark = pytest.mark.skipif(not b.TRUETYPE_FONT.is_file(), reason="DejaVu Sans is not installed")


def rebuilt(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "out.pdf"
    PdfRebuild().sanitize(src, dst, {}, Limits())
    return dst


def refusal(src: Path, tmp_path: Path) -> MalformedError:
    with pytest.raises(MalformedError) as caught:
        rebuilt(src, tmp_path)
    assert caught.value.code not in FINAL_REFUSALS  # the rule's next method (画像化) runs
    assert "embedded font" in caught.value.detail
    assert not (tmp_path / "out.pdf").exists()
    return caught.value


def rendered(path: Path) -> bytes:
    """The first page as 8-bit grey pixels at 100 dpi, by PDFium."""
    document = pdfium.PdfDocument(path)
    try:
        return bytes(document[0].render(scale=100 / 72).to_pil().convert("L").tobytes())
    finally:
        document.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tables_of(font: bytes) -> dict[bytes, bytes]:
    (count,) = struct.unpack_from(">H", font, 4)
    records = (struct.unpack_from(">4sIII", font, 12 + 16 * i) for i in range(count))
    return {tag: font[offset : offset + length] for tag, _, offset, length in records}


def sfnt_of(tables: dict[bytes, bytes]) -> bytes:
    """A TrueType file of ``tables`` (checksums left at zero: OTS does not need them)."""
    offset = 12 + 16 * len(tables)
    directory, bodies = b"", b""
    for tag in sorted(tables):
        body = tables[tag] + bytes(-len(tables[tag]) % 4)
        directory += struct.pack(">4sIII", tag, 0, offset, len(tables[tag]))
        bodies += body
        offset += len(body)
    return struct.pack(">IHHHH", 0x00010000, len(tables), 16, 0, len(tables) * 16 - 16) + directory + bodies


class TestTrueType:
    def test_the_font_is_rewritten_and_the_text_stays(self, tmp_path: Path) -> None:
        original = b.TRUETYPE_FONT.read_bytes()
        src = b.save(b.embedded_font_document(original, "Kept text 123"), tmp_path / "in.pdf")
        dst = rebuilt(src, tmp_path)
        [program] = b.font_programs(dst)
        assert sha256(program) != sha256(original)
        assert b"glyf" in tables_of(program) and program[:4] == b"\x00\x01\x00\x00"
        assert b.pdfium_texts(dst) == b.pdfium_texts(src)

    def test_an_appended_payload_vanishes(self, tmp_path: Path) -> None:
        untrusted = b.TRUETYPE_FONT.read_bytes() + PAYLOAD
        src = b.save(b.embedded_font_document(untrusted), tmp_path / "in.pdf")
        dst = rebuilt(src, tmp_path)
        [program] = b.font_programs(dst)
        assert b"appended executable" not in program
        assert b"appended executable" not in b.decompressed_bytes(dst)

    def test_an_unknown_table_carrying_a_payload_is_dropped(self, tmp_path: Path) -> None:
        tables = tables_of(b.TRUETYPE_FONT.read_bytes()) | {b"zzzz": PAYLOAD}
        src = b.save(b.embedded_font_document(sfnt_of(tables)), tmp_path / "in.pdf")
        [program] = b.font_programs(rebuilt(src, tmp_path))
        assert b"zzzz" not in tables_of(program)
        assert b"appended executable" not in program

    def test_a_subset_without_installer_tables_keeps_its_own_tables(self, tmp_path: Path) -> None:
        """What LibreOffice embeds: no OS/2, name or post, and only a Macintosh cmap."""
        tables = tables_of(b.TRUETYPE_FONT.read_bytes())
        for tag in (b"OS/2", b"name", b"post", b"GSUB", b"GPOS", b"kern"):
            tables.pop(tag, None)
        mac_codes = bytes(range(256))  # code n → glyph n, as a byte encoding
        tables[b"cmap"] = struct.pack(">HHHHI", 0, 1, 1, 0, 12) + struct.pack(">HHH", 0, 262, 0) + mac_codes
        src = b.save(b.embedded_font_document(sfnt_of(tables)), tmp_path / "in.pdf")
        [program] = b.font_programs(rebuilt(src, tmp_path))
        assert set(tables_of(program)) <= set(tables)
        assert tables_of(program)[b"cmap"][:4] == struct.pack(">HH", 0, 2)  # Macintosh + Windows symbol

    def test_reserved_point_flags_are_cleared_not_refused(self, tmp_path: Path) -> None:
        """Some producers set bit 7 of glyph point flags; OTS refuses it, readers ignore it."""
        tables = tables_of(b.TRUETYPE_FONT.read_bytes())
        glyphs = bytearray(tables[b"glyf"])
        (long_offsets,) = struct.unpack_from(">h", tables[b"head"], 50)
        offsets = struct.unpack_from(">3I" if long_offsets else ">3H", tables[b"loca"])
        start = offsets[1] * (1 if long_offsets else 2)  # glyph 1, a simple glyph in DejaVu
        (contours,) = struct.unpack_from(">h", glyphs, start)
        assert contours > 0
        instructions_at = start + 10 + 2 * contours
        flags_at = instructions_at + 2 + struct.unpack_from(">H", glyphs, instructions_at)[0]
        glyphs[flags_at] |= 0x80
        tables[b"glyf"] = bytes(glyphs)
        src = b.save(b.embedded_font_document(sfnt_of(tables)), tmp_path / "in.pdf")
        [program] = b.font_programs(rebuilt(src, tmp_path))
        assert tables_of(program)[b"glyf"] != tables[b"glyf"]

    def test_a_malformed_table_never_reaches_the_output(self, tmp_path: Path) -> None:
        tables = tables_of(b.TRUETYPE_FONT.read_bytes())
        tables[b"hhea"] = tables[b"hhea"][:34] + struct.pack(">H", 0xFFFF)  # more metrics than hmtx holds
        untrusted = sfnt_of(tables)
        src = b.save(b.embedded_font_document(untrusted), tmp_path / "in.pdf")
        try:
            dst = rebuilt(src, tmp_path)
        except MalformedError as exc:
            assert "refused by OTS" in exc.detail
            return
        assert all(sha256(p) != sha256(untrusted) for p in b.font_programs(dst))

    def test_garbage_refuses_the_rebuild(self, tmp_path: Path) -> None:
        src = b.save(b.embedded_font_document(b"\x00\x01\x00\x00" + PAYLOAD), tmp_path / "in.pdf")
        assert "refused by OTS" in refusal(src, tmp_path).detail


class TestOtherPrograms:
    def test_a_type1_program_is_converted_to_cff_and_draws_the_same(self, tmp_path: Path) -> None:
        src = b.save(b.embedded_font_document(b.type1_program(), "ABC", key="/FontFile"), tmp_path / "in.pdf")
        dst = rebuilt(src, tmp_path)
        with pikepdf.open(dst) as pdf:
            [descriptor] = [o for o in pdf.objects if isinstance(o, pikepdf.Dictionary) and "/FontName" in o]
            assert "/FontFile" not in descriptor
            assert descriptor.FontFile3.Subtype == "/Type1C"
        assert rendered(dst) == rendered(src)  # squares, a seac accent and a subroutine
        assert b.pdfium_texts(dst) == b.pdfium_texts(src)

    def test_postscript_around_the_glyphs_does_not_survive(self, tmp_path: Path) -> None:
        hostile = b.type1_program(
            cleartext_extra=b"/Exploit { (file:///etc/passwd) (r) file } bind def\n", appended=PAYLOAD
        )
        src = b.save(b.embedded_font_document(hostile, "ABC", key="/FontFile"), tmp_path / "in.pdf")
        dst = rebuilt(src, tmp_path)
        [program] = b.font_programs(dst)
        for marker in (b"Exploit", b"/etc/passwd", b"appended executable", b"eexec", b"definefont"):
            assert marker not in program
            assert marker not in b.decompressed_bytes(dst)

    @pytest.mark.parametrize(
        "program",
        [
            b"%!PS-AdobeFont-1.0: Embedded 001.000\n/FontName /Embedded def\ncurrentfile eexec\n",
            b"%!PS-AdobeFont-1.0: no eexec at all\n",
            b"%!PS-AdobeFont-1.0\ncurrentfile eexec\n" + PAYLOAD,
        ],
    )
    def test_a_type1_program_that_cannot_be_read_refuses_the_rebuild(
        self, tmp_path: Path, program: bytes
    ) -> None:
        src = b.save(b.embedded_font_document(program, key="/FontFile"), tmp_path / "in.pdf")
        assert "cannot be converted" in refusal(src, tmp_path).detail

    def test_a_bare_cff_that_ots_refuses_refuses_the_rebuild(self, tmp_path: Path) -> None:
        program = b"\x01\x00\x04\x01" + PAYLOAD
        src = b.save(
            b.embedded_font_document(program, key="/FontFile3", subtype="/Type1C"), tmp_path / "in.pdf"
        )
        refusal(src, tmp_path)

    def test_an_unknown_fontfile3_subtype_refuses_the_rebuild(self, tmp_path: Path) -> None:
        src = b.save(
            b.embedded_font_document(b"anything", key="/FontFile3", subtype="/Type3C"), tmp_path / "in.pdf"
        )
        refusal(src, tmp_path)

    def test_an_opentype_program_goes_through_ots(self, tmp_path: Path) -> None:
        untrusted = b.TRUETYPE_FONT.read_bytes() + PAYLOAD
        src = b.save(
            b.embedded_font_document(untrusted, key="/FontFile3", subtype="/OpenType"), tmp_path / "in.pdf"
        )
        [program] = b.font_programs(rebuilt(src, tmp_path))
        assert b"appended executable" not in program

    def test_a_woff2_wrapped_font_is_refused_not_unpacked(self, tmp_path: Path) -> None:
        """OTS is built without its WOFF 2.0 decoder (and Brotli): documents never embed one."""
        wrapped = b.woff2_wrapped(b.TRUETYPE_FONT.read_bytes())
        src = b.save(
            b.embedded_font_document(wrapped, key="/FontFile3", subtype="/OpenType"), tmp_path / "in.pdf"
        )
        assert "WOFF 2.0" in refusal(src, tmp_path).detail


class TestType1Decryption:
    """The compiled decryption against the cipher as the specification writes it (the
    builders' encryption, in Python)."""

    @pytest.mark.parametrize("key", [55665, 4330])
    @pytest.mark.parametrize("length", [0, 1, 4, 1000, 300_000])
    def test_it_undoes_the_encryption(self, key: int, length: int) -> None:
        plain = random.Random(length).randbytes(length)
        assert decrypt(b._type1_encrypt(plain, key), key) == plain


class TestCffGlyphCount:
    @pytest.mark.parametrize("untrusted", [b"", b"\x01\x00", b"\x01\x00\x04\x01\x00\x01\x09", PAYLOAD])
    def test_truncated_or_garbage_cff_is_refused(self, untrusted: bytes) -> None:
        with pytest.raises(MalformedError):
            fonts.cff_glyph_count(untrusted)


@pytest.mark.slow
def test_a_libreoffice_pdf_still_rebuilds(tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    text = tmp_path / "letter.txt"
    text.write_text("Plain text of a letter, typeset by LibreOffice.\n", encoding="utf-8")
    subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(text)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    src = tmp_path / "letter.pdf"
    originals = {sha256(p) for p in b.font_programs(src)}
    assert originals, "LibreOffice embedded no font"
    dst = rebuilt(src, tmp_path)
    assert {sha256(p) for p in b.font_programs(dst)}.isdisjoint(originals)
    assert b.pdfium_texts(dst) == b.pdfium_texts(src)
