"""ZIP packages that Office 2007 and later write into 97-2003 files, removed unread.

Each is an Open Packaging Conventions package (ISO/IEC 29500-2): parts, media and
relationships, which may point outside (a picture on ``\\\\host\\share`` makes the reader
hand the user's credentials to that host) and carry files nothing here parses.  Office
writes them so that its later versions can restore what the binary format cannot hold:

* a shape's DrawingML copy, OfficeArt's ``metroBlob`` (MS-ODRAW 2.3.4.41: property 0x03A9
  of a property table, OfficeArtFOPT, OfficeArtSecondaryFOPT or OfficeArtTertiaryFOPT), in
  .doc (the table stream's drawings, the inline shapes of ``Data``), .ppt and .xls;
* a workbook's theme (MS-XLS 2.4.326 Theme, continued by ContinueFrt12 records);
* a Word document's theme (FibRgFcLcb2007 fcOssTheme, MS-DOC 2.5.10, in the table stream);
* a presentation's round-trip atoms (MS-PPT 2.11): the theme of each master, slide, notes
  and handout (RoundTripTheme12Atom), the slide layouts (RoundTripContentMasterInfo12Atom,
  one per layout), text styles (RoundTripOArtTextStyles12Atom,
  RoundTripNotesMasterTextStyles12Atom), table styles (RoundTripCustomTableStyles12Atom) and
  animations with their sounds (RoundTripAnimationAtom12Atom).

Three more go with them, for the same reason (Office 2007 and later, or Outlook, read them
with a parser of their own, and nothing here reads them): the colour mapping that goes with
a theme (XML: a .doc's fcColorSchemeMapping, a .ppt's RoundTripColorMapping12Atom), a .doc's
mail envelope (FibRgFcLcb2000 fcMsoEnvelope: MS-OSHARED 2.3.8.1 MsoEnvelopeCLSID, the
persisted data of the COM class its CLSID names) and a slide's link to the slide library it
came from (RoundTripSlideSyncInfo12, whose SlideLibUrlAtom is a server's URL).  The other
round-trip atoms hold numbers only (identifiers, checksums, flags) and stay.

MS-ODRAW says a reader SHOULD ignore the metroBlob, and Office drops it as soon as the shape
is edited: the shape's own properties describe it, the package only repeats it for a reader
that prefers DrawingML.  Its data is zero-filled where it lies and the property keeps its
id and size, so nothing moves (offsets elsewhere point into these streams, as
``pictures.py`` says) and a reader that looks for the package finds none (a ZIP has a
signature; zeros are none) and draws the shape from its properties.

A property table is found by its header, anywhere: a table type, the property count in
the instance, a length that fits.  Its complex data follows the 6-byte properties in their
order, each ``op`` bytes long; one holding a metroBlob must be tiled exactly by that data,
or the package cannot be told apart from the rest and the file is refused
(``ole.shape_package``).  A workbook's drawings are split over records, so its tables are
looked for in each record and in every way a reader joins them (``excel.py``).

The theme becomes the one Excel writes for Office's own (dwThemeVersion 124226, which holds
no package), the rest of its room a zero-filled record of the neutral type, as ``excel.py``
rewrites other records: no offset moves.

A Word document names its theme, colour mapping and envelope by a pair (offset, size) of the
FIB: the pair becomes (0, 0) and the bytes it named are zero-filled where they lie.  MS-DOC
says both FibRgFcLcb2007 pairs SHOULD be empty and MUST be ignored; Word 2007 and later read
them, and a file Word 2003 wrote (whose FIB has no such pair) opens with Office's default
theme.  Bytes that another pair of the FIB names as well refuse the file (``ole.malformed``):
zero-filling them would damage that structure, and Word never writes two structures over
each other.

A presentation's round-trip record becomes a record of a type MS-PPT does not define, of the
same length, its data zero-filled: MS-PPT 2.1.2 says a reader MUST ignore such a record,
skipping it by its length, as PowerPoint 2003 skips the round-trip atoms it does not know.
No record moves, so the persist directory still points where it did, and PowerPoint 2007 and
later, finding no round-trip data, build the theme, layouts and styles from the binary
records, as for a file PowerPoint 2003 saved (MS-PPT: each SHOULD be ignored).  The colour
mapping goes with the theme: kept alone, it would remap the colours of the theme built from
the slides' colour schemes, which already hold them in place.
"""

