""".xls links: a link to another workbook is broken and the cached values stay; hyperlinks
follow the one link policy.  Checked by an independent record walk (olefile and the BIFF
record layout, not the sanitiser's parser) and by LibreOffice reading the output."""

from __future__ import annotations

import csv
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import olefile
import pytest

from sanitizers.convert import soffice_path
from sanitizers.ole.excel import NEUTRAL_RECORD
from tests.sanitizers import ooxml_builders as ob
from tests.sanitizers.test_ole import (
    EXCEL_CLSID,
    assert_independently_clean,
    biff,
    bof,
    refusal,
    sanitize,
    write,
)

SUPBOOK, EXTERNSHEET, NAME, XCT, CRN = 0x01AE, 0x0017, 0x0018, 0x0059, 0x005A
FORMULA, STRING, SHRFMLA, NUMBER, LABEL, BOOLERR = 0x0006, 0x0207, 0x04BC, 0x0203, 0x0204, 0x0205
HLINK, HLINKTOOLTIP, BOUNDSHEET, EOF = 0x01B8, 0x0800, 0x0085, 0x000A
PATH = "\\\\fileserver\\share\\予算\\other.xls"


def walk(stream: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(offset, type, data) of every BIFF record, read here independently of the sanitiser."""
    pos = 0
    while pos + 4 <= len(stream):
        record_type, length = struct.unpack_from("<HH", stream, pos)
        yield pos, record_type, stream[pos + 4 : pos + 4 + length]
        pos += 4 + length
    assert pos == len(stream)


def workbook_stream(path: Path) -> bytes:
    with olefile.OleFileIO(str(path)) as ole:
        return ole.openstream("Workbook").read()


def unicode_string(text: str) -> bytes:
    return struct.pack("<HB", len(text), 1) + text.encode("utf-16-le")


def formula(row: int, column: int, result: bytes, tokens: bytes) -> bytes:
    return biff(
        FORMULA,
        struct.pack("<HHH", row, column, 15) + result + bytes(6) + struct.pack("<H", len(tokens)) + tokens,
    )


def number(value: float) -> bytes:
    return struct.pack("<d", value)


def special(kind: int, value: int = 0) -> bytes:
    return bytes((kind, 0, value, 0, 0, 0)) + b"\xff\xff"


REF3D_EXTERNAL = b"\x5a" + struct.pack("<HHH", 1, 0, 0xC000)  # [other.xls]Data!A1 through XTI 1
REF3D_INTERNAL = b"\x5a" + struct.pack("<HHH", 0, 0, 0xC000)  # Sheet1!A1 through XTI 0
NAME_TOKEN = b"\x43" + struct.pack("<I", 1)  # the workbook's first defined name


def linked_workbook(sheet_records: bytes) -> bytes:
    """Globals with a self reference, a link to other.xls (with cached cells), EXTERNSHEET
    (XTI 0 = this workbook, XTI 1 = other.xls) and a name defined on other.xls."""
    external_book = (
        struct.pack("<HH", 1, len(PATH)) + b"\x01" + PATH.encode("utf-16-le") + unicode_string("Data")
    )
    name = (
        struct.pack("<HBBHHHBBBB", 0, 0, 5, len(REF3D_EXTERNAL), 0, 0, 0, 0, 0, 0)
        + b"\x00Price"
        + REF3D_EXTERNAL
    )
    extra = (
        biff(SUPBOOK, struct.pack("<HH", 1, 0x0401))
        + biff(SUPBOOK, external_book)
        + biff(XCT, struct.pack("<hH", 1, 0))
        + biff(CRN, bytes((0, 0)) + struct.pack("<H", 0) + b"\x01" + number(42))
        + biff(
            EXTERNSHEET, struct.pack("<H", 2) + struct.pack("<HHH", 0, 0, 0) + struct.pack("<HHH", 1, 0, 0)
        )
        + biff(NAME, name)
    )
    sheet_name = b"\x06\x00Sheet1"
    globals_size = len(bof(5)) + len(extra) + 4 + 6 + len(sheet_name) + 4
    boundsheet = biff(BOUNDSHEET, struct.pack("<IBB", globals_size, 0, 0) + sheet_name)
    return bof(5) + extra + boundsheet + biff(EOF) + bof(0x10) + sheet_records + biff(EOF)


def cells_of(stream: bytes) -> dict[tuple[int, int], tuple[int, bytes]]:
    return {
        struct.unpack_from("<HH", data): (record_type, data[4:])  # the format, then the value
        for _, record_type, data in walk(stream)
        if record_type in (FORMULA, NUMBER, LABEL, BOOLERR)
    }


def test_formulas_on_another_workbook_become_their_cached_values(tmp_path: Path) -> None:
    shared_anchor = struct.pack("<HHBB", 5, 7, 0, 0)  # rows 5-7 of column A
    sheet = (
        formula(0, 0, number(42.0), REF3D_EXTERNAL)
        + formula(1, 0, special(0), REF3D_EXTERNAL + b"\x1e\x01\x00\x03")  # text result
        + biff(STRING, unicode_string("外部の値"))
        + formula(2, 0, special(1, 1), REF3D_EXTERNAL + b"\x1e\x01\x00\x0d")  # TRUE
        + formula(3, 0, special(2, 0x17), REF3D_EXTERNAL)  # #REF!
        + formula(4, 0, number(43.0), NAME_TOKEN)  # through the defined name
        + formula(5, 0, number(44.0), b"\x01" + struct.pack("<HH", 5, 0))  # shared
        + biff(SHRFMLA, shared_anchor + b"\x00\x03" + struct.pack("<H", len(REF3D_EXTERNAL)) + REF3D_EXTERNAL)
        + formula(6, 0, number(45.0), b"\x01" + struct.pack("<HH", 5, 0))
        + formula(8, 0, number(7.0), REF3D_INTERNAL + b"\x1e\x01\x00\x03")  # stays in the workbook
    )
    original = linked_workbook(sheet)
    src = write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": original, "\x01CompObj": b"c"})
    dst, findings = sanitize(src)
    assert findings["ole.external_workbook"] == ("removed", 1)
    assert findings["ole.external_formula"] == ("neutralised", 7)
    out = workbook_stream(dst)
    assert len(out) == len(original)  # written in place: BOUNDSHEET offsets still hold
    assert PATH.encode("utf-16-le") not in out and b"other" not in out
    cells = cells_of(out)
    assert cells[(0, 0)] == (NUMBER, struct.pack("<H", 15) + number(42.0))
    assert cells[(1, 0)] == (LABEL, struct.pack("<H", 15) + unicode_string("外部の値"))
    assert cells[(2, 0)] == (BOOLERR, struct.pack("<HBB", 15, 1, 0))
    assert cells[(3, 0)] == (BOOLERR, struct.pack("<HBB", 15, 0x17, 1))
    assert cells[(4, 0)][0] == NUMBER and cells[(5, 0)][0] == NUMBER and cells[(6, 0)][0] == NUMBER
    assert cells[(8, 0)][0] == FORMULA
    types = [record_type for _, record_type, _ in walk(out)]
    assert not {XCT, CRN, SHRFMLA, STRING} & set(types)
    books = [data for _, record_type, data in walk(out) if record_type == SUPBOOK]
    assert books == [struct.pack("<HH", 1, 0x0401), struct.pack("<HH", 1, 0x3A01)]
    assert all(not any(data) for _, t, data in walk(out) if t == NEUTRAL_RECORD)
    assert_independently_clean(dst, {"Workbook", "\x01CompObj"})


def test_a_workbook_link_that_cannot_be_read_still_refuses(tmp_path: Path) -> None:
    truncated = (
        struct.pack("<HH", 2, len(PATH)) + b"\x01" + PATH.encode("utf-16-le")
    )  # two sheets named, none there
    src = write(
        tmp_path,
        "in.xls",
        EXCEL_CLSID,
        {"Workbook": bof(5) + biff(SUPBOOK, truncated) + biff(EOF) + bof(0x10) + biff(EOF)},
    )
    assert refusal(src) == "ole.external_link"


def test_a_linked_text_continued_over_records_refuses(tmp_path: Path) -> None:
    sheet = formula(0, 0, special(0), REF3D_EXTERNAL) + biff(STRING, unicode_string("a")) + biff(0x003C, b"b")
    src = write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": linked_workbook(sheet)})
    assert refusal(src) == "ole.external_link"


# ── hyperlinks ───────────────────────────────────────────────────────────────────────

STD_LINK = bytes.fromhex("d0c9ea79f9bace118c8200aa004ba90b")
URL_MONIKER = bytes.fromhex("e0c9ea79f9bace118c8200aa004ba90b")
FILE_MONIKER = bytes.fromhex("0303000000000000c000000000000046")


def hyperlink_string(text: str) -> bytes:
    return struct.pack("<I", len(text) + 1) + (text + "\x00").encode("utf-16-le")


def hlink(row: int, flags: int, body: bytes) -> bytes:
    return biff(HLINK, struct.pack("<HHHH", row, row, 0, 0) + STD_LINK + struct.pack("<II", 2, flags) + body)


def url_link(row: int, url: str) -> bytes:
    encoded = (url + "\x00").encode("utf-16-le")
    return hlink(
        row, 0x17, hyperlink_string("表示") + URL_MONIKER + struct.pack("<I", len(encoded)) + encoded
    )


def sheet_with_links() -> bytes:
    file_moniker = FILE_MONIKER + struct.pack("<HI", 0, 9) + b"calc.exe\x00" + bytes(30)
    return (
        biff(0x0203, struct.pack("<HHH", 0, 0, 15) + number(1))
        + url_link(0, "https://www.city.example.lg.jp/")
        + biff(HLINKTOOLTIP, struct.pack("<HHHHH", 0x0800, 0, 0, 0, 0) + "tip\x00".encode("utf-16-le"))
        + url_link(1, "file:///C:/Windows/System32/calc.exe")
        + biff(HLINKTOOLTIP, struct.pack("<HHHHH", 0x0800, 1, 1, 0, 0) + "tip\x00".encode("utf-16-le"))
        + url_link(2, "\\\\attacker\\share\\x.xls")
        + hlink(3, 0x03, file_moniker)
        + hlink(4, 0x103, hyperlink_string("javascript:alert(1)"))
        + hlink(5, 0x08, hyperlink_string("Sheet1!A1"))  # a place in the workbook
        + hlink(6, 0x01, b"\x00" * 7)  # unreadable
    )


def hyperlinks_left(stream: bytes) -> list[int]:
    return [struct.unpack_from("<H", data)[0] for _, t, data in walk(stream) if t == HLINK]


def test_hyperlinks_follow_the_link_policy_and_refused_ones_lose_only_the_link(tmp_path: Path) -> None:
    book = ob_free_workbook(sheet_with_links())
    src = write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book})
    dst, findings = sanitize(src)
    out = workbook_stream(dst)
    assert len(out) == len(book)
    assert hyperlinks_left(out) == [0, 5]
    assert findings["ole.hyperlink"] == ("removed", 5)
    assert sum(1 for _, t, _ in walk(out) if t == HLINKTOOLTIP) == 1
    for gone in (
        "calc.exe".encode("utf-16-le"),
        b"calc.exe",
        "attacker".encode("utf-16-le"),
        "javascript".encode("utf-16-le"),
    ):
        assert gone not in out


def test_links_remove_keeps_only_places_in_the_workbook(tmp_path: Path) -> None:
    src = write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": ob_free_workbook(sheet_with_links())})
    dst, _ = sanitize(src, links="remove")
    assert hyperlinks_left(workbook_stream(dst)) == [5]


def ob_free_workbook(sheet_records: bytes) -> bytes:
    """One worksheet holding ``sheet_records``, no links to other workbooks."""
    sheet_name = b"\x06\x00Sheet1"
    globals_size = len(bof(5)) + 4 + 6 + len(sheet_name) + 4
    boundsheet = biff(BOUNDSHEET, struct.pack("<IBB", globals_size, 0, 0) + sheet_name)
    return bof(5) + boundsheet + biff(EOF) + bof(0x10) + sheet_records + biff(EOF)


# ── what LibreOffice writes and reads ────────────────────────────────────────────────


def libreoffice(src: Path, target: str, work: Path) -> Path:
    soffice = shutil.which("soffice")
    assert soffice is not None
    out = work / target.split(":")[0]
    work.mkdir(exist_ok=True)
    subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation={(work / 'profile').as_uri()}", "--convert-to", target,
         "--outdir", str(out), str(src)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return out / f"{src.stem}.{target.split(':')[0]}"


@pytest.mark.slow
@pytest.mark.skipif(soffice_path() is None, reason="LibreOffice is not installed")
def test_a_libreoffice_written_linked_workbook_keeps_its_values(tmp_path: Path) -> None:
    """An .xls LibreOffice writes from a workbook linked to another one: the rebuild keeps
    what each cell showed, and LibreOffice reads the same values back from the output."""
    package = ob.excel()
    ob.external_book(
        package, "file:///srv/share/other.xls", "Data",
        '<row r="10"><c r="A10"><f>[1]Data!A1</f><v>42</v></c><c r="B10" t="b"><f>[1]Data!A1&gt;1</f><v>1</v></c>'
        '<c r="C10"><f>[1]Data!A1*2+SUM(A1:A3)</f><v>84</v></c><c r="D10"><f>B9+1</f><v>4</v></c></row>',
    )  # fmt: skip
    xlsx = package.write(tmp_path / "linked.xlsx")
    xls = libreoffice(xlsx, "xls", tmp_path)
    assert b"other" in workbook_stream(xls)  # LibreOffice kept the link: the input is what we mean
    dst, findings = sanitize(xls)
    assert findings["ole.external_formula"] == ("neutralised", 3)
    out = workbook_stream(dst)
    assert b"other" not in out and "other".encode("utf-16-le") not in out
    assert [t for _, t, _ in walk(out)].count(FORMULA) == 2  # B9 and D10 read their own sheet: kept
    as_csv = "csv:Text - txt - csv (StarCalc):44,34,76"
    rows = list(
        csv.reader(libreoffice(dst, as_csv, tmp_path / "out").read_text(encoding="utf-8").splitlines())
    )
    assert rows[9][:4] == ["42", "1", "84", "4"]  # the boolean cell has a number format
    before = libreoffice(xls, as_csv, tmp_path / "in").read_text(encoding="utf-8").splitlines()
    assert rows == list(csv.reader(before))
