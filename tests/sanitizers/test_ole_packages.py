"""ZIP packages inside .doc, .ppt and .xls are removed where they lie: a shape's DrawingML
copy (OfficeArt's metroBlob), a workbook's theme, a document's theme (and what else its FIB
names for Office alone) and a presentation's round-trip records.

The attacks start from files LibreOffice writes from a document holding a rectangle with
text (and, in the workbook, cells): a metroBlob whose package links its picture to
``\\\\attacker\\share\\x.png`` and carries an executable is added to the rectangle's tertiary
property table (the one it has, grown, or a new one after its first table), every
container around it and every offset past it moved to match; a workbook gets a Theme
record holding such a package at the end of its globals; a document gets the FIB of Word
2007 naming such a theme and a colour mapping at the end of its table stream; the
presentation's master gets a round-trip theme, colour mapping and layout.  Outputs are
read back with olefile and the walkers here, which go from container to container (the
sanitiser finds tables by their header) or follow the FIB, searched byte for byte, and
printed (PDF, CSV) by LibreOffice.  Hand-made files cover what those do not: a metroBlob
among other complex properties, split over records or in ``Data``, a table whose data does
not add up, themes continued over records or too short to hold the default one, each
round-trip record, a FIB pair that names bytes past its stream or under another structure.
"""

from __future__ import annotations

import csv
import io
import shutil
import struct
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
import pytest

from sanitizers.base import Limits
from sanitizers.convert import soffice_path
from sanitizers.errors import VerifyError
from sanitizers.ole import rebuild
from sanitizers.ole.cfb_writer import write_compound_file
from sanitizers.ole.excel import NEUTRAL_RECORD
from sanitizers.ole.packages import NEUTRAL_ATOM
from sanitizers.ole.word import document_text, read_fib
from tests.conftest import CORPUS
from tests.sanitizers.contract import fell_back_to_pdf
from tests.sanitizers.pictures import EXECUTABLE, payload_markers
from tests.sanitizers.test_ole import (
    EXCEL_CLSID,
    PPT_CLSID,
    WORD_CLSID,
    biff,
    ppt_atom,
    ppt_container,
    ppt_streams,
    refusal,
    sanitize,
    word_streams,
    write,
)
from tests.sanitizers.test_ole_excel_links import libreoffice, ob_free_workbook, walk
from tests.sanitizers.test_ole_pictures import streams_and_clsid

UNC = "\\\\attacker\\share\\x.png"
SHAPE_TEXT = "四角形の文字"
HEADER = struct.Struct("<HHI")
PROPERTY = struct.Struct("<HI")
FOPT, SECONDARY_FOPT, TERTIARY_FOPT = 0xF00B, 0xF121, 0xF122
PROPERTY_TABLES = frozenset({FOPT, SECONDARY_FOPT, TERTIARY_FOPT})
METRO_BLOB, BID, COMPLEX = 0x03A9, 0x4000, 0x8000
WZ_NAME, WZ_DESCRIPTION = 0x0380, 0x0381
DG_CONTAINER, SPGR_CONTAINER, SP_CONTAINER, FSP = 0xF002, 0xF003, 0xF004, 0xF00A
RECTANGLE = 1
BOF, EOF, BOUNDSHEET, INDEX, CONTINUE, OBJ = 0x0809, 0x000A, 0x0085, 0x020B, 0x003C, 0x005D
MSODRAWINGGROUP, MSODRAWING = 0x00EB, 0x00EC
THEME, CONTINUE_FRT12 = 0x0896, 0x0875
DEFAULT_THEME = 124226
PERSIST_DIRECTORY, USER_EDIT = 0x1772, 0x0FF5
PPDRAWING = 0x040C
MAX_DATA = 8224  # the most data a BIFF8 record holds
FIB_PAIRS = 154  # where the FIB's fcLcb array starts (MS-DOC 2.5.1)
WORD_2007_PAIRS = 0xB7
FC_MSO_ENVELOPE, FC_OSS_THEME, FC_COLOR_SCHEME_MAPPING = 97, 181, 182
MAIN_MASTER = 0x03F8
ROUND_TRIP_THEME, ROUND_TRIP_COLOR_MAPPING, ROUND_TRIP_LAYOUT = 0x040E, 0x040F, 0x041E
#: MS-PPT's round-trip records that hold a package, XML or a server's URL
ROUND_TRIP_REMOVED = frozenset({0x040E, 0x040F, 0x041E, 0x0423, 0x0427, 0x0428, 0x2B0B, 0x3714})
#: ... and those that hold numbers: identifiers, checksums, flags
ROUND_TRIP_NUMBERS = {
    0x041C: 4, 0x041D: 4, 0x041F: 4, 0x0420: 1, 0x0422: 8, 0x0424: 1, 0x0425: 1, 0x0426: 8, 0x2B0D: 4, 0x0BDD: 1,
}  # fmt: skip


# ── packages ─────────────────────────────────────────────────────────────────────────


def package(parts: Mapping[str, bytes]) -> bytes:
    """A ZIP of ``parts``, stored: the link and the executable lie in it as they are.  Its
    members are dated, so that the same parts make the same bytes whenever they are zipped."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 4, 1, 9, 0, 0)), data)
    return out.getvalue()


def relationships(*relationship: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
        f'"http://schemas.openxmlformats.org/package/2006/relationships">{"".join(relationship)}</Relationships>'
    ).encode()


LINKED_PICTURE = (
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"'
    f' Target="{UNC}" TargetMode="External"/>'
)
DRAWINGML = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def shape_package() -> bytes:
    """A metroBlob as Office writes one (drs/shapexml.xml behind its relationship), its
    picture fetched from a share, an executable beside it."""
    return package(
        {
            "_rels/.rels": relationships(
                '<Relationship Id="rId1" Type="http://schemas.microsoft.com/office/2006/relationships/shapeXml"'
                ' Target="drs/shapexml.xml"/>'
            ),
            "drs/shapexml.xml": (
                f'<p:sp xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" {DRAWINGML}>'
                '<p:spPr><a:blipFill><a:blip r:link="rId1"/></a:blipFill></p:spPr></p:sp>'
            ).encode(),
            "drs/_rels/shapexml.xml.rels": relationships(LINKED_PICTURE),
            "drs/media/invoice.exe": EXECUTABLE,
        }
    )


def theme_package(padding: int = 0) -> bytes:
    """A theme whose background picture is fetched from a share, an executable beside it,
    and ``padding`` bytes more: a theme larger than a record goes on in ContinueFrt12."""
    return package(
        {
            "_rels/.rels": relationships(
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/theme"'
                ' Target="theme/theme/theme1.xml"/>'
            ),
            "theme/theme/theme1.xml": (
                f'<a:theme {DRAWINGML} name="t"><a:themeElements><a:fmtScheme name="t"><a:bgFillStyleLst>'
                '<a:blipFill><a:blip r:link="rId1"/></a:blipFill></a:bgFillStyleLst></a:fmtScheme>'
                "</a:themeElements></a:theme>"
            ).encode(),
            "theme/theme/_rels/theme1.xml.rels": relationships(LINKED_PICTURE),
            "theme/media/invoice.exe": EXECUTABLE,
            "theme/media/padding.bin": bytes(range(256)) * (padding // 256),
        }
    )


MARKERS = (UNC.encode(), UNC.encode("utf-16-le"), *payload_markers())


def assert_no_package(streams: Mapping[str, bytes]) -> None:
    for name, data in streams.items():
        for marker in MARKERS:
            assert marker not in data, (name, marker)


# ── OfficeArt, walked from container to container ────────────────────────────────────


def property_table(record_type: int, *properties: tuple[int, int | bytes]) -> bytes:
    """A property table: each property's value, or its complex data (bytes)."""
    entries, data = b"", b""
    for opid, value in properties:
        if isinstance(value, bytes):
            entries += PROPERTY.pack(opid | COMPLEX, len(value))
            data += value
        else:
            entries += PROPERTY.pack(opid, value)
    return HEADER.pack(len(properties) << 4 | 3, record_type, len(entries) + len(data)) + entries + data