from __future__ import annotations

import bisect
import re
import struct
from collections.abc import Callable, Mapping

from sanitizers.base import Finding
from sanitizers.errors import MalformedError
from sanitizers.ole import excel, powerpoint, word

#: (the streams to write) → the streams without packages, and findings
PackageRemover = Callable[[Mapping[str, bytes]], tuple[dict[str, bytes], list[Finding]]]

WORD_STREAMS = ("WordDocument", "0Table", "1Table", "Data")
POWERPOINT_DOCUMENT = "PowerPoint Document"

METRO_BLOB = 0x03A9
_OPID, _COMPLEX = 0x3FFF, 0x8000
_HEADER = struct.Struct("<HHI")  # recVer and recInstance, recType, recLen
_PROPERTY = struct.Struct("<HI")  # opid (with fBid, fComplex), op
#: OfficeArtFOPT, OfficeArtSecondaryFOPT, OfficeArtTertiaryFOPT, at any version: a reader
#: finds a table by its type
_TABLE_HEADER = re.compile(rb"(?=..(?:\x0b\xf0|\x21\xf1|\x22\xf1))", re.DOTALL)
_METRO_BLOB_OPID = re.compile(rb"\xa9[\x03\x43\x83\xc3]")  # 0x03A9 with any fBid, fComplex

THEME, CONTINUE_FRT12 = 0x0896, 0x0875
_DEFAULT_THEME = 124226
_NEUTRAL_THEME = struct.pack("<HHHH8sI", THEME, 16, THEME, 0, bytes(8), _DEFAULT_THEME)

#: FIB pairs (by their index in the FIB's fcLcb array, MS-DOC 2.5.6 to 2.5.10) naming data
#: only Office's own parsers read → the construct reported when one goes, and its name
WORD_FIB_PAIRS: dict[int, tuple[str, str]] = {
    97: ("ole.mail_envelope", "fcMsoEnvelope"),  # FibRgFcLcb2000
    181: ("ole.theme_package", "fcOssTheme"),  # FibRgFcLcb2007
    182: ("ole.color_mapping", "fcColorSchemeMapping"),
}
#: pairs that name no bytes of the table stream: undo information in WordDocument
#: (fcDocUndoWord9, fcRgbUse, fcUsp, fcDocUndo), a FILETIME (dwLowDateTime, dwHighDateTime)
#: and fcMid, whose size MUST be ignored
_NOT_IN_TABLE = frozenset({77, 78, 79, 87, 95, 119})

#: MS-PPT round-trip records (2.11) and opaque blobs → the construct reported when one goes, and its name
ROUND_TRIP_RECORDS: dict[int, tuple[str, str]] = {
    0x040E: ("ole.theme_package", "RoundTripTheme12Atom"),
    0x040F: ("ole.color_mapping", "RoundTripColorMapping12Atom"),
    0x041E: ("ole.round_trip_package", "RoundTripContentMasterInfo12Atom"),
    0x0423: ("ole.round_trip_package", "RoundTripOArtTextStyles12Atom"),
    0x0427: ("ole.round_trip_package", "RoundTripNotesMasterTextStyles12Atom"),
    0x0428: ("ole.round_trip_package", "RoundTripCustomTableStyles12Atom"),
    0x2B0B: ("ole.round_trip_package", "RoundTripAnimationAtom12Atom"),
    0x3714: ("ole.slide_library_link", "RoundTripSlideSyncInfo12"),
    # blobs no parser here reads: a font program (Embedded OpenType) and a sound file, which
    # PowerPoint hands to its font engine and its media player as they are
    0x0FB8: ("ole.embedded_font", "FontEmbedDataBlob"),
    0x07E7: ("ole.media", "SoundDataBlob"),
}
#: What a removed round-trip record becomes: a type the RecordType enumeration (MS-PPT
#: 2.13.24) does not list, an atom (version and instance 0)
NEUTRAL_ATOM = 0x0FFF


def _refused(why: str) -> MalformedError:
    return MalformedError("ole.shape_package", why)


# ── shapes ─────────────────────────────────────────────────────────────────────────────


