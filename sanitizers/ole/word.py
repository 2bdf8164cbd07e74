"""Word 97-2003 (.doc): which streams are kept and which documents are refused.

Kept streams (everything else is dropped by the rebuild):

* ``WordDocument`` — the FIB and the text, byte for byte;
* ``1Table`` or ``0Table`` — whichever the FIB names (the other is stale and dropped); what
  the FIB names for Office alone (a theme, its colour mapping, a mail envelope) is removed
  afterwards (``packages.py``);
* ``Data`` — pictures and form-field data (pictures, here and in ``WordDocument``, are
  rebuilt from their pixels in place afterwards: ``pictures.py``);
* ``\\x01CompObj`` — the class name Word checks; summary streams when metadata is kept.

Dropped: ``Macros`` (VBA), ``ObjectPool`` (embedded and linked OLE objects), ``\\x01Ole``
and anything unknown.  Fields that point at an embedded object (EMBED) then show their
last rendered picture, which is reported.

Refused: encrypted or XOR-obfuscated documents (``office.encrypted``); Word 6/95 files
(``ole.old_format``); fields that run or fetch something when the document opens or
updates — DDE/DDEAUTO (``ole.dde_field``), INCLUDETEXT, INCLUDEPICTURE, IMPORT, LINK,
DATABASE, RD, MACROBUTTON ..., and fields whose type or link target a nested field
computes (``ole.external_field``); a HYPERLINK whose target the ``links`` option refuses
(``ole.external_link``), and so does a hyperlink object in ``Data`` whose own copy of
the target (a moniker) the option refuses or that is a file or composite moniker
(``hyperlinks.py``); an attached template on a network path or URL
(``ole.external_template``).  Instructions are read by ``sanitizers.fields``, the parser
.docx and RTF share.  The text is found through the piece table, so compressed (8-bit)
and Unicode pieces are both read.

Why a refused hyperlink refuses the document instead of losing its code as in .docx and
RTF: the text is kept byte for byte (cutting characters would mean rewriting the piece
table, every PLC of character positions and the FIB), and Word keeps a second copy of a
hyperlink's target, the HFD moniker in the ``Data`` stream, that overwriting the field
code would leave in place.  The rule's next method (PDF化) keeps the document and applies
the same link policy.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from sanitizers.base import Finding
from sanitizers.errors import EncryptedError, MalformedError, PolicyError
from sanitizers.fields import NESTED, Danger, danger, parse_field
from sanitizers.links import KEEP_WEB
from sanitizers.ole.hyperlinks import check_hyperlink_objects

MAIN_STREAM = "WordDocument"
TABLE_STREAMS = ("0Table", "1Table")
DATA_STREAM = "Data"
KEPT_STREAMS = frozenset({MAIN_STREAM, *TABLE_STREAMS, DATA_STREAM, "\x01CompObj"})

WORD97_IDENT = 0xA5EC
WORD6_IDENT = 0xA5DC
_FLAG_ENCRYPTED = 0x0100
_FLAG_TABLE_1 = 0x0200
_FLAG_OBFUSCATED = 0x8000
# FIB layout (MS-DOC 2.5.1): FibBase is 32 bytes, then counted arrays of 16-, 32- and
# 64-bit (fc, lcb) values; the counts are fixed for every Word 97+ file.
_CSW, _CSLW = 0x000E, 0x0016
FC_LCB_START = 32 + 2 + _CSW * 2 + 2 + _CSLW * 4 + 2  # 154
_FC_STTBF_ASSOC, _FC_CLX = 32, 33  # indexes into FibRgFcLcb97
#: FibRgFcLcb97.fcPlcfandRef: where each comment is anchored in the text, a character
#: position and an ATRDPre10 per comment after the closing position (MS-DOC 2.8.3)
_FC_PLCF_AND_REF = 4
_AND_REF_CP, _AND_REF_ENTRY = 4, 4 + 30
_MIN_FC_LCB = _FC_CLX + 1
_ASSOC_TEMPLATE = 1  # ibstAssocDot: the attached template's path

FIELD_BEGIN, FIELD_SEPARATOR, FIELD_END = NESTED, "\x14", "\x15"
_OBJECT_ANCHORS = str.maketrans("\x01\x08", "  ")
#: An embedded object's field: the object (in ObjectPool) is dropped, its picture stays.
EMBED = "EMBED"


@dataclass(frozen=True)
class Fib:
    table_stream: str
    fc_lcb: tuple[tuple[int, int], ...]


def read_fib(word_document: bytes) -> Fib:
    """The parts of the FIB the rebuild needs, or a refusal."""
    if len(word_document) < FC_LCB_START:
        raise MalformedError("ole.malformed", "WordDocument is shorter than a FIB")
    ident, _nfib, _unused, _lid, _pn_next, flags = struct.unpack_from("<HHHHHH", word_document, 0)
    if ident == WORD6_IDENT:
        raise PolicyError("ole.old_format", "Word 6.0/95 document")
    if ident != WORD97_IDENT:
        raise MalformedError("ole.malformed", f"WordDocument starts with {ident:#06x}, not a FIB")
    if flags & (_FLAG_ENCRYPTED | _FLAG_OBFUSCATED):
        raise EncryptedError("office.encrypted", "the FIB marks the document as encrypted")
    (csw,) = struct.unpack_from("<H", word_document, 32)
    (cslw,) = struct.unpack_from("<H", word_document, 32 + 2 + csw * 2)
    (count,) = struct.unpack_from("<H", word_document, FC_LCB_START - 2)
    if (csw, cslw) != (_CSW, _CSLW) or count < _MIN_FC_LCB:
        raise MalformedError("ole.malformed", "the FIB's array sizes are not those of Word 97 or later")
    if FC_LCB_START + count * 8 > len(word_document):
        raise MalformedError("ole.malformed", "the FIB runs past the end of WordDocument")
    pairs = struct.unpack_from(f"<{count * 2}I", word_document, FC_LCB_START)
    table = TABLE_STREAMS[1] if flags & _FLAG_TABLE_1 else TABLE_STREAMS[0]
    return Fib(table, tuple(zip(pairs[::2], pairs[1::2], strict=True)))


def _slice(data: bytes, offset: int, length: int, what: str) -> bytes:
    if offset + length > len(data):
        raise MalformedError("ole.malformed", f"{what} lies outside its stream")
    return data[offset : offset + length]


def document_text(word_document: bytes, table: bytes, fib: Fib) -> str:
    """All text of the document (main text, headers, notes, text boxes) via the piece table."""
    fc, lcb = fib.fc_lcb[_FC_CLX]
    clx = _slice(table, fc, lcb, "the piece table (Clx)")
    pos = 0
    while pos < len(clx) and clx[pos] == 0x01:  # Prc: formatting, skipped
        if pos + 3 > len(clx):
            raise MalformedError("ole.malformed", "truncated Prc in the piece table")
        (size,) = struct.unpack_from("<h", clx, pos + 1)
        if size < 0:
            raise MalformedError("ole.malformed", "negative Prc size in the piece table")
        pos += 3 + size
    if pos + 5 > len(clx) or clx[pos] != 0x02:
        raise MalformedError("ole.malformed", "the piece table (Pcdt) is missing")
    (size,) = struct.unpack_from("<I", clx, pos + 1)
    plc = _slice(clx, pos + 5, size, "PlcPcd")
    if size < 4 or (size - 4) % 12:
        raise MalformedError("ole.malformed", f"PlcPcd of {size} bytes is not 4 + 12n")
    pieces = (size - 4) // 12
    cps = struct.unpack_from(f"<{pieces + 1}I", plc, 0)
    parts = []
    for i in range(pieces):
        length = cps[i + 1] - cps[i]
        if length < 0:
            raise MalformedError("ole.malformed", "piece table positions go backwards")
        (fc_compressed,) = struct.unpack_from("<I", plc, 4 * (pieces + 1) + 8 * i + 2)
        offset = fc_compressed & 0x3FFFFFFF
        if fc_compressed & 0x40000000:  # 8-bit text at half the stored offset
            raw = _slice(word_document, offset // 2, length, "a text piece")
            parts.append(raw.decode("cp1252", errors="replace"))
        else:
            raw = _slice(word_document, offset, 2 * length, "a text piece")
            parts.append(raw.decode("utf-16-le", errors="replace"))
    return "".join(parts)


def field_instructions(text: str) -> list[str]:
    """The instruction text of every field, nested ones included, in document order."""
    open_fields: list[list[str]] = []  # instruction characters of each open field
    in_result: list[bool] = []
    done: list[str] = []
    for ch in text:
        if ch == FIELD_BEGIN:
            if open_fields and not in_result[-1]:
                open_fields[-1].append(FIELD_BEGIN)  # marks a computed part
            open_fields.append([])
            in_result.append(False)
        elif ch == FIELD_SEPARATOR and open_fields:
            in_result[-1] = True
        elif ch == FIELD_END and open_fields:
            done.append("".join(open_fields.pop()))
            in_result.pop()
        elif open_fields and not in_result[-1]:
            open_fields[-1].append(ch)
    done.extend("".join(chars) for chars in open_fields)  # unterminated: judged all the same
    return done


def check_fields(text: str, links: str = KEEP_WEB) -> list[Finding]:
    """Refuse fields that run or fetch something, or link where ``links`` refuses;
    report EMBED fields left as pictures.

    Object anchors (0x01, 0x08: "an object or picture is here", MS-DOC 2.4.1) are not part
    of an instruction's words: a HYPERLINK's anchor points at its hyperlink object in the
    Data stream, whose own copy of the target ``hyperlinks.py`` judges."""
    refused: dict[Danger, set[str]] = {}
    embedded = 0
    for instruction in field_instructions(text):
        field = parse_field(instruction.translate(_OBJECT_ANCHORS))
        if field.type == EMBED and not field.computed_type:
            embedded += 1
            continue
        found = danger(field, links)
        if found is not None:
            shown = "(computed)" if found is Danger.COMPUTED else field.type or "(no type)"
            refused.setdefault(found, set()).add(shown)
    if Danger.DDE in refused:
        raise PolicyError("ole.dde_field", f"DDE field(s): {', '.join(sorted(refused[Danger.DDE]))}")
    external = set().union(
        *(refused.get(kind, set()) for kind in (Danger.FETCH, Danger.RUN, Danger.COMPUTED))
    )
    if external:
        raise PolicyError("ole.external_field", f"field(s): {', '.join(sorted(external))}")
    if Danger.LINK in refused:
        raise PolicyError("ole.external_link", "a hyperlink field to a target the links option refuses")
    return [Finding("ole.embed_field", "kept", embedded, "shown as its last picture")] if embedded else []


def attached_template(table: bytes, fib: Fib) -> str:
    """The attached template's path from SttbfAssoc, or "" when there is none."""
    fc, lcb = fib.fc_lcb[_FC_STTBF_ASSOC]
    if lcb == 0:
        return ""
    sttb = _slice(table, fc, lcb, "SttbfAssoc")
    if len(sttb) < 6:
        raise MalformedError("ole.malformed", "truncated SttbfAssoc")
    extended, count, extra = struct.unpack_from("<HHH", sttb, 0)
    if extended != 0xFFFF or count <= _ASSOC_TEMPLATE or extra:
        raise MalformedError("ole.malformed", "SttbfAssoc is not a Unicode string table of Word 97+")
    pos = 6
    for index in range(_ASSOC_TEMPLATE + 1):
        (chars,) = struct.unpack_from("<H", _slice(sttb, pos, 2, "SttbfAssoc"), 0)
        value = _slice(sttb, pos + 2, 2 * chars, "SttbfAssoc").decode("utf-16-le", errors="replace")
        if index == _ASSOC_TEMPLATE:
            return value
        pos += 2 + 2 * chars
    return ""


