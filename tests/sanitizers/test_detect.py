"""Detection on files the tests build themselves: content decides, the name must agree."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import olefile
import pytest

from sanitizers.detect import detect
from sanitizers.errors import DetectionError

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000005000157a8e3e50000000049454e44ae426082"
)
WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
WORD_MACRO_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def ooxml(main_type: str | None, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        if main_type is not None:
            z.writestr(
                "[Content_Types].xml",
                '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/word/document.xml" ContentType="{main_type}"/></Types>',
            )
        z.writestr("word/document.xml", "<w:document/>")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("report.pdf", MINIMAL_PDF, "pdf"),
        ("REPORT.PDF", MINIMAL_PDF, "pdf"),
        ("noext", MINIMAL_PDF, "pdf"),
        ("image.png", PNG_1X1, "png"),
        ("letter.docx", ooxml(WORD_MAIN), "docx"),
        ("macro.docm", ooxml(WORD_MACRO_MAIN), "docm"),
        ("plain.zip", ooxml(None), "zip"),
        ("memo.txt", "全角テキスト\r\n".encode("cp932"), "txt"),
        ("件名.csv", "件名,金額\r\n".encode("cp932"), "csv"),  # libmagic calls this a DOS COM program
        ("ebcdic.txt", "HELLO WORLD\n".encode("cp500") * 20, "txt"),  # the text sanitiser decides
        ("table.csv", b"a,b\n1,2\n", "csv"),
        ("table.txt", b"a,b\n1,2\n", "txt"),
        ("run.ps1", b"Write-Host hi\n", "script"),
        ("setup.exe", b"not even an executable", "exe"),
        ("doc.jtd", b"anything", "jtd"),
        ("paper.xdw", b"anything", "xdw"),
        ("tool", b"#!/bin/sh\necho hi\n", "script"),
    ],
)
def test_content_and_name_agree(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    assert detect(write(tmp_path, name, data)).type == expected


def test_pdf_header_offset_within_first_kib_is_recorded(tmp_path: Path) -> None:
    detection = detect(write(tmp_path, "x.pdf", b"\x00" * 500 + MINIMAL_PDF))
    assert (detection.type, detection.pdf_header_offset) == ("pdf", 500)


def test_docx_secretly_carrying_vba_is_detected_as_macro_enabled(tmp_path: Path) -> None:
    data = ooxml(WORD_MAIN, {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"})
    assert detect(write(tmp_path, "innocent.docx", data)).type == "docm"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.pdf", b"", "type.empty"),
        ("program.pdf", b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" + b"\x00" * 200, "type.mismatch"),
        ("polyglot.pdf", b"MZ" + b"\x00" * 100 + MINIMAL_PDF, "type.polyglot"),
        ("zip.pdf", b"PK\x03\x04" + b"\x00" * 40 + MINIMAL_PDF, "type.malformed"),
        ("archive.docx", ooxml(None), "type.mismatch"),
        ("image.jpg", PNG_1X1, "type.mismatch"),
        ("doc.pdf", ooxml(WORD_MAIN), "type.mismatch"),
        ("text.pdf", b"just some text\n", "type.mismatch"),
        ("postscript.jpg", b"%!PS-Adobe-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", "type.mismatch"),
        ("blob.dat", bytes(range(256)) * 8, "type.unknown"),
        ("broken.docx", b"PK\x03\x04" + b"\x00" * 100, "type.malformed"),
    ],
)
def test_disagreement_is_refused_with_its_own_code(tmp_path: Path, name: str, data: bytes, code: str) -> None:
    with pytest.raises(DetectionError) as caught:
        detect(write(tmp_path, name, data))
    assert caught.value.code == code


def test_two_main_parts_in_one_package_is_malformed(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Override PartName="/a.xml" ContentType="{WORD_MAIN}"/>'
            '<Override PartName="/b.xml" ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/>'
            "</Types>",
        )
    with pytest.raises(DetectionError, match="several main document"):
        detect(write(tmp_path, "two.docx", buffer.getvalue()))


def test_content_types_with_an_entity_declaration_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">&x;</Types>',
        )
    with pytest.raises(DetectionError) as caught:
        detect(write(tmp_path, "xxe.docx", buffer.getvalue()))
    assert caught.value.code == "type.malformed"


@pytest.mark.parametrize("ident, nfib", [(b"\xdb\xa5", 45), (b"\x9b\xa5", 33)], ids=["word-2.0", "word-1.x"])
def test_word_before_ole_is_named_for_what_it_is(tmp_path: Path, ident: bytes, nfib: int) -> None:
    """Word for Windows 1.x/2.0 files have no OLE container; the reason says so, not that
    the name lies about the content."""
    fib = ident + nfib.to_bytes(2, "little") + bytes(124)
    path = tmp_path / "古い文書.doc"
    path.write_bytes(fib + b"\x00" * (0x180 - len(fib)) + "住民税のお知らせ".encode("cp932") + bytes(256))
    with pytest.raises(DetectionError) as caught:
        detect(path)
    assert caught.value.code == "type.old_word"


def test_text_that_happens_to_start_like_old_word_is_still_text(tmp_path: Path) -> None:
    path = tmp_path / "memo.txt"
    path.write_bytes("ﾛ･ﾃｽﾄ お知らせ\r\n".encode("cp932"))  # DB A5 in Shift_JIS, no FIB behind it
    assert detect(path).type == "txt"


def junk_in_an_unused_difat_slot(compound: bytes) -> bytes:
    """A compound file whose header lists a FAT sector beyond its count: olefile refuses it,
    Excel and LibreOffice read the FAT sectors the count names and ignore the rest."""
    fat_sectors = int.from_bytes(compound[0x2C:0x30], "little")
    slot = 0x4C + 4 * fat_sectors
    return compound[:slot] + (0x7777).to_bytes(4, "little") + compound[slot + 4 :]


def damaged_xls(tmp_path: Path, name: str = "集計.xls") -> Path:
    from tests.sanitizers.test_ole import EXCEL_CLSID, workbook, write

    sound = write(tmp_path, "sound.xls", EXCEL_CLSID, {"Workbook": workbook(), "\x01CompObj": b"c"})
    path = tmp_path / name
    path.write_bytes(junk_in_an_unused_difat_slot(sound.read_bytes()))
    return path


def test_an_office_file_olefile_cannot_read_keeps_its_type_so_its_rule_runs(tmp_path: Path) -> None:
    path = damaged_xls(tmp_path)
    with pytest.raises(OSError):  # OleFileError, an IOError: what made detection refuse it before
        olefile.OleFileIO(str(path))
    assert detect(path).type == "xls"


def test_an_unreadable_compound_file_named_as_nothing_office_is_still_malformed(tmp_path: Path) -> None:
    with pytest.raises(DetectionError) as caught:
        detect(damaged_xls(tmp_path, "data.bin"))
    assert caught.value.code == "type.malformed"


ODF = "application/vnd.oasis.opendocument."
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def odf_package(mimetype: str, *, first: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        if not first:
            z.writestr("content.xml", f'<office:document-content xmlns:office="{OFFICE}"/>')
        z.writestr("mimetype", mimetype)
        z.writestr("META-INF/manifest.xml", "<manifest/>")
        if first:
            z.writestr("content.xml", f'<office:document-content xmlns:office="{OFFICE}"/>')
    return buffer.getvalue()


def flat_odf(mimetype: str, prefix: str = "office") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{prefix}:document xmlns:{prefix}="{OFFICE}" '
        f'{prefix}:version="1.3" {prefix}:mimetype="{mimetype}"><{prefix}:body/></{prefix}:document>'
    ).encode()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("通知.odt", odf_package(ODF + "text"), "odt"),
        ("ひな形.ott", odf_package(ODF + "text-template"), "odt"),
        ("noext", odf_package(ODF + "text"), "odt"),
        ("late-mimetype.odt", odf_package(ODF + "text", first=False), "odt"),
        ("集計.ods", odf_package(ODF + "spreadsheet"), "ods"),
        ("template.ots", odf_package(ODF + "spreadsheet-template"), "ods"),
        ("説明.odp", odf_package(ODF + "presentation"), "odp"),
        ("template.otp", odf_package(ODF + "presentation-template"), "odp"),
        ("drawing.odg", odf_package(ODF + "graphics"), "odf"),
        ("formula.odf", odf_package(ODF + "formula"), "odf"),
        ("flat.fodt", flat_odf(ODF + "text"), "fodt"),
        ("flat.fods", flat_odf(ODF + "spreadsheet", "o"), "fods"),
        ("flat.fodp", flat_odf(ODF + "presentation"), "fodp"),
        ("noext", flat_odf(ODF + "text"), "fodt"),
        ("drawing.fodg", flat_odf(ODF + "graphics"), "odf"),
        ("plain.xml", f'<?xml version="1.0"?><document xmlns="{OFFICE}"/>'.encode(), "xml"),
    ],
)
def test_opendocument_is_typed_by_its_declared_media_type(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    assert detect(write(tmp_path, name, data)).type == expected


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("text.ods", odf_package(ODF + "text")),
        ("sheet.odt", odf_package(ODF + "spreadsheet")),
        ("drawing.odt", odf_package(ODF + "graphics")),
        ("flat.odt", flat_odf(ODF + "text")),
        ("flat.xml", flat_odf(ODF + "text")),
        ("package.fodt", odf_package(ODF + "text")),
    ],
)
def test_opendocument_named_as_another_kind_is_a_mismatch(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(DetectionError) as caught:
        detect(write(tmp_path, name, data))
    assert caught.value.code == "type.mismatch"


def test_a_flat_document_libmagic_takes_for_svg_is_still_a_flat_document(tmp_path: Path) -> None:
    """libmagic calls any XML with an early ``<svg:`` element SVG: a shape's title will do."""
    svg = "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
    title = f'<office:body><svg:title xmlns:svg="{svg}">図1</svg:title></office:body>'.encode()
    path = write(tmp_path, "shapes.fodt", flat_odf(ODF + "text").replace(b"<office:body/>", title))
    detection = detect(path)
    assert (detection.type, detection.magic_mime) == ("fodt", "image/svg+xml")


def test_a_flat_document_declaring_entities_is_not_read_as_one(tmp_path: Path) -> None:
    data = flat_odf(ODF + "text").replace(b"\n", b'\n<!DOCTYPE d [<!ENTITY x "y">]>\n', 1)
    assert detect(write(tmp_path, "noext", data)).type == "xml"