def _zero_shape_packages(view: bytearray, where: str) -> int:
    """Zero-fill the data of every metroBlob in the property tables of ``view``; how many
    held anything.

    Tables are looked for at every offset (one may start inside another's data, and a reader
    that reaches it reads it), and only those with a metroBlob are read in full: tables that
    overlap with their properties in step hold each other's header as a complex property of
    the other's length, so their size doubles with each one and the properties read stay
    within a few times the size of ``view``; one that is not tiled refuses the file."""
    # where a metroBlob's opid could be, by offset modulo the size of a property: a table
    # holds one when its properties start at the same remainder
    metro_blobs: list[list[int]] = [[] for _ in range(_PROPERTY.size)]
    for match in _METRO_BLOB_OPID.finditer(view):
        metro_blobs[match.start() % _PROPERTY.size].append(match.start())
    removed = 0
    for match in _TABLE_HEADER.finditer(view):
        start = match.start()
        if start + _HEADER.size > len(view):
            break
        version_instance, _type, length = _HEADER.unpack_from(view, start)
        count, table = version_instance >> 4, start + _HEADER.size
        complex_data, end = table + count * _PROPERTY.size, table + length
        if complex_data > end or end > len(view):
            continue
        in_step = metro_blobs[table % _PROPERTY.size]
        if bisect.bisect_left(in_step, table) == bisect.bisect_left(in_step, complex_data):
            continue
        pos, packages = complex_data, []
        for opid, op in _PROPERTY.iter_unpack(view[table:complex_data]):
            if opid & _COMPLEX:
                if opid & _OPID == METRO_BLOB:
                    packages.append((pos, pos + op))
                pos += op
        if pos != end:
            raise _refused(
                f"the shape property table at {start} of {where} holds a metroBlob, and its complex"
                f" data takes {pos - complex_data} bytes of the {end - complex_data} it has"
            )
        for package_start, package_end in packages:
            if view.count(0, package_start, package_end) != package_end - package_start:
                view[package_start:package_end] = bytes(package_end - package_start)
                removed += 1
    return removed


def _shape_packages_in_streams(
    streams: Mapping[str, bytes], names: tuple[str, ...]
) -> tuple[dict[str, bytes], list[Finding]]:
    kept = dict(streams)
    findings = []
    for name in names:
        if name in kept:
            view = bytearray(kept[name])
            removed = _zero_shape_packages(view, name)
            if removed:
                kept[name] = bytes(view)
                findings.append(Finding("ole.shape_package", "removed", removed, name))
    return kept, findings


def word_packages(streams: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[Finding]]:
    """What the FIB names (the theme first: its bytes may look like anything), then the
    document's shapes: floating ones in the table stream, inline ones in ``Data`` (and
    ``WordDocument``, which holds their pictures)."""
    kept, findings = _remove_named_by_fib(streams)
    kept, shape_findings = _shape_packages_in_streams(kept, WORD_STREAMS)
    return kept, findings + shape_findings


def powerpoint_packages(streams: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[Finding]]:
    """A presentation's round-trip records, then its shapes, all in ``PowerPoint Document``."""
    kept = dict(streams)
    document, findings = _remove_round_trip_records(kept[POWERPOINT_DOCUMENT])
    kept[POWERPOINT_DOCUMENT] = document
    kept, shape_findings = _shape_packages_in_streams(kept, (POWERPOINT_DOCUMENT,))
    return kept, findings + shape_findings


# ── a Word document's FIB ──────────────────────────────────────────────────────────────


def _remove_named_by_fib(streams: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[Finding]]:
    """Each pair of ``WORD_FIB_PAIRS`` that names bytes becomes (0, 0), those bytes of the
    table stream zeros."""
    kept = dict(streams)
    word_document = bytearray(kept[word.MAIN_STREAM])
    fib = word.read_fib(bytes(word_document))
    table = bytearray(kept[fib.table_stream])
    findings = []
    for index, (construct, name) in WORD_FIB_PAIRS.items():
        if index >= len(fib.fc_lcb) or fib.fc_lcb[index][1] == 0:
            continue  # a size of 0 names nothing, whatever the offset (MS-DOC)
        fc, lcb = fib.fc_lcb[index]
        start, end = min(fc, len(table)), min(fc + lcb, len(table))
        shared = _pair_sharing(fib, start, end)
        if shared is not None:
            raise MalformedError(
                "ole.malformed", f"{name} names bytes of {fib.table_stream} that pair {shared} names too"
            )
        table[start:end] = bytes(end - start)
        struct.pack_into("<II", word_document, word.FC_LCB_START + 8 * index, 0, 0)
        findings.append(Finding(construct, "removed", 1, name))
    kept[word.MAIN_STREAM], kept[fib.table_stream] = bytes(word_document), bytes(table)
    return kept, findings