@dataclass(frozen=True)
class OfficeArtRecord:
    offset: int
    type: int
    instance: int
    length: int
    around: tuple[int, ...]  # the containers that hold it, the outermost first

    @property
    def end(self) -> int:
        return self.offset + 8 + self.length


def officeart(data: bytes, start: int, end: int, around: tuple[int, ...] = ()) -> Iterator[OfficeArtRecord]:
    """Every record from ``start`` to ``end``, containers (version 0xF) opened; a container
    that goes on past ``end`` (a drawing split over records) is opened up to it."""
    pos = start
    while pos + 8 <= end:
        version_instance, record_type, length = HEADER.unpack_from(data, pos)
        record = OfficeArtRecord(pos, record_type, version_instance >> 4, length, around)
        yield record
        if version_instance & 0xF == 0xF:
            yield from officeart(data, pos + 8, min(record.end, end), (*around, pos))
        pos = record.end


def metro_blobs(data: bytes, table: int) -> list[tuple[int, int]]:
    """(start, end) of the data of each metroBlob of the property table at ``table``."""
    version_instance, _type, length = HEADER.unpack_from(data, table)
    count = version_instance >> 4
    pos, found = table + 8 + 6 * count, []
    for opid, op in PROPERTY.iter_unpack(data[table + 8 : table + 8 + 6 * count]):
        if opid & COMPLEX:
            if opid & 0x3FFF == METRO_BLOB:
                found.append((pos, pos + op))
            pos += op
    assert pos == table + 8 + length
    return found


def zeroed_metro_blobs(data: bytes, start: int, end: int) -> tuple[bytes, list[tuple[int, int]]]:
    """``data`` with the metroBlobs of the drawing from ``start`` to ``end`` zero-filled,
    and where they were."""
    out = bytearray(data)
    regions = [
        region
        for record in officeart(data, start, end)
        if record.type in PROPERTY_TABLES and record.end <= end
        for region in metro_blobs(data, record.offset)
    ]
    for region_start, region_end in regions:
        out[region_start:region_end] = bytes(region_end - region_start)
    return bytes(out), regions


def with_metro_blob(data: bytes, shape: OfficeArtRecord, blob: bytes) -> tuple[bytes, int, int]:
    """``data`` with ``blob`` as a metroBlob of the shape whose container is ``shape``: in
    its tertiary property table, grown, or in a new one after its first table; every
    container around grown to match.  Also where the change starts and how much it adds."""
    children = [r for r in officeart(data, shape.offset + 8, min(shape.end, len(data))) if not r.around]
    tertiary = next((r for r in children if r.type == TERTIARY_FOPT), None)
    if tertiary is None:
        first = next(r for r in children if r.type == FOPT)
        at, old = first.offset, data[first.offset : first.end]
        new = old + property_table(TERTIARY_FOPT, (METRO_BLOB | BID, blob))
    else:
        at, old = tertiary.offset, data[tertiary.offset : tertiary.end]
        count = tertiary.instance
        entries, complex_data = old[8 : 8 + 6 * count], old[8 + 6 * count :]
        entries += PROPERTY.pack(METRO_BLOB | BID | COMPLEX, len(blob))
        new = HEADER.pack((count + 1) << 4 | 3, TERTIARY_FOPT, len(entries) + len(complex_data) + len(blob))
        new += entries + complex_data + blob
    grown = len(new) - len(old)
    out = bytearray(data[:at] + new + data[at + len(old) :])
    for container in (*shape.around, shape.offset):
        (length,) = struct.unpack_from("<I", out, container + 4)
        struct.pack_into("<I", out, container + 4, length + grown)
    return bytes(out), at, grown


def first_rectangle(data: bytes, start: int, end: int) -> OfficeArtRecord:
    """The container of the first rectangle in a group (not the drawing's background)."""
    records = list(officeart(data, start, end))
    by_offset = {record.offset: record for record in records}
    for record in records:
        if record.type == FSP and record.instance == RECTANGLE:
            shape = by_offset[record.around[-1]]
            if shape.around and by_offset[shape.around[-1]].type == SPGR_CONTAINER:
                return shape
    raise AssertionError("no rectangle")


def metro_blob_data(data: bytes, start: int, end: int) -> list[bytes]:
    """The data of every metroBlob of the drawing, as a reader walking it finds them."""
    return [data[s:e] for s, e in zeroed_metro_blobs(data, start, end)[1]]


# ── the three formats ────────────────────────────────────────────────────────────────


def word_drawings(streams: Mapping[str, bytes]) -> tuple[str, list[tuple[int, int]]]:
    """The table stream and where its drawing group and each drawing lie (OfficeArtContent,
    at fcDggInfo: FibRgFcLcb97 pair 50): the OfficeArtDggContainer, then each
    OfficeArtDgContainer after its label byte."""
    word_document = streams["WordDocument"]
    table = "1Table" if struct.unpack_from("<H", word_document, 10)[0] & 0x0200 else "0Table"
    fc, lcb = struct.unpack_from("<II", word_document, 154 + 8 * 50)
    found, pos, label = [], fc, 0
    while pos < fc + lcb:
        (length,) = struct.unpack_from("<I", streams[table], pos + label + 4)
        found.append((pos + label, pos + label + 8 + length))
        pos, label = found[-1][1], 1
    assert pos == fc + lcb
    return table, found


def doc_with_metro_blob(src: Path, dst: Path, blob: bytes) -> Path:
    """The first rectangle of the main drawing gets ``blob``; the FIB's offsets into the
    table stream past the change move as much, and its drawings' size (lcbDggInfo) grows."""
    tree, clsid = streams_and_clsid(src)
    table, (_group, (start, end), *_) = word_drawings(tree)
    stream, at, grown = with_metro_blob(tree[table], first_rectangle(tree[table], start, end), blob)
    fib = bytearray(tree["WordDocument"])
    (count,) = struct.unpack_from("<H", fib, 152)
    for index in range(count):
        fc, lcb = struct.unpack_from("<II", fib, 154 + 8 * index)
        fc, lcb = fc + grown if fc > at else fc, lcb + grown if index == 50 else lcb
        struct.pack_into("<II", fib, 154 + 8 * index, fc, lcb)
    write_compound_file(dst, clsid, {**tree, table: stream, "WordDocument": bytes(fib)})
    return dst


def ppt_records(stream: bytes) -> Iterator[OfficeArtRecord]:
    return officeart(stream, 0, len(stream))


def ppt_with_metro_blob(src: Path, dst: Path, blob: bytes) -> Path:
    """The rectangle holding SHAPE_TEXT gets ``blob``; the persist directory, the user edit
    and Current User point past the change as much further as it grew."""
    tree, clsid = streams_and_clsid(src)
    document = tree["PowerPoint Document"]
    text = document.index(SHAPE_TEXT.encode("utf-16-le"))
    shape = next(r for r in ppt_records(document) if r.type == SP_CONTAINER and r.offset < text < r.end)
    stream, at, grown = with_metro_blob(document, shape, blob)
    write_compound_file(dst, clsid, with_ppt_offsets_moved(tree, stream, at, grown))
    return dst