def comment_count(streams: Mapping[str, bytes]) -> int:
    """How many comments the document has: none when the FIB names no comment anchors."""
    word_document = streams.get(MAIN_STREAM)
    if word_document is None:
        raise MalformedError("ole.malformed", "no WordDocument stream")
    _fc, lcb = read_fib(word_document).fc_lcb[_FC_PLCF_AND_REF]
    return max((lcb - _AND_REF_CP) // _AND_REF_ENTRY, 1) if lcb else 0


def is_remote_path(path: str) -> bool:
    return path.startswith(("\\\\", "//")) or "://" in path


def clean_word(streams: Mapping[str, bytes], links: str = KEEP_WEB) -> tuple[dict[str, bytes], list[Finding]]:
    """The streams to write (unchanged bytes) and findings, or a refusal.

    ``streams`` holds the input's allow-listed top-level streams; ``links`` is the rule's
    link option.
    """
    word_document = streams.get(MAIN_STREAM)
    if word_document is None:
        raise MalformedError("ole.malformed", "no WordDocument stream")
    fib = read_fib(word_document)
    table = streams.get(fib.table_stream)
    if table is None:
        raise MalformedError("ole.malformed", f"the FIB names {fib.table_stream}, which is missing")
    findings = check_fields(document_text(word_document, table, fib), links)
    check_hyperlink_objects(streams.get(DATA_STREAM, b""), links)
    template = attached_template(table, fib)
    if is_remote_path(template):
        raise PolicyError("ole.external_template", f"attached template on a remote path: {template[:200]}")
    kept = {name: data for name, data in streams.items() if name not in TABLE_STREAMS}
    kept[fib.table_stream] = table
    return kept, findings