def _pair_sharing(fib: word.Fib, start: int, end: int) -> int | None:
    """The index of a pair, other than those to remove, that names a byte from ``start``
    to ``end`` of the table stream; None when no pair does."""
    for index, (fc, lcb) in enumerate(fib.fc_lcb):
        if index in WORD_FIB_PAIRS or index in _NOT_IN_TABLE or lcb == 0:
            continue
        if max(start, fc) < min(end, fc + lcb):
            return index
    return None


# ── a presentation's round-trip records ────────────────────────────────────────────────


def _remove_round_trip_records(document: bytes) -> tuple[bytes, list[Finding]]:
    """Every record of ``ROUND_TRIP_RECORDS`` the walk of the presentation's records finds
    becomes a neutral atom of its length, zero-filled."""
    found, _top_level = powerpoint.walk(document)
    view = bytearray(document)
    removed: dict[str, list[str]] = {}
    covered = 0  # where the last record removed ends: the records inside it went with it
    for record in sorted(found, key=lambda record: record.offset):
        kind = ROUND_TRIP_RECORDS.get(record.type)
        if kind is None or record.offset < covered:
            continue
        _version_instance, _type, length = _HEADER.unpack_from(view, record.offset)
        covered = record.offset + _HEADER.size + length
        view[record.offset : covered] = _HEADER.pack(0, NEUTRAL_ATOM, length) + bytes(length)
        construct, name = kind
        removed.setdefault(construct, []).append(name)
    findings = [
        Finding(construct, "removed", len(names), ", ".join(sorted(set(names))))
        for construct, names in sorted(removed.items())
    ]
    return bytes(view), findings


# ── workbooks ──────────────────────────────────────────────────────────────────────────


def workbook_packages(streams: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[Finding]]:
    """A workbook's theme, then its shapes: in each record, and in each record joined with
    the records a reader joins it with (its CONTINUE records, a drawing group's records, a
    sheet's drawing records, header and footer pictures)."""
    kept = dict(streams)
    workbook = bytearray(kept[excel.MAIN_STREAM])
    walked = list(excel.records(kept[excel.MAIN_STREAM]))
    findings = []
    themes = _replace_themes(walked, workbook)
    if themes:
        findings.append(Finding("ole.theme_package", "removed", themes, "Theme"))
    views = [
        *(excel.Joined((excel.data_of(record),)) for record in walked),
        *excel.with_continues(walked),
        *excel.drawing_groups(walked),
        *excel.header_footer_drawings(walked),
        *excel.sheet_drawings(walked),
        *excel.drawing_records(walked),
    ]
    removed = 0
    for joined in views:
        view = bytearray(joined.read(workbook))
        found = _zero_shape_packages(
            view, f"the records at offset {joined.pieces[0][0]} of {excel.MAIN_STREAM}"
        )
        if found:
            joined.write(workbook, bytes(view))
            removed += found
    if removed:
        findings.append(Finding("ole.shape_package", "removed", removed, excel.MAIN_STREAM))
    kept[excel.MAIN_STREAM] = bytes(workbook)
    return kept, findings


def _replace_themes(walked: list[excel.Record], workbook: bytearray) -> int:
    """Every Theme record and the ContinueFrt12 records after it become the default theme
    and a neutral record in the same room; how many were not that already."""
    replaced = 0
    for index, record in enumerate(walked):
        if record.type != THEME:
            continue
        last = index
        while last + 1 < len(walked) and walked[last + 1].type == CONTINUE_FRT12:
            last += 1
        start, end = record.offset, excel.data_of(walked[last])[1]
        if workbook[start:end] == _NEUTRAL_THEME:
            continue
        rest = end - start - len(_NEUTRAL_THEME)
        # a record too short to hold the default theme and a neutral record after it goes
        # whole: a workbook without a Theme record has Office's theme too
        theme = _NEUTRAL_THEME if rest == 0 or rest >= 4 else b""
        rest = end - start - len(theme)
        workbook[start:end] = theme + (
            struct.pack("<HH", excel.NEUTRAL_RECORD, rest - 4) + bytes(rest - 4) if rest else b""
        )
        replaced += 1
    return replaced