def with_ppt_offsets_moved(tree: Mapping[str, bytes], stream: bytes, at: int, grown: int) -> dict[str, bytes]:
    """``tree`` with ``stream`` as its PowerPoint Document, ``grown`` bytes longer from ``at``
    on: the persist directory, the user edit and Current User point that much further where
    they pointed at ``at`` or past it."""
    out = bytearray(stream)

    def moved(offset: int) -> int:
        return offset + grown if offset >= at else offset

    for record in ppt_records(stream):
        data = record.offset + 8
        if record.type == PERSIST_DIRECTORY:
            pos = data
            while pos < record.end:
                (entry,) = struct.unpack_from("<I", out, pos)
                for slot in range(pos + 4, pos + 4 + 4 * (entry >> 20), 4):
                    struct.pack_into("<I", out, slot, moved(struct.unpack_from("<I", out, slot)[0]))
                pos += 4 + 4 * (entry >> 20)
        elif record.type == USER_EDIT:
            last_edit, directory = struct.unpack_from("<II", out, data + 8)
            struct.pack_into("<II", out, data + 8, moved(last_edit) if last_edit else 0, moved(directory))
    current_user = bytearray(tree["Current User"])
    struct.pack_into("<I", current_user, 16, moved(struct.unpack_from("<I", current_user, 16)[0]))
    return {**tree, "PowerPoint Document": bytes(out), "Current User": bytes(current_user)}


def ppt_with_round_trip(src: Path, dst: Path, records: bytes) -> Path:
    """``records`` added at the end of the first main master (MainMasterContainer, a
    top-level record), which grows as much; every offset past it moves as much further."""
    tree, clsid = streams_and_clsid(src)
    document = tree["PowerPoint Document"]
    master = next(r for r in ppt_records(document) if r.type == MAIN_MASTER)
    assert not master.around
    stream = bytearray(document[: master.end] + records + document[master.end :])
    struct.pack_into("<I", stream, master.offset + 4, master.length + len(records))
    write_compound_file(dst, clsid, with_ppt_offsets_moved(tree, bytes(stream), master.end, len(records)))
    return dst


def word_table_name(word_document: bytes) -> str:
    return "1Table" if struct.unpack_from("<H", word_document, 10)[0] & 0x0200 else "0Table"


def with_word_2007_fib(word_document: bytes, pairs: Mapping[int, tuple[int, int]]) -> bytes:
    """``word_document`` with the FIB Word 2007 writes (nFib 0x00C1, FibRgFcLcb2007,
    FibRgCswNew of nFibNew 0x0112) in the room up to its text, ``pairs`` set in it."""
    out = bytearray(word_document)
    (count,) = struct.unpack_from("<H", out, FIB_PAIRS - 2)
    values = [*struct.unpack_from(f"<{2 * count}I", out, FIB_PAIRS), *([0] * 2 * (WORD_2007_PAIRS - count))]
    for index, (fc, lcb) in pairs.items():
        values[2 * index : 2 * index + 2] = [fc, lcb]
    rgcswnew = FIB_PAIRS + 8 * WORD_2007_PAIRS
    (fc_min,) = struct.unpack_from("<I", out, 0x18)  # where the text starts
    assert rgcswnew + 12 <= fc_min and not any(out[FIB_PAIRS + 8 * count + 2 : fc_min])
    struct.pack_into("<H", out, 2, 0x00C1)
    struct.pack_into(f"<H{2 * WORD_2007_PAIRS}I", out, FIB_PAIRS - 2, WORD_2007_PAIRS, *values)
    struct.pack_into("<6H", out, rgcswnew, 5, 0x0112, 0, 0x0409, 0x0411, 0x0401)
    return bytes(out)


def doc_with_fib_named(src: Path, dst: Path, named: Mapping[int, bytes]) -> Path:
    """The document with the FIB of Word 2007, each of ``named`` (pair index → bytes)
    added at the end of the table stream and named by its pair."""
    tree, clsid = streams_and_clsid(src)
    table = word_table_name(tree["WordDocument"])
    pairs, stream = {}, tree[table]
    for index, data in named.items():
        pairs[index] = (len(stream), len(data))
        stream += data
    word_document = with_word_2007_fib(tree["WordDocument"], pairs)
    write_compound_file(dst, clsid, {**tree, "WordDocument": word_document, table: stream})
    return dst


def with_records_moved(stream: bytes, at: int, grown: int) -> bytes:
    """``stream`` after ``grown`` bytes were added at ``at``: each sheet's BOUNDSHEET points
    that much further (LibreOffice writes no INDEX record, whose offsets would move too)."""
    out = bytearray(stream)
    for offset, record_type, data in walk(stream):
        assert record_type != INDEX
        if record_type == BOUNDSHEET and struct.unpack_from("<I", data)[0] > at:
            struct.pack_into("<I", out, offset + 4, struct.unpack_from("<I", data)[0] + grown)
    return bytes(out)


def xls_with_metro_blob(src: Path, dst: Path, blob: bytes) -> Path:
    """The first rectangle of the first sheet drawing gets ``blob``, in the MSODRAWING record
    holding the shape's property table."""
    tree, clsid = streams_and_clsid(src)
    stream = tree["Workbook"]
    offset, _, data = next(r for r in walk(stream) if r[1] == MSODRAWING)
    grown_data, _at, grown = with_metro_blob(data, first_rectangle(data, 0, len(data)), blob)
    assert len(grown_data) <= MAX_DATA
    stream = stream[:offset] + biff(MSODRAWING, grown_data) + stream[offset + 4 + len(data) :]
    write_compound_file(dst, clsid, {**tree, "Workbook": with_records_moved(stream, offset, grown)})
    return dst


def theme_records(theme: bytes) -> bytes:
    """A Theme record holding ``theme`` (dwThemeVersion 0: a custom theme), and the
    ContinueFrt12 records it goes on in."""
    first, rest = theme[: MAX_DATA - 16], theme[MAX_DATA - 16 :]
    records = biff(THEME, struct.pack("<HH8sI", THEME, 0, bytes(8), 0) + first)
    for at in range(0, len(rest), MAX_DATA - 12):
        records += biff(
            CONTINUE_FRT12, struct.pack("<HH8s", CONTINUE_FRT12, 0, bytes(8)) + rest[at : at + MAX_DATA - 12]
        )
    return records


def xls_with_theme(src: Path, dst: Path, theme: bytes) -> Path:
    """The workbook with a Theme record holding ``theme`` at the end of its globals."""
    tree, clsid = streams_and_clsid(src)
    stream = tree["Workbook"]
    end_of_globals = next(offset for offset, record_type, _ in walk(stream) if record_type == EOF)
    records = theme_records(theme)
    stream = stream[:end_of_globals] + records + stream[end_of_globals:]
    write_compound_file(
        dst, clsid, {**tree, "Workbook": with_records_moved(stream, end_of_globals, len(records))}
    )
    return dst


NEUTRAL_THEME = biff(THEME, struct.pack("<HH8sI", THEME, 0, bytes(8), DEFAULT_THEME))


