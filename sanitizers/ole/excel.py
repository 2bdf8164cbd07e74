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

Refused: FILEPASS (``office.encrypted``); macro sheets and VBA module sheets, by
BOUNDSHEET or by a substream's BOF (``ole.xlm_macro``); DDE or OLE links (SUPBOOK without
sheets, EXTERNNAME with OLE/advise flags: ``ole.dde_link``); links to other workbooks and
external data queries (``ole.external_link``); Excel 5/95 BIFF5 ``Book`` streams
(``ole.old_format``, after the same macro checks).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sanitizers.base import Finding
from sanitizers.errors import EncryptedError, MalformedError, PolicyError

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

BIFF8, BIFF5 = 0x0600, 0x0500
#: BOUNDSHEET sheet types: worksheet or dialog, Excel 4 macro sheet, chart, VBA module.
_SHEET_WORKSHEET, _SHEET_MACRO, _SHEET_CHART, _SHEET_VBA_MODULE = 0x00, 0x01, 0x02, 0x06
#: BOF substream types: globals, worksheet or dialog, chart, macro sheet, workspace.
_BOF_GLOBALS, _BOF_SHEET, _BOF_CHART, _BOF_MACRO, _BOF_WORKSPACE = 0x05, 0x10, 0x20, 0x40, 0x100
_SUPBOOK_SELF, _SUPBOOK_ADDIN = 0x0401, 0x3A01
_EXTERNNAME_LIVE_LINK = 0x0002 | 0x0008 | 0x0010  # fWantAdvise, fOle, fOleLink


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
        if reference not in (_SUPBOOK_SELF, _SUPBOOK_ADDIN):
            if sheets == 0:
                raise PolicyError("ole.dde_link", "a DDE or OLE link (SUPBOOK without sheets)")
            raise PolicyError("ole.external_link", "a link to another workbook (SUPBOOK)")
    elif record.type == EXTERNNAME and version == BIFF8:
        if _u16(record.data, 0, "EXTERNNAME") & _EXTERNNAME_LIVE_LINK:
            raise PolicyError("ole.dde_link", "an EXTERNNAME with DDE/OLE link flags")
    elif record.type in EXTERNAL_DATA:
        raise PolicyError("ole.external_link", f"an external data query (record {record.type:#06x})")


def clean_excel(streams: Mapping[str, bytes], links: str) -> tuple[dict[str, bytes], list[Finding]]:
    """The streams to write (Workbook with OBPROJ neutralised) and findings, or a refusal.

    ``links`` is not consulted yet: HLINK records are not judged by the link policy."""
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
    kept = dict(streams)
    kept[MAIN_STREAM] = bytes(patched)
    findings = [Finding("ole.vba_project_record", "neutralised", len(projects), "OBPROJ")] if projects else []
    return kept, findings
