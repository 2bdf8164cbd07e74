"""Excel 97-2003 (.xls, BIFF8): which streams are kept and what is changed in the workbook.

Kept streams: ``Workbook`` (the BIFF8 record stream), ``\\x01CompObj``, and the summary
streams when metadata is kept.  Dropped: ``_VBA_PROJECT_CUR`` (VBA), ``MBD*`` storages
and ``ObjectPool`` (embedded objects), ``\\x01Ole`` / ``\\x02OlePres*`` (link and cache data)
and anything unknown.

Every record of the workbook is walked.  OBPROJ ("this workbook has a VBA project") is
neutralised rather than removed: removing it would shift every later record, and
BOUNDSHEET, INDEX and EXTSST hold absolute stream offsets that would all need rewriting.
Its type is replaced by one no BIFF version defines, which readers skip (BIFF's
forward-compatibility rule) — it carries no data, so nothing else changes.

Links to other workbooks are broken the way Excel shows a link it cannot update: every
cell whose formula reads another workbook (a 3-D reference or external name through an
EXTERNSHEET entry of an external SUPBOOK, directly, through a shared or array formula or
through a defined name) becomes a plain value cell carrying the formula's cached result
(NUMBER, LABEL or BOOLERR); the external SUPBOOK becomes an empty add-in reference and its
cached cells (XCT, CRN) are blanked, so no path to the other workbook is left.  Formulas that
stay within the workbook are kept.  Every replacement is written in place, into the bytes
the old records took, the rest of them a zero-filled record of the neutral type: no offset
anywhere in the stream moves.  A formula the token walk cannot read is treated as reading
another workbook (it keeps its value, loses its formula).

Hyperlinks (HLINK) are judged by ``sanitizers.links.keep_link``: a refused or unreadable
target loses its link, not the workbook (the HLINK and its tooltip are neutralised and
zero-filled; the cell keeps its text), as a dropped link does in PDF and OOXML.  A link
within the workbook (a location without a moniker) is kept.

ZIP packages (the theme, shapes' DrawingML copies) are removed afterwards (``packages.py``),
in each record and in the joins this module makes.  Pictures are rebuilt after that
(``pictures.py``), in the OfficeArt drawings this module joins from the records they are
split over: the drawing group (MSODRAWINGGROUP, its CONTINUE records) and header and
footer pictures (HFPicture records continuing one another); a sheet background (BkHim) or
legacy picture (IMDATA) is refused there.

Refused: FILEPASS (``office.encrypted``); macro sheets and VBA module sheets, by
BOUNDSHEET or by a substream's BOF (``ole.xlm_macro``); DDE or OLE links (SUPBOOK without
sheets, EXTERNNAME with OLE/advise flags: ``ole.dde_link``); external data queries, and a
workbook link that cannot be broken safely (a SUPBOOK that does not parse, a cached text
continued over records: ``ole.external_link``); Excel 5/95 BIFF5 ``Book`` streams
(``ole.old_format``, after the same macro checks).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sanitizers.base import Finding
from sanitizers.errors import EncryptedError, MalformedError, PolicyError
from sanitizers.links import keep_link

MAIN_STREAM = "Workbook"
BIFF5_STREAM = "Book"
KEPT_STREAMS = frozenset({MAIN_STREAM, BIFF5_STREAM, "\x01CompObj"})

BOF, EOF = 0x0809, 0x000A
FILEPASS = 0x002F
BOUNDSHEET = 0x0085
OBPROJ = 0x00D3
SUPBOOK = 0x01AE
EXTERNNAME = 0x0023
#: External data: DCONN (connections), QSI (query tables), DBQUERY (ODBC queries).
EXTERNAL_DATA = frozenset({0x0876, 0x01AD, 0x00DC})
#: What a neutralised OBPROJ becomes: a record type no BIFF version defines.
NEUTRAL_RECORD = 0x0FFF
EXTERNSHEET, NAME, CONTINUE = 0x0017, 0x0018, 0x003C
XCT, CRN = 0x0059, 0x005A
FORMULA, STRING, SHRFMLA, ARRAY, TABLE = 0x0006, 0x0207, 0x04BC, 0x0221, 0x0236
BLANK, NUMBER, LABEL, BOOLERR = 0x0201, 0x0203, 0x0204, 0x0205
HLINK, HLINKTOOLTIP = 0x01B8, 0x0800
NOTE = 0x001C  # a cell's comment: its anchor and author (the text is in the drawing's TXO)
MSODRAWINGGROUP, MSODRAWING, HFPICTURE = 0x00EB, 0x00EC, 0x0866
#: Pictures outside OfficeArt: a sheet's background (BkHim), a legacy picture or chart fill (IMDATA).
BKHIM, IMDATA = 0x00E9, 0x007F

BIFF8, BIFF5 = 0x0600, 0x0500
#: BOUNDSHEET sheet types: worksheet or dialog, Excel 4 macro sheet, chart, VBA module.
_SHEET_WORKSHEET, _SHEET_MACRO, _SHEET_CHART, _SHEET_VBA_MODULE = 0x00, 0x01, 0x02, 0x06
#: BOF substream types: globals, worksheet or dialog, chart, macro sheet, workspace.
_BOF_GLOBALS, _BOF_SHEET, _BOF_CHART, _BOF_MACRO, _BOF_WORKSPACE = 0x05, 0x10, 0x20, 0x40, 0x100
_SUPBOOK_SELF, _SUPBOOK_ADDIN = 0x0401, 0x3A01
_EXTERNNAME_LIVE_LINK = 0x0002 | 0x0008 | 0x0010  # fWantAdvise, fOle, fOleLink
#: HFPicture: the FrtHeader and the flags come before rgDrawing; fContinue says the record
#: carries on the drawing of the HFPicture record before it.
_HFPICTURE_DRAWING, _HFPICTURE_CONTINUES = 14, 0x0004


@dataclass(frozen=True)
class Record:
    offset: int
    type: int
    data: bytes


def records(stream: bytes) -> Iterator[Record]:
    """Every record; the stream must be exactly a sequence of records (zero padding allowed)."""
    pos = 0
    while pos + 4 <= len(stream):
        record_type, length = struct.unpack_from("<HH", stream, pos)
        if record_type == 0 and length == 0 and not any(stream[pos:]):
            return  # some writers pad the stream with zeros after the last EOF
        end = pos + 4 + length
        if end > len(stream):
            raise MalformedError(
                "ole.malformed", f"BIFF record {record_type:#06x} at {pos} runs past the end"
            )
        yield Record(pos, record_type, stream[pos + 4 : end])
        pos = end
    if any(stream[pos:]):
        raise MalformedError("ole.malformed", f"{len(stream) - pos} stray bytes after the last BIFF record")


@dataclass(frozen=True)
class Joined:
    """Bytes a reader joins from several records (a record's data and its CONTINUE
    records', say): the (start, end) of each piece in the stream, in order."""

    pieces: tuple[tuple[int, int], ...]

    def read(self, stream: bytes | bytearray) -> bytes:
        return b"".join(stream[start:end] for start, end in self.pieces)

    def write(self, stream: bytearray, data: bytes) -> None:
        """``data``, as long as the pieces together, back into them: every record keeps its size."""
        pos = 0
        for start, end in self.pieces:
            stream[start:end] = data[pos : pos + end - start]
            pos += end - start


def data_of(record: Record) -> tuple[int, int]:
    return record.offset + 4, record.offset + 4 + len(record.data)


def drawing_groups(walked: list[Record]) -> list[Joined]:
    """Each OfficeArtDggContainer (pictures included): an MSODRAWINGGROUP record and the
    MSODRAWINGGROUP and CONTINUE records right after it (Excel continues one with CONTINUE
    records, Apache POI with more MSODRAWINGGROUP records; readers join both)."""
    groups: list[Joined] = []
    index = 0
    while index < len(walked):
        if walked[index].type != MSODRAWINGGROUP:
            index += 1
            continue
        end = index + 1
        while end < len(walked) and walked[end].type in (MSODRAWINGGROUP, CONTINUE):
            end += 1
        groups.append(Joined(tuple(data_of(r) for r in walked[index:end])))
        index = end
    return groups


def header_footer_drawings(walked: list[Record]) -> list[Joined]:
    """The OfficeArt drawing (group) of header and footer pictures: an HFPicture record's
    rgDrawing and that of the HFPicture records right after it that continue it."""
    drawings: list[list[tuple[int, int]]] = []
    previous: Record | None = None
    for record in walked:
        if record.type == HFPICTURE:
            flags = _u16(record.data, _HFPICTURE_DRAWING - 2, "HFPicture")
            start, end = data_of(record)
            piece = (start + _HFPICTURE_DRAWING, end)
            if not flags & _HFPICTURE_CONTINUES:
                drawings.append([piece])
            elif previous is not None and previous.type == HFPICTURE:
                drawings[-1].append(piece)
            else:
                raise MalformedError(
                    "ole.malformed", f"an HFPicture record at {record.offset} continues nothing"
                )
        previous = record
    return [Joined(tuple(pieces)) for pieces in drawings]


def with_continues(walked: list[Record]) -> list[Joined]:
    """Every record followed by CONTINUE records, joined with them."""
    joined: list[Joined] = []
    for index, record in enumerate(walked):
        end = index + 1
        while end < len(walked) and walked[end].type == CONTINUE:
            end += 1
        if end > index + 1 and record.type != CONTINUE:
            joined.append(Joined(tuple(data_of(r) for r in walked[index:end])))
    return joined


def sheet_drawings(walked: list[Record]) -> list[Joined]:
    """Each substream's OfficeArtDgContainer, and then some: its MSODRAWING records and every
    CONTINUE record after the first of them, joined.  A reader joins the drawing over the OBJ
    and TXO records between its pieces, and a TXO's CONTINUE records hold its text before the
    drawing goes on in more of them: telling those apart takes the TXO, the superset does not."""
    drawings: list[list[tuple[int, int]]] = []
    for record in walked:
        if record.type == BOF:
            drawings.append([])
        elif drawings and (record.type == MSODRAWING or (record.type == CONTINUE and drawings[-1])):
            drawings[-1].append(data_of(record))
    return [Joined(tuple(pieces)) for pieces in drawings if pieces]


def drawing_records(walked: list[Record]) -> list[Joined]:
    """Each substream's OfficeArtDgContainer as a reader that takes no TXO's CONTINUE record
    for drawing joins it: its MSODRAWING records, each with the CONTINUE records right after
    it.  Where ``sheet_drawings`` joins text into the drawing, this joins none."""
    drawings: list[list[tuple[int, int]]] = []
    joining = False  # whether the record before was a piece of the drawing
    for record in walked:
        joining = bool(drawings) and (record.type == MSODRAWING or (record.type == CONTINUE and joining))
        if record.type == BOF:
            drawings.append([])
        elif joining:
            drawings[-1].append(data_of(record))
    return [Joined(tuple(pieces)) for pieces in drawings if pieces]


def _u16(data: bytes, offset: int, what: str) -> int:
    if offset + 2 > len(data):
        raise MalformedError("ole.malformed", f"truncated {what} record")
    value: int = struct.unpack_from("<H", data, offset)[0]
    return value


def _check_record(record: Record, version: int) -> None:
    """Refuse what a record makes active; return quietly for everything else."""
    if record.type == FILEPASS:
        raise EncryptedError("office.encrypted", "the workbook is encrypted (FILEPASS)")
    if record.type == BOF:
        substream = _u16(record.data, 2, "BOF")
        if substream == _BOF_MACRO:
            raise PolicyError("ole.xlm_macro", "an Excel 4.0 macro sheet substream")
        if substream not in (_BOF_GLOBALS, _BOF_SHEET, _BOF_CHART, _BOF_WORKSPACE):
            raise MalformedError("ole.malformed", f"unknown substream type {substream:#x}")
    elif record.type == BOUNDSHEET:
        if len(record.data) < 6:
            raise MalformedError("ole.malformed", "truncated BOUNDSHEET record")
        sheet_type = record.data[5]
        if sheet_type in (_SHEET_MACRO, _SHEET_VBA_MODULE):
            sheet = "an Excel 4.0 macro sheet" if sheet_type == _SHEET_MACRO else "a VBA module sheet"
            raise PolicyError("ole.xlm_macro", f"{sheet} (BOUNDSHEET type {sheet_type:#x})")
        if sheet_type not in (_SHEET_WORKSHEET, _SHEET_CHART):
            raise MalformedError("ole.malformed", f"unknown sheet type {sheet_type:#x}")
    elif record.type == SUPBOOK and version == BIFF8:
        sheets, reference = _u16(record.data, 0, "SUPBOOK"), _u16(record.data, 2, "SUPBOOK")
        if reference not in (_SUPBOOK_SELF, _SUPBOOK_ADDIN) and sheets == 0:
            raise PolicyError("ole.dde_link", "a DDE or OLE link (SUPBOOK without sheets)")
    elif record.type == EXTERNNAME and version == BIFF8:
        if _u16(record.data, 0, "EXTERNNAME") & _EXTERNNAME_LIVE_LINK:
            raise PolicyError("ole.dde_link", "an EXTERNNAME with DDE/OLE link flags")
    elif record.type in EXTERNAL_DATA:
        raise PolicyError("ole.external_link", f"an external data query (record {record.type:#06x})")


def clean_excel(streams: Mapping[str, bytes], links: str) -> tuple[dict[str, bytes], list[Finding]]:
    """The streams to write (Workbook with OBPROJ neutralised, workbook links broken,
    refused hyperlinks neutralised) and findings, or a refusal."""
    if MAIN_STREAM in streams and BIFF5_STREAM in streams:
        raise MalformedError("ole.malformed", "both a Workbook and a Book stream")
    name = MAIN_STREAM if MAIN_STREAM in streams else BIFF5_STREAM
    if name not in streams:
        raise MalformedError("ole.malformed", "no Workbook stream")
    workbook = streams[name]
    walked = list(records(workbook))
    if not walked or walked[0].type != BOF:
        raise MalformedError("ole.malformed", "the workbook does not start with a BOF record")
    version = _u16(walked[0].data, 0, "BOF")
    for record in walked:
        _check_record(record, version)
    if name == BIFF5_STREAM or version != BIFF8:
        raise PolicyError("ole.old_format", f"Excel 5.0/95 workbook (BIFF version {version:#06x})")
    projects = [r.offset for r in walked if r.type == OBPROJ]
    patched = bytearray(workbook)
    for offset in projects:
        struct.pack_into("<H", patched, offset, NEUTRAL_RECORD)
    findings = [Finding("ole.vba_project_record", "neutralised", len(projects), "OBPROJ")] if projects else []
    findings += _break_workbook_links(walked, patched)
    findings += _judge_hyperlinks(walked, patched, links)
    kept = dict(streams)
    kept[MAIN_STREAM] = bytes(patched)
    return kept, findings


def comment_count(streams: Mapping[str, bytes]) -> int:
    """How many cell comments (NOTE records) the workbook has."""
    workbook = streams.get(MAIN_STREAM, streams.get(BIFF5_STREAM))
    if workbook is None:
        raise MalformedError("ole.malformed", "no Workbook stream")
    return sum(1 for record in records(workbook) if record.type == NOTE)


# ── links to other workbooks ────────────────────────────────────────────────────────────


def _write_in_place(patched: bytearray, start: int, end: int, replacement: bytes = b"") -> None:
    """``replacement`` (whole records) at ``start``, then one zero-filled neutral record up to
    ``end``, so that nothing after ``end`` moves."""
    rest = end - start - len(replacement)
    if rest != 0 and rest < 4:
        raise PolicyError("ole.external_link", f"no room to replace the records at {start}")
    patched[start:end] = replacement + (
        struct.pack("<HH", NEUTRAL_RECORD, rest - 4) + bytes(rest - 4) if rest else b""
    )


def _neutralise(patched: bytearray, record: Record) -> None:
    _write_in_place(patched, record.offset, record.offset + 4 + len(record.data))


def _unicode_string(data: bytes, pos: int, count: int) -> int:
    """The end of an XLUnicodeString body (flags byte, then ``count`` characters) at ``pos``."""
    if pos >= len(data):
        raise ValueError("truncated string")
    flags = data[pos]
    if flags & 0xFE:
        raise ValueError("rich or extended string")
    end = pos + 1 + count * (2 if flags & 1 else 1)
    if end > len(data):
        raise ValueError("truncated string")
    return end


def _external_book_parses(data: bytes) -> bool:
    """An external SUPBOOK: ctab, the path, then exactly ctab sheet names."""
    try:
        sheets, path_length = struct.unpack_from("<HH", data, 0)
        pos = _unicode_string(data, 4, path_length)
        for _ in range(sheets):
            (name_length,) = struct.unpack_from("<H", data, pos)
            pos = _unicode_string(data, pos + 2, name_length)
    except (ValueError, struct.error):
        return False
    return pos == len(data)


#: Formula token sizes after the token byte (BIFF8), by base token (class bits cleared).
_PTG_SIZES = {0x01: 4, 0x02: 4, **dict.fromkeys(range(0x03, 0x17), 0), 0x1C: 1, 0x1D: 1, 0x1E: 2,
              0x1F: 8, 0x20: 7, 0x21: 2, 0x22: 3, 0x23: 4, 0x24: 4, 0x25: 8, 0x26: 6, 0x27: 6,
              0x28: 6, 0x29: 2, 0x2A: 4, 0x2B: 8, 0x2C: 4, 0x2D: 8, 0x39: 6, 0x3A: 6, 0x3B: 10,
              0x3C: 6, 0x3D: 10}  # fmt: skip
#: PtgNameX, PtgRef3d, PtgArea3d, PtgRefErr3d, PtgAreaErr3d: an EXTERNSHEET index follows.
_PTG_VIA_EXTERNSHEET = frozenset({0x39, 0x3A, 0x3B, 0x3C, 0x3D})
_PTG_NAME, _PTG_STR, _PTG_ATTR, _PTG_EXP = 0x23, 0x17, 0x19, 0x01
_ATTR_CHOOSE = 0x04
#: How deep defined names may use one another when one of them reads another workbook
#: (each level is one pass over the names: a bound on the work a hostile file can cause).
_NAME_NESTING = 16


def _reads_elsewhere(rgce: bytes, external_xti: frozenset[int], external_names: frozenset[int]) -> bool:
    """Whether formula tokens refer to another workbook; what cannot be read counts as yes."""
    pos = 0
    while pos < len(rgce):
        token = rgce[pos]
        base = token if token < 0x20 else 0x20 | (token & 0x1F)
        if token >= 0x80:
            return True
        if base in _PTG_VIA_EXTERNSHEET or base == _PTG_NAME:
            if pos + 3 > len(rgce):
                return True
            if base == _PTG_NAME:
                if pos + 5 > len(rgce) or struct.unpack_from("<I", rgce, pos + 1)[0] in external_names:
                    return True
            elif struct.unpack_from("<H", rgce, pos + 1)[0] in external_xti:
                return True
        if base == _PTG_STR:
            if pos + 3 > len(rgce):
                return True
            size = 2 + rgce[pos + 1] * (2 if rgce[pos + 2] & 1 else 1)
        elif base == _PTG_ATTR:
            if pos + 4 > len(rgce):
                return True
            size = 3 + (
                2 * (struct.unpack_from("<H", rgce, pos + 2)[0] + 1) if rgce[pos + 1] & _ATTR_CHOOSE else 0
            )
        elif base in _PTG_SIZES:
            size = _PTG_SIZES[base]
        else:
            return True
        pos += 1 + size
    return pos != len(rgce)


def _formula_tokens(record: Record) -> bytes:
    """The parsed expression of a FORMULA, SHRFMLA, ARRAY or NAME record."""
    data = record.data
    try:
        if record.type == FORMULA:
            (length,) = struct.unpack_from("<H", data, 20)
            return data[22 : 22 + length]
        if record.type == SHRFMLA:
            (length,) = struct.unpack_from("<H", data, 8)
            return data[10 : 10 + length]
        if record.type == ARRAY:
            (length,) = struct.unpack_from("<H", data, 12)
            return data[14 : 14 + length]
        name_length, (length,) = data[3], struct.unpack_from("<H", data, 4)
        start = 15 + 1 + name_length * (2 if data[14] & 1 else 1)
        return data[start : start + length]
    except (struct.error, IndexError):
        raise MalformedError("ole.malformed", f"truncated formula record {record.type:#06x}") from None


def _external_references(walked: list[Record]) -> tuple[list[Record], frozenset[int]]:
    """The external SUPBOOKs, and the EXTERNSHEET indexes that lead to them."""
    books = [r for r in walked if r.type == SUPBOOK]
    external = [r for r in books if _u16(r.data, 2, "SUPBOOK") not in (_SUPBOOK_SELF, _SUPBOOK_ADDIN)]
    if not external:
        return [], frozenset()
    for record, following in zip(walked, [*walked[1:], None], strict=True):
        if record not in external:
            continue
        if not _external_book_parses(record.data) or (following is not None and following.type == CONTINUE):
            raise PolicyError("ole.external_link", "a link to another workbook whose SUPBOOK cannot be read")
    external_books = {i for i, r in enumerate(books) if r in external}
    tables = [r for r in walked if r.type == EXTERNSHEET]
    if not tables:
        return external, frozenset()
    if len(tables) > 1:
        raise PolicyError("ole.external_link", f"{len(tables)} EXTERNSHEET records beside a workbook link")
    data = tables[0].data
    count = _u16(data, 0, "EXTERNSHEET")
    if len(data) != 2 + 6 * count:
        raise PolicyError("ole.external_link", "an EXTERNSHEET record that cannot be read")
    entries = struct.unpack_from(f"<{3 * count}H", data, 2)
    return external, frozenset(i for i in range(count) if entries[3 * i] in external_books)


def _break_workbook_links(walked: list[Record], patched: bytearray) -> list[Finding]:
    external, external_xti = _external_references(walked)
    if not external:
        return []
    names = [r for r in walked if r.type == NAME]
    external_names: set[int] = set()
    for _ in range(_NAME_NESTING):  # a name may use a name that uses another workbook
        found = {
            i + 1
            for i, r in enumerate(names)
            if _reads_elsewhere(_formula_tokens(r), external_xti, frozenset(external_names))
        }
        if found <= external_names:
            break
        external_names |= found
    else:
        raise PolicyError(
            "ole.external_link", f"names nested deeper than {_NAME_NESTING} beside a workbook link"
        )
    elsewhere = frozenset(external_names)
    # shared and array formulas by substream and first cell (a FORMULA's PtgExp names it)
    substream = 0
    shared: dict[tuple[int, int, int], Record] = {}
    formulas: list[tuple[int, int]] = []
    for index, record in enumerate(walked):
        if record.type == BOF:
            substream += 1
        elif record.type in (SHRFMLA, ARRAY) and len(record.data) >= 6:
            shared[(substream, _u16(record.data, 0, "SHRFMLA"), record.data[4])] = record
        elif record.type == FORMULA:
            formulas.append((substream, index))
    external_shared = {
        key: r for key, r in shared.items() if _reads_elsewhere(_formula_tokens(r), external_xti, elsewhere)
    }
    freed = {r.offset for r in external_shared.values()}
    for record in external_shared.values():
        _neutralise(patched, record)
    cells = 0
    for substream, index in formulas:
        tokens = _formula_tokens(walked[index])
        if len(tokens) == 5 and tokens[0] == _PTG_EXP:
            row, column = struct.unpack_from("<HH", tokens, 1)
            key = (substream, row, column & 0xFF)
            uses_elsewhere = key in external_shared or key not in shared
        else:
            uses_elsewhere = _reads_elsewhere(tokens, external_xti, elsewhere)
        if uses_elsewhere:
            _keep_cached_value(walked, index, patched, freed)
            cells += 1
    for position, record in enumerate(walked):
        if record in external:
            _write_in_place(
                patched, record.offset, record.offset + 4 + len(record.data),
                struct.pack("<HHHH", SUPBOOK, 4, 1, _SUPBOOK_ADDIN),
            )  # fmt: skip
            for cached in walked[position + 1 :]:
                if cached.type not in (XCT, CRN):
                    break
                _neutralise(patched, cached)
    findings = [Finding("ole.external_workbook", "removed", len(external), "SUPBOOK")]
    if cells:
        findings.append(Finding("ole.external_formula", "neutralised", cells, "cached value kept"))
    return findings


def _keep_cached_value(walked: list[Record], index: int, patched: bytearray, freed: set[int]) -> None:
    """The FORMULA at ``index`` becomes a value cell with its cached result, in place."""
    formula = walked[index]
    cell, result = formula.data[:6], formula.data[6:14]
    start, end = formula.offset, formula.offset + 4 + len(formula.data)
    if result[6:8] != b"\xff\xff":
        replacement = struct.pack("<HH", NUMBER, 14) + cell + result
    elif result[0] in (1, 2):  # boolean, error
        replacement = struct.pack("<HH", BOOLERR, 8) + cell + bytes((result[2], result[0] - 1))
    elif result[0] == 3:  # the empty string
        replacement = struct.pack("<HH", LABEL, 9) + cell + b"\x00\x00\x00"
    elif result[0] == 0:  # text: in the STRING record after the formula (and its SHRFMLA/ARRAY)
        position = index + 1
        while position < len(walked) and walked[position].offset in freed:
            position += 1
        text = walked[position] if position < len(walked) else None
        after = walked[position + 1] if position + 1 < len(walked) else None
        if text is None or text.type != STRING or (after is not None and after.type == CONTINUE):
            raise PolicyError("ole.external_link", "a cached text of a linked formula cannot be read")
        end = text.offset + 4 + len(text.data)
        replacement = struct.pack("<HH", LABEL, 6 + len(text.data)) + cell + text.data
    else:
        raise MalformedError("ole.malformed", f"FORMULA with unknown cached result type {result[0]}")
    _write_in_place(patched, start, end, replacement)


# ── hyperlinks ──────────────────────────────────────────────────────────────────────────

_STD_LINK = bytes.fromhex("d0c9ea79f9bace118c8200aa004ba90b")
_URL_MONIKER = bytes.fromhex("e0c9ea79f9bace118c8200aa004ba90b")
_HAS_MONIKER, _HAS_LOCATION, _HAS_DISPLAY_NAME, _HAS_GUID = 0x01, 0x08, 0x10, 0x20
_HAS_TIME, _HAS_FRAME, _MONIKER_AS_STRING = 0x40, 0x80, 0x100


def _hyperlink_string(data: bytes, pos: int) -> tuple[str, int]:
    (count,) = struct.unpack_from("<I", data, pos)
    end = pos + 4 + 2 * count
    if count > len(data) or end > len(data):
        raise ValueError("truncated hyperlink string")
    return data[pos + 4 : end].decode("utf-16-le", "replace").rstrip("\x00"), end


def hyperlink_target(data: bytes) -> str | None:
    """Where an HLINK record leads: its moniker's target, None for a place in the workbook.
    Raises ``ValueError`` for anything but a URL moniker or a moniker saved as a string."""
    try:
        if data[8:24] != _STD_LINK:
            raise ValueError("not a standard hyperlink object")
        (flags,) = struct.unpack_from("<I", data, 28)
        pos = 32
        for present in (_HAS_DISPLAY_NAME, _HAS_FRAME):
            if flags & present:
                _, pos = _hyperlink_string(data, pos)
        if not flags & _HAS_MONIKER:
            return None
        if flags & _MONIKER_AS_STRING:
            return _hyperlink_string(data, pos)[0]
        if data[pos : pos + 16] != _URL_MONIKER:
            raise ValueError("a file or composite moniker")
        (size,) = struct.unpack_from("<I", data, pos + 16)
        url = data[pos + 20 : pos + 20 + size]
        if len(url) != size:
            raise ValueError("truncated URL moniker")
        return url.decode("utf-16-le", "replace").split("\x00", 1)[0]
    except struct.error:
        raise ValueError("truncated hyperlink") from None


def _judge_hyperlinks(walked: list[Record], patched: bytearray, links: str) -> list[Finding]:
    removed = 0
    for index, record in enumerate(walked):
        if record.type != HLINK:
            continue
        try:
            target = hyperlink_target(record.data)
        except ValueError:
            target = ""
        if target is None or keep_link(target, links):
            continue
        _neutralise(patched, record)
        following = walked[index + 1] if index + 1 < len(walked) else None
        if following is not None and following.type == HLINKTOOLTIP:
            _neutralise(patched, following)
        removed += 1
    return [Finding("ole.hyperlink", "removed", removed, "HLINK")] if removed else []