def workbook_drawings(stream: bytes) -> list[list[tuple[int, int]]]:
    """Each drawing of the workbook as (start, end) pieces: the drawing group (MSODRAWINGGROUP
    and the records continuing it), and each substream's MSODRAWING records with the
    CONTINUE records right after each."""
    groups: list[list[tuple[int, int]]] = []
    sheets: list[list[tuple[int, int]]] = []
    joining: list[list[tuple[int, int]]] | None = None  # what the record before was a piece of
    for offset, record_type, data in walk(stream):
        piece = (offset + 4, offset + 4 + len(data))
        if record_type == MSODRAWINGGROUP:
            if joining is not groups:
                groups.append([])
            joining = groups
        elif record_type == MSODRAWING:
            joining = sheets
        elif record_type != CONTINUE:
            joining = None
            if record_type == BOF:
                sheets.append([])
        if joining is not None:
            joining[-1].append(piece)
    return [pieces for pieces in groups + sheets if pieces]


def without_packages(type_name: str, streams: Mapping[str, bytes]) -> dict[str, bytes]:
    """``streams`` as the rebuild should leave them once their packages are gone: every
    metroBlob of the drawings (a presentation's records, a Word document's table stream, a
    workbook's drawing records) zero-filled; a workbook's Theme records the default theme; a
    Word document's FIB naming no envelope, theme or colour mapping, and the bytes they were
    zeros; a presentation's round-trip records neutral atoms."""
    out = dict(streams)
    if type_name == "ppt" and "PowerPoint Document" in out:
        document = without_round_trip_records(out["PowerPoint Document"])
        out["PowerPoint Document"] = zeroed_metro_blobs(document, 0, len(document))[0]
    elif type_name == "doc" and "WordDocument" in out:
        table = word_table_name(out["WordDocument"])
        out["WordDocument"], out[table] = without_fib_named(out["WordDocument"], out[table])
        table, drawings = word_drawings(out)
        for start, end in drawings:
            out[table] = zeroed_metro_blobs(out[table], start, end)[0]
    elif type_name == "xls" and "Workbook" in out:
        out["Workbook"] = without_workbook_packages(out["Workbook"])
    return out


def without_fib_named(word_document: bytes, table: bytes) -> tuple[bytes, bytes]:
    """The FIB's envelope, theme and colour mapping pairs (0, 0), the bytes of the table
    stream each named zeros."""
    fib, out = bytearray(word_document), bytearray(table)
    (count,) = struct.unpack_from("<H", fib, FIB_PAIRS - 2)
    for index in (FC_MSO_ENVELOPE, FC_OSS_THEME, FC_COLOR_SCHEME_MAPPING):
        fc, lcb = struct.unpack_from("<II", fib, FIB_PAIRS + 8 * index) if index < count else (0, 0)
        if lcb:
            out[fc : fc + lcb] = bytes(len(out[fc : fc + lcb]))
            struct.pack_into("<II", fib, FIB_PAIRS + 8 * index, 0, 0)
    return bytes(fib), bytes(out)


def without_round_trip_records(document: bytes) -> bytes:
    """Each round-trip record (but those holding numbers) a neutral atom of its length,
    zero-filled, and what was inside it with it."""
    out, done = bytearray(document), 0
    for record in ppt_records(document):
        if record.type in ROUND_TRIP_REMOVED and record.offset >= done:
            neutral = HEADER.pack(0, NEUTRAL_ATOM, record.length)
            out[record.offset : record.end] = neutral + bytes(record.length)
            done = record.end
    return bytes(out)


def without_workbook_packages(stream: bytes) -> bytes:
    out = bytearray(stream)
    walked = list(walk(stream))
    for index, (offset, record_type, data) in enumerate(walked):
        if record_type == THEME:
            end = offset + 4 + len(data)
            for next_offset, next_type, next_data in walked[index + 1 :]:
                if next_type != CONTINUE_FRT12:
                    break
                end = next_offset + 4 + len(next_data)
            rest = end - offset - len(NEUTRAL_THEME)
            if rest == 0 or rest >= 4:
                out[offset:end] = NEUTRAL_THEME + (biff(NEUTRAL_RECORD, bytes(rest - 4)) if rest else b"")
            else:  # no room for a record after the default theme: no Theme record at all
                out[offset:end] = biff(NEUTRAL_RECORD, bytes(end - offset - 4))
    for pieces in workbook_drawings(stream):
        joined = b"".join(out[start:end] for start, end in pieces)
        zeroed, _ = zeroed_metro_blobs(joined, 0, len(joined))
        pos = 0
        for start, end in pieces:
            out[start:end] = zeroed[pos : pos + end - start]
            pos += end - start
    return bytes(out)


# ── LibreOffice ──────────────────────────────────────────────────────────────────────


def flat_document(kind: str) -> str:
    """A text, presentation or spreadsheet holding a rectangle with SHAPE_TEXT."""
    namespaces = " ".join(
        f'xmlns:{prefix}="urn:oasis:names:tc:opendocument:xmlns:{name}"'
        for prefix, name in (
            ("office", "office:1.0"), ("text", "text:1.0"), ("table", "table:1.0"), ("draw", "drawing:1.0"),
            ("presentation", "presentation:1.0"), ("svg", "svg-compatible:1.0"),
        )
    )  # fmt: skip
    anchor = ' text:anchor-type="paragraph"' if kind == "text" else ""
    shape = (
        f'<draw:custom-shape svg:x="2cm" svg:y="2cm" svg:width="6cm" svg:height="4cm"{anchor}>'
        f'<text:p>{SHAPE_TEXT}</text:p><draw:enhanced-geometry draw:type="rectangle"/></draw:custom-shape>'
    )
    body = {
        "text": f"<office:text><text:p>本文です。{shape}</text:p></office:text>",
        "presentation": f'<office:presentation><draw:page draw:name="p1">{shape}</draw:page></office:presentation>',
        "spreadsheet": (
            f'<office:spreadsheet><table:table table:name="Sheet1"><table:shapes>{shape}</table:shapes>'
            '<table:table-row><table:table-cell office:value-type="string"><text:p>見積書</text:p></table:table-cell>'
            '<table:table-cell office:value-type="float" office:value="42"><text:p>42</text:p></table:table-cell>'
            "</table:table-row></table:table></office:spreadsheet>"
        ),
    }[kind]
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document {namespaces} office:version="1.2" '
        f'office:mimetype="application/vnd.oasis.opendocument.{kind}"><office:body>{body}</office:body></office:document>'
    )


@dataclass(frozen=True)
class Written:
    """What LibreOffice wrote, what it prints from each file and the workbook's cells."""

    doc: Path
    ppt: Path
    xls: Path
    printed: dict[str, str]
    cells: list[list[str]]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed; `make test` installs it")
    work = tmp_path_factory.mktemp("libreoffice")
    paths = {}
    for kind, suffix, target in (
        ("text", "fodt", "doc"),
        ("presentation", "fodp", "ppt"),
        ("spreadsheet", "fods", "xls"),
    ):
        (work / f"shape.{suffix}").write_text(flat_document(kind), encoding="utf-8")
        paths[target] = libreoffice(work / f"shape.{suffix}", target, work)
    printed = {target: pdf_text(path, work / f"printed-{target}") for target, path in paths.items()}
    return Written(**paths, printed=printed, cells=cells(paths["xls"], work / "cells"))


def pdf_text(path: Path, work: Path) -> str:
    """The text LibreOffice prints from ``path``, page by page."""
    pdf = pypdfium2.PdfDocument(libreoffice(path, "pdf", work))
    try:
        return "\f".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def pages(path: Path, work: Path) -> list[tuple[str, bytes]]:
    """The text and the pixels of each page LibreOffice prints from ``path``."""
    pdf = pypdfium2.PdfDocument(libreoffice(path, "pdf", work))
    try:
        return [
            (page.get_textpage().get_text_range(), page.render(scale=1).to_pil().convert("RGB").tobytes())
            for page in pdf
        ]
    finally:
        pdf.close()


def cells(path: Path, work: Path) -> list[list[str]]:
    as_csv = "csv:Text - txt - csv (StarCalc):44,34,76"
    return list(csv.reader(libreoffice(path, as_csv, work).read_text(encoding="utf-8").splitlines()))


def type_of(path: Path) -> str:
    return path.suffix.lstrip(".")


def assert_only_packages_gone(src: Path, dst: Path) -> dict[str, bytes]:
    """The output's streams are the input's with their packages gone, byte for byte."""
    before, _ = streams_and_clsid(src)
    after, _ = streams_and_clsid(dst)
    expected = without_packages(type_of(src), before)
    assert after == {name: expected[name] for name in after}
    assert_no_package(after)
    return after


# ── shapes in files LibreOffice wrote ────────────────────────────────────────────────


ATTACKS = {"doc": doc_with_metro_blob, "ppt": ppt_with_metro_blob, "xls": xls_with_metro_blob}


def metro_blobs_of(type_name: str, streams: Mapping[str, bytes]) -> list[bytes]:
    """The data of every metroBlob a reader finds walking the drawings."""
    if type_name == "ppt":
        document = streams["PowerPoint Document"]
        return metro_blob_data(document, 0, len(document))
    if type_name == "doc":
        table, drawings = word_drawings(streams)
        return [blob for start, end in drawings for blob in metro_blob_data(streams[table], start, end)]
    stream = streams["Workbook"]
    found = []
    for pieces in workbook_drawings(stream):
        joined = b"".join(stream[start:end] for start, end in pieces)
        found += metro_blob_data(joined, 0, len(joined))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("type_name", ["doc", "ppt", "xls"])
def test_a_shapes_package_is_gone_and_the_shape_stays(
    written: Written, tmp_path: Path, type_name: str
) -> None:
    src = ATTACKS[type_name](getattr(written, type_name), tmp_path / f"attack.{type_name}", shape_package())
    attack, _ = streams_and_clsid(src)
    assert metro_blobs_of(type_name, attack) == [shape_package()]
    assert all(
        any(marker in data for data in attack.values()) for marker in (UNC.encode(), *payload_markers())
    )
    assert SHAPE_TEXT in pdf_text(src, tmp_path / "attack")  # LibreOffice reads the attack

    dst, findings = sanitize(src)

    assert findings["ole.shape_package"] == ("removed", 1)
    after = assert_only_packages_gone(src, dst)
    assert metro_blobs_of(type_name, after) == [bytes(len(shape_package()))]  # in place, as long
    printed = pdf_text(dst, tmp_path / "out")
    assert printed == written.printed[type_name] and SHAPE_TEXT in printed
    if type_name == "xls":
        assert cells(dst, tmp_path / "out") == written.cells == [["見積書", "42"]]


@pytest.mark.slow
def test_a_table_whose_data_does_not_add_up_refuses_and_the_next_method_takes_over(
    written: Written, tmp_path: Path
) -> None:
    src = ppt_with_metro_blob(written.ppt, tmp_path / "attack.ppt", shape_package())
    tree, clsid = streams_and_clsid(src)
    document = bytearray(tree["PowerPoint Document"])
    entry = document.index(PROPERTY.pack(METRO_BLOB | BID | COMPLEX, len(shape_package())))
    struct.pack_into("<I", document, entry + 2, len(shape_package()) - 1)  # a byte of it left to no one
    write_compound_file(src, clsid, {**tree, "PowerPoint Document": bytes(document)})
    assert refusal(src) == "ole.shape_package"
    assert fell_back_to_pdf(src, tmp_path / "scratch") == ["method.ole.shape_package"]


# ── a workbook's theme ───────────────────────────────────────────────────────────────


@pytest.mark.slow
@pytest.mark.parametrize("padding", [0, 20000], ids=["one record", "continued over ContinueFrt12"])
def test_a_workbooks_theme_is_gone_and_the_cells_stay(written: Written, tmp_path: Path, padding: int) -> None:
    src = xls_with_theme(written.xls, tmp_path / "theme.xls", theme_package(padding))
    attack, _ = streams_and_clsid(src)
    types = [record_type for _, record_type, _ in walk(attack["Workbook"])]
    assert types.count(CONTINUE_FRT12) == (2 if padding else 0)
    assert cells(src, tmp_path / "attack") == [["見積書", "42"]]  # LibreOffice reads the attack

    dst, findings = sanitize(src)

    assert findings["ole.theme_package"] == ("removed", 1)
    after = assert_only_packages_gone(src, dst)
    out = list(walk(after["Workbook"]))
    theme = next(index for index, (_, record_type, _) in enumerate(out) if record_type == THEME)
    assert biff(THEME, out[theme][2]) == NEUTRAL_THEME and out[theme + 1][1] == NEUTRAL_RECORD
    assert CONTINUE_FRT12 not in [record_type for _, record_type, _ in out]
    assert cells(dst, tmp_path / "out") == written.cells
    assert pdf_text(dst, tmp_path / "out") == written.printed["xls"]


# ── what Office 2007 keeps for itself: a document's theme, a presentation's round trip ──


#: A colour mapping that swaps the light and dark colours of the theme
COLOR_MAPPING = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<a:clrMap'
    b' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" bg1="dk1" tx1="lt1" bg2="dk2"'
    b' tx2="lt2" accent1="accent1" accent2="accent2" accent3="accent3" accent4="accent4"'
    b' accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/>'
)
#: An MsoEnvelopeCLSID (MS-OSHARED 2.3.8.1) of a class other than Outlook's envelope
ENVELOPE = uuid.UUID("0006f01b-0000-0000-c000-000000000046").bytes_le + UNC.encode("utf-16-le") + EXECUTABLE


def fib_pair(streams: Mapping[str, bytes], index: int) -> tuple[int, int]:
    fc, lcb = struct.unpack_from("<II", streams["WordDocument"], FIB_PAIRS + 8 * index)
    return fc, lcb


def fib_named(streams: Mapping[str, bytes], index: int) -> bytes:
    """The bytes of the table stream a reader following the FIB's pair ``index`` reads."""
    fc, lcb = fib_pair(streams, index)
    return streams[word_table_name(streams["WordDocument"])][fc : fc + lcb]


def round_trip_records(streams: Mapping[str, bytes]) -> list[tuple[int, bytes]]:
    """(type, data) of each round-trip record (or neutral atom) a reader walking the
    presentation's containers finds."""
    document = streams["PowerPoint Document"]
    kinds = ROUND_TRIP_REMOVED | set(ROUND_TRIP_NUMBERS) | {NEUTRAL_ATOM}
    return [(r.type, document[r.offset + 8 : r.end]) for r in ppt_records(document) if r.type in kinds]


@pytest.mark.slow
def test_a_documents_theme_and_colour_mapping_are_gone_and_the_text_stays(
    written: Written, tmp_path: Path
) -> None:
    named = {FC_OSS_THEME: theme_package(), FC_COLOR_SCHEME_MAPPING: COLOR_MAPPING}
    src = doc_with_fib_named(written.doc, tmp_path / "theme.doc", named)
    attack, _ = streams_and_clsid(src)
    assert {index: fib_named(attack, index) for index in named} == named
    assert pdf_text(src, tmp_path / "attack") == written.printed["doc"]  # LibreOffice reads the attack

    dst, findings = sanitize(src)

    assert findings["ole.theme_package"] == findings["ole.color_mapping"] == ("removed", 1)
    after = assert_only_packages_gone(src, dst)
    assert [fib_pair(after, index) for index in named] == [(0, 0), (0, 0)]
    table, added = after[word_table_name(after["WordDocument"])], sum(map(len, named.values()))
    assert table == attack[word_table_name(attack["WordDocument"])][:-added] + bytes(added)
    assert pdf_text(dst, tmp_path / "out") == written.printed["doc"]


@pytest.mark.slow
def test_a_presentations_round_trip_packages_are_gone_and_the_slide_stays(
    written: Written, tmp_path: Path
) -> None:
    master_id = struct.pack("<I", 0x80000001)
    added = [
        (ROUND_TRIP_THEME, theme_package()),
        (ROUND_TRIP_COLOR_MAPPING, COLOR_MAPPING),
        (ROUND_TRIP_LAYOUT, theme_package()),
        (0x041C, master_id),  # RoundTripOriginalMainMasterId12Atom: a number
    ]
    records = b"".join(
        ppt_atom(record_type, data, 1 if record_type == ROUND_TRIP_LAYOUT else 0)
        for record_type, data in added
    )
    src = ppt_with_round_trip(written.ppt, tmp_path / "round-trip.ppt", records)
    attack, _ = streams_and_clsid(src)
    assert round_trip_records(attack) == added
    assert pdf_text(src, tmp_path / "attack") == written.printed["ppt"]  # LibreOffice reads the attack

    dst, findings = sanitize(src)

    removed = {
        construct: findings[construct]
        for construct in ("ole.theme_package", "ole.color_mapping", "ole.round_trip_package")
    }
    assert removed == dict.fromkeys(removed, ("removed", 1))
    after = assert_only_packages_gone(src, dst)
    neutral = [(NEUTRAL_ATOM, bytes(len(data))) for _, data in added[:3]]
    assert round_trip_records(after) == [*neutral, (0x041C, master_id)]
    printed = pdf_text(dst, tmp_path / "out")
    assert printed == written.printed["ppt"] and SHAPE_TEXT in printed


# ── hand-made files ──────────────────────────────────────────────────────────────────


def slide_drawing(*tables: bytes) -> bytes:
    """A PPDrawing holding one rectangle whose property tables are ``tables``."""
    shape = ppt_container(
        SP_CONTAINER, ppt_atom(FSP, struct.pack("<II", 1025, 0xA00), RECTANGLE) + b"".join(tables)
    )
    return ppt_container(PPDRAWING, ppt_container(DG_CONTAINER, ppt_container(SPGR_CONTAINER, shape)))


def presentation_with(tmp_path: Path, *tables: bytes) -> Path:
    return write(tmp_path, "shapes.ppt", PPT_CLSID, ppt_streams(slide_drawing(*tables)))


def document_of(path: Path) -> bytes:
    return streams_and_clsid(path)[0]["PowerPoint Document"]


@pytest.mark.parametrize("table_type", sorted(PROPERTY_TABLES))
@pytest.mark.parametrize("flags", [0, BID], ids=["opid", "opid with fBid"])
def test_a_metro_blob_among_other_properties_loses_only_its_data(
    tmp_path: Path, table_type: int, flags: int
) -> None:
    table = property_table(
        table_type,
        (0x007F, 0x00010001),
        (WZ_NAME, "四角形 1\x00".encode("utf-16-le")),
        (METRO_BLOB | flags, shape_package()),
        (WZ_DESCRIPTION, "説明\x00".encode("utf-16-le")),
    )
    src = presentation_with(tmp_path, table)
    dst, findings = sanitize(src)
    assert findings == {"ole.shape_package": ("removed", 1)}
    before, after = document_of(src), document_of(dst)
    at = before.index(shape_package())
    assert after == before[:at] + bytes(len(shape_package())) + before[at + len(shape_package()) :]
    assert_no_package({"PowerPoint Document": after})


def test_a_metro_blob_already_empty_or_simple_has_nothing_to_remove(tmp_path: Path) -> None:
    tables = (
        property_table(TERTIARY_FOPT, (METRO_BLOB | BID, bytes(300))),
        property_table(SECONDARY_FOPT, (METRO_BLOB, 0)),
    )
    src = presentation_with(tmp_path, *tables)
    dst, findings = sanitize(src)
    assert "ole.shape_package" not in findings
    assert document_of(dst) == document_of(src)


@pytest.mark.parametrize("change", [+1, -1], ids=["data runs past its table", "data left to no property"])
def test_a_table_with_a_metro_blob_whose_data_does_not_add_up_refuses(tmp_path: Path, change: int) -> None:
    table = bytearray(
        property_table(TERTIARY_FOPT, (WZ_NAME, b"n\x00\x00\x00"), (METRO_BLOB | BID, shape_package()))
    )
    struct.pack_into("<I", table, 8 + 6 + 2, len(shape_package()) + change)
    assert refusal(presentation_with(tmp_path, bytes(table))) == "ole.shape_package"


def test_a_table_without_metro_blob_is_not_read(tmp_path: Path) -> None:
    """Only a package needs its table's data told apart; a table that does not add up and
    holds none is the drawing's business (LibreOffice reads such arrays six bytes short)."""
    table = bytearray(property_table(FOPT, (0x0145, bytes(24))))
    struct.pack_into("<I", table, 8 + 2, 18)
    src = presentation_with(tmp_path, bytes(table))
    dst, findings = sanitize(src)
    assert findings == {} and document_of(dst) == document_of(src)


def test_a_metro_blob_in_data_is_removed(tmp_path: Path) -> None:
    """Word keeps inline shapes in ``Data``, behind the picture's PICF."""
    shape = ppt_container(SP_CONTAINER, property_table(TERTIARY_FOPT, (METRO_BLOB | BID, shape_package())))
    data = struct.pack("<IHH", 0x44 + len(shape), 0x44, 0x64) + bytes(0x44 - 8) + shape
    src = write(tmp_path, "in.doc", WORD_CLSID, word_streams("本文") | {"Data": data})
    dst, findings = sanitize(src)
    assert findings == {"ole.shape_package": ("removed", 1)}
    out = streams_and_clsid(dst)[0]["Data"]
    assert out == data.replace(shape_package(), bytes(len(shape_package())))


def sheet_drawing(shape_tail: bytes) -> bytes:
    """A sheet's OfficeArtDgContainer holding one rectangle that ends with ``shape_tail``."""
    shape = ppt_container(
        SP_CONTAINER, ppt_atom(FSP, struct.pack("<II", 1025, 0xA00), RECTANGLE) + shape_tail
    )
    return ppt_container(DG_CONTAINER, ppt_container(SPGR_CONTAINER, shape))


OBJ_RECORD = biff(OBJ, struct.pack("<HHHHH", 0x15, 18, 2, 1, 0x6011) + bytes(12) + bytes(4))


@pytest.mark.parametrize(
    "split",
    [
        lambda drawing, at: biff(MSODRAWING, drawing[:at]) + biff(CONTINUE, drawing[at:]),
        lambda drawing, at: biff(MSODRAWING, drawing[:at]) + OBJ_RECORD + biff(MSODRAWING, drawing[at:]),
    ],
    ids=["MSODRAWING and CONTINUE", "two MSODRAWING records around an OBJ"],
)
def test_a_metro_blob_split_over_a_sheets_drawing_records_is_removed(tmp_path: Path, split: object) -> None:
    assert callable(split)
    drawing = sheet_drawing(property_table(TERTIARY_FOPT, (METRO_BLOB | BID, shape_package())))
    at = drawing.index(shape_package()) + len(shape_package()) // 2
    book = ob_free_workbook(split(drawing, at))
    dst, findings = sanitize(write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book}))
    assert findings == {"ole.shape_package": ("removed", 1)}
    out = streams_and_clsid(dst)[0]["Workbook"]
    assert [(t, len(d)) for _, t, d in walk(out)] == [(t, len(d)) for _, t, d in walk(book)]
    assert out == without_workbook_packages(book)
    assert_no_package({"Workbook": out})


def theme_record(version: int, theme: bytes) -> bytes:
    return biff(THEME, struct.pack("<HH8sI", THEME, 0, bytes(8), version) + theme)


@pytest.mark.parametrize(
    ("globals_records", "removed"),
    [
        (NEUTRAL_THEME, False),
        (theme_records(theme_package()), True),
        (theme_records(theme_package(20000)), True),
        (theme_record(0, b"PK\x03"), True),  # too short for the default theme and a record after it
        (
            theme_record(DEFAULT_THEME, b"")
            + biff(CONTINUE_FRT12, struct.pack("<HH8s", CONTINUE_FRT12, 0, bytes(8)) + b"PK\x03\x04"),
            True,
        ),
    ],
    ids=[
        "the default theme",
        "a theme",
        "a theme continued",
        "a theme three bytes long",
        "the default theme continued",
    ],
)
def test_themes_become_the_default_theme_in_their_room(
    tmp_path: Path, globals_records: bytes, removed: bool
) -> None:
    sheet_name = b"\x06\x00Sheet1"
    bof_record = biff(BOF, struct.pack("<HH", 0x0600, 5) + bytes(12))
    globals_size = len(bof_record) + len(globals_records) + 4 + 6 + len(sheet_name) + 4
    book = (
        bof_record + globals_records + biff(BOUNDSHEET, struct.pack("<IBB", globals_size, 0, 0) + sheet_name)
        + biff(EOF) + biff(BOF, struct.pack("<HH", 0x0600, 0x10) + bytes(12)) + biff(0x0203, bytes(14)) + biff(EOF)
    )  # fmt: skip
    dst, findings = sanitize(write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book}))
    out = streams_and_clsid(dst)[0]["Workbook"]
    assert len(out) == len(book) and out[-len(book) + globals_size :] == book[globals_size:]
    assert_no_package({"Workbook": out})
    if not removed:
        assert findings == {} and out == book
        return
    assert findings == {"ole.theme_package": ("removed", 1)}
    if len(globals_records) >= len(NEUTRAL_THEME) + 4:
        assert out == without_workbook_packages(book)
    else:
        assert [t for _, t, _ in walk(out)][1] == NEUTRAL_RECORD  # no Theme record: Office's theme


def test_verification_refuses_a_package_left_in_a_shape(tmp_path: Path) -> None:
    src = presentation_with(tmp_path, property_table(TERTIARY_FOPT, (METRO_BLOB | BID, shape_package())))
    dst, _ = sanitize(src)
    tree, clsid = streams_and_clsid(dst)
    document = tree["PowerPoint Document"]
    at = document.index(PROPERTY.pack(METRO_BLOB | BID | COMPLEX, len(shape_package()))) + 6
    tampered = document[:at] + b"PK" + document[at + 2 :]
    write_compound_file(tmp_path / "tampered.ppt", clsid, {**tree, "PowerPoint Document": tampered})
    ppt = next(f for f in rebuild.FORMATS if f.type_name == "ppt")
    with pytest.raises(VerifyError) as caught:
        rebuild.verify_compound(
            (tmp_path / "tampered.ppt").read_bytes(), ppt, ppt.kept_streams, Limits(), "keep-web"
        )
    assert caught.value.code == "ole.verify_failed"
    rebuild.verify_compound(dst.read_bytes(), ppt, ppt.kept_streams, Limits(), "keep-web")


def text_of(streams: Mapping[str, bytes]) -> str:
    """The document's text as the sanitiser reads it, through the piece table."""
    fib = read_fib(streams["WordDocument"])
    return document_text(streams["WordDocument"], streams[fib.table_stream], fib)


def word_2007_streams(
    named: Mapping[int, bytes], pairs: Mapping[int, tuple[int, int]] | None = None
) -> dict[str, bytes]:
    """A document of one piece of text with the FIB of Word 2007 (its text from 0x800 on),
    each of ``named`` at the end of its table stream, named by its pair; ``pairs`` set as
    they are after that."""
    streams = word_streams("本文")
    fib_size = FIB_PAIRS + 0x5D * 8
    text = streams["WordDocument"][fib_size:]
    word_document = bytearray(streams["WordDocument"][:fib_size] + bytes(0x800 - fib_size) + text)
    struct.pack_into("<II", word_document, 0x18, 0x800, 0x800 + len(text))  # fcMin, fcMac
    table = bytearray(streams["1Table"])
    struct.pack_into("<I", table, 1 + 4 + 8 + 2, 0x800)  # the one piece's text: Clx, lcb, two CPs, Pcd
    chosen = {}
    for index, data in named.items():
        chosen[index] = (len(table), len(data))
        table += data
    chosen |= pairs or {}
    return {"WordDocument": with_word_2007_fib(bytes(word_document), chosen), "1Table": bytes(table)}


@pytest.mark.parametrize(
    ("index", "data", "construct"),
    [
        (FC_MSO_ENVELOPE, ENVELOPE, "ole.mail_envelope"),
        (FC_OSS_THEME, theme_package(), "ole.theme_package"),
        (FC_COLOR_SCHEME_MAPPING, COLOR_MAPPING, "ole.color_mapping"),
    ],
    ids=["fcMsoEnvelope", "fcOssTheme", "fcColorSchemeMapping"],
)
def test_what_the_fib_names_for_office_alone_goes_and_the_fib_names_it_no_more(
    tmp_path: Path, index: int, data: bytes, construct: str
) -> None:
    streams = word_2007_streams({index: data})
    dst, findings = sanitize(write(tmp_path, "in.doc", WORD_CLSID, streams))
    assert findings == {construct: ("removed", 1)}
    after = streams_and_clsid(dst)[0]
    assert fib_pair(after, index) == (0, 0)
    assert after == dict(zip(("WordDocument", "1Table"), without_fib_named(*streams.values()), strict=True))
    assert after["1Table"].endswith(bytes(len(data))) and "本文" in text_of(after)
    assert_no_package(after)


def test_a_pair_of_size_zero_names_nothing_whatever_its_offset(tmp_path: Path) -> None:
    streams = word_2007_streams({}, {FC_OSS_THEME: (3, 0), FC_COLOR_SCHEME_MAPPING: (0, 0)})
    src = write(tmp_path, "in.doc", WORD_CLSID, streams)
    dst, findings = sanitize(src)
    assert findings == {} and streams_and_clsid(dst)[0] == streams


def test_a_theme_running_past_the_table_stream_loses_what_lies_in_it(tmp_path: Path) -> None:
    table_size = len(word_2007_streams({})["1Table"])
    streams = word_2007_streams({FC_OSS_THEME: theme_package()}, {FC_OSS_THEME: (table_size, 1 << 30)})
    dst, findings = sanitize(write(tmp_path, "in.doc", WORD_CLSID, streams))
    assert findings == {"ole.theme_package": ("removed", 1)}
    after = streams_and_clsid(dst)[0]
    assert fib_pair(after, FC_OSS_THEME) == (0, 0)
    assert after["1Table"] == streams["1Table"][:table_size] + bytes(len(theme_package()))


def test_a_theme_over_another_structure_refuses(tmp_path: Path) -> None:
    """Zero-filling it would wipe the piece table, which Word never writes under a theme."""
    streams = word_2007_streams({}, {FC_OSS_THEME: (2, 8)})
    assert refusal(write(tmp_path, "in.doc", WORD_CLSID, streams)) == "ole.malformed"


ROUND_TRIP_CASES = {
    0x040E: "ole.theme_package",
    0x040F: "ole.color_mapping",
    0x041E: "ole.round_trip_package",
    0x0423: "ole.round_trip_package",
    0x0427: "ole.round_trip_package",
    0x0428: "ole.round_trip_package",
    0x2B0B: "ole.round_trip_package",
    0x3714: "ole.slide_library_link",
}


def round_trip_record(record_type: int) -> bytes:
    """A record of ``record_type`` as PowerPoint writes one, holding the theme package;
    RoundTripSlideSyncInfo12 a container naming a slide library on a share: the slide's id
    and the library's URL (CStrings of instance 0 and 1), then SlideSyncInfoAtom12."""
    if record_type == 0x3714:
        library = ppt_atom(0x0FBA, "257".encode("utf-16-le")) + ppt_atom(0x0FBA, UNC.encode("utf-16-le"), 1)
        return ppt_container(record_type, library + ppt_atom(0x3715, bytes(32)))
    if record_type == ROUND_TRIP_COLOR_MAPPING:
        return ppt_atom(record_type, COLOR_MAPPING)
    return ppt_atom(record_type, theme_package(), 3 if record_type == ROUND_TRIP_LAYOUT else 0)


@pytest.mark.parametrize(
    ("record_type", "construct"), ROUND_TRIP_CASES.items(), ids=[f"{t:#06x}" for t in ROUND_TRIP_CASES]
)
def test_each_round_trip_record_becomes_a_neutral_atom_of_its_length(
    tmp_path: Path, record_type: int, construct: str
) -> None:
    record = round_trip_record(record_type)
    src = write(tmp_path, "round-trip.ppt", PPT_CLSID, ppt_streams(record))
    dst, findings = sanitize(src)
    assert findings == {construct: ("removed", 1)}
    before, after = document_of(src), document_of(dst)
    at = before.index(record)
    neutral = HEADER.pack(0, NEUTRAL_ATOM, len(record) - 8) + bytes(len(record) - 8)
    assert after == before[:at] + neutral + before[at + len(record) :]
    assert_no_package({"PowerPoint Document": after})


@pytest.mark.parametrize(
    ("container", "blob", "construct"),
    [(0x07D5, 0x0FB8, "ole.embedded_font"), (0x07E6, 0x07E7, "ole.media")],
    ids=["FontEmbedDataBlob", "SoundDataBlob"],
)
def test_an_embedded_font_or_sound_becomes_a_neutral_atom_in_its_container(
    tmp_path: Path, container: int, blob: int, construct: str
) -> None:
    atom = ppt_atom(blob, EXECUTABLE)
    src = write(tmp_path, "blob.ppt", PPT_CLSID, ppt_streams(ppt_container(container, atom)))
    dst, findings = sanitize(src)
    assert findings == {construct: ("removed", 1)}
    before, after = document_of(src), document_of(dst)
    at = before.index(atom)
    neutral = HEADER.pack(0, NEUTRAL_ATOM, len(atom) - 8) + bytes(len(atom) - 8)
    assert after == before[:at] + neutral + before[at + len(atom) :]
    assert not any(marker in after for marker in payload_markers())


def test_round_trip_atoms_holding_numbers_stay(tmp_path: Path) -> None:
    atoms = b"".join(
        ppt_atom(record_type, bytes(range(1, size + 1))) for record_type, size in ROUND_TRIP_NUMBERS.items()
    )
    src = write(tmp_path, "numbers.ppt", PPT_CLSID, ppt_streams(atoms))
    dst, findings = sanitize(src)
    assert findings == {} and document_of(dst) == document_of(src)


def test_a_round_trip_record_inside_another_goes_with_it(tmp_path: Path) -> None:
    sync = ppt_container(0x3714, ppt_atom(ROUND_TRIP_THEME, theme_package()))
    dst, findings = sanitize(write(tmp_path, "nested.ppt", PPT_CLSID, ppt_streams(sync)))
    assert findings == {"ole.slide_library_link": ("removed", 1)}
    assert_no_package({"PowerPoint Document": document_of(dst)})


@pytest.mark.parametrize("type_name", ["doc", "ppt"])
def test_verification_refuses_round_trip_data_left_named(tmp_path: Path, type_name: str) -> None:
    """An output whose FIB names the theme again, or whose theme atom has its type back,
    is one the removal would still change."""
    theme = theme_package()
    if type_name == "doc":
        stream, clsid, streams = "WordDocument", WORD_CLSID, word_2007_streams({FC_OSS_THEME: theme})
        at, named = FIB_PAIRS + 8 * FC_OSS_THEME, struct.pack("<II", *fib_pair(streams, FC_OSS_THEME))
    else:
        stream, clsid, streams = (
            "PowerPoint Document",
            PPT_CLSID,
            ppt_streams(ppt_atom(ROUND_TRIP_THEME, theme)),
        )
        at, named = streams[stream].index(theme) - 8, HEADER.pack(0, ROUND_TRIP_THEME, len(theme))
    dst, _ = sanitize(write(tmp_path, f"in.{type_name}", clsid, streams))
    tree, _ = streams_and_clsid(dst)
    tree[stream] = tree[stream][:at] + named + tree[stream][at + len(named) :]
    tampered = write(tmp_path, f"tampered.{type_name}", clsid, tree)
    ole_format = next(f for f in rebuild.FORMATS if f.type_name == type_name)
    allowed = ole_format.kept_streams
    with pytest.raises(VerifyError) as caught:
        rebuild.verify_compound(tampered.read_bytes(), ole_format, allowed, Limits(), "keep-web")
    assert caught.value.code == "ole.verify_failed"
    rebuild.verify_compound(dst.read_bytes(), ole_format, allowed, Limits(), "keep-web")


# ── the shared corpus ────────────────────────────────────────────────────────────────


@pytest.mark.slow
@pytest.mark.corpus
def test_powerpoints_own_packages_go_and_the_slide_prints_the_same(tmp_path: Path) -> None:
    """PowerPoint 2007 and later write a DrawingML copy of each shape into a .ppt, and
    round-trip atoms (the master's theme, colour mapping, 11 layouts, text and table
    styles); without them LibreOffice draws the slide from the binary records, pixel for
    pixel as before."""
    src = CORPUS / "ole" / "poi__54880_chinese.ppt"
    if not src.exists():
        pytest.skip("../shared/corpus is absent")
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed; `make test` installs it")
    before, _ = streams_and_clsid(src)
    assert len(metro_blobs_of("ppt", before)) == 4
    dst, findings = sanitize(Path(shutil.copy(src, tmp_path)))  # the output lands beside its input
    assert findings["ole.shape_package"] == ("removed", 4)
    assert findings["ole.theme_package"] == findings["ole.color_mapping"] == ("removed", 1)
    assert findings["ole.round_trip_package"] == ("removed", 13)
    after = streams_and_clsid(dst)[0]
    assert {record_type for record_type, _ in round_trip_records(after)} == {NEUTRAL_ATOM, 0x041C, 0x0422}
    assert metro_blobs_of("ppt", after) == [bytes(len(blob)) for blob in metro_blobs_of("ppt", before)]
    assert after["PowerPoint Document"] == without_packages("ppt", before)["PowerPoint Document"]
    assert pages(src, tmp_path / "in") == pages(dst, tmp_path / "out")
