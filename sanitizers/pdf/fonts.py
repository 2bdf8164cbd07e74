"""Embedded font programs: written back from the OpenType Sanitizer's output, never copied.

A font program is machine code for a rasteriser (TrueType bytecode, CFF charstrings) that
every reader runs; the rebuild keeps only what OTS, the sanitiser Chromium and Firefox
run on web fonts, parses and writes anew, so appended payloads, unknown tables and
malformed ones vanish.  OTS runs in-process (``sanitizers._ots``, built from
third_party/ots), inside the confined worker that parses the document.

PDF producers embed TrueType subsets without the tables only a system installer reads
(``OS/2``, ``name``, ``post``; LibreOffice omits all three, CID-keyed subsets omit
``cmap``).  OTS requires them, so neutral ones are added before it runs and taken out
of its output again.  A bare CFF program (``/FontFile3`` ``/Type1C`` or
``/CIDFontType0C``) goes through OTS as the ``CFF`` table of an OpenType font made
around it, and its sanitised table is written back.  OTS checks CFF charstrings and
structure but writes a valid table as it found it.

A Type 1 program (``/FontFile``, PostScript) is converted to a bare CFF first
(``type1.py``) and written back as ``/FontFile3`` ``/Type1C``.

What cannot go through OTS refuses the rebuild, so that the rule's next method (画像化)
takes over: a Type 1 program the conversion cannot read, a font under image filters, or
one OTS refuses.  The refusal is ``pdf.malformed`` with a detail that starts "embedded font:".
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

import pikepdf

from sanitizers import _ots
from sanitizers.base import Limits
from sanitizers.errors import MalformedError
from sanitizers.pdf.limits import decode_within_limit
from sanitizers.pdf.type1 import type1_to_cff
from sanitizers.pdf.values import name_of, printable

FONT_FILE_KEYS = ("/FontFile", "/FontFile2", "/FontFile3")

_SFNT_VERSIONS = (b"\x00\x01\x00\x00", b"true", b"OTTO")
_TABLE_RECORD = struct.Struct(">4sIII")
#: Neutral tables that OTS requires and PDF readers never read (OpenType 1.9 layouts).
_OS2_VERSION_0 = struct.pack(
    ">HhHHH10hh10s16s4sHHHhhhHH",
    0,  # version
    0,  # xAvgCharWidth
    400,  # usWeightClass: regular
    5,  # usWidthClass: medium
    0,  # fsType: installable
    *([0] * 10),  # sub- and superscript sizes and offsets, strikeout
    0,  # sFamilyClass
    bytes(10),  # panose
    bytes(16),  # ulUnicodeRange1-4
    b"    ",  # achVendID
    0x40,  # fsSelection: REGULAR
    0,  # usFirstCharIndex
    0,  # usLastCharIndex
    0,  # sTypoAscender
    0,  # sTypoDescender
    0,  # sTypoLineGap
    0,  # usWinAscent
    0,  # usWinDescent
)
_NAME_EMPTY = struct.pack(">HHH", 0, 0, 6)
_POST_VERSION_3 = struct.pack(">IihhIIIII", 0x00030000, 0, 0, 0, 0, 0, 0, 0, 0)
_NEUTRAL_TABLES = {b"OS/2": _OS2_VERSION_0, b"name": _NAME_EMPTY, b"post": _POST_VERSION_3}
_HEAD = struct.pack(
    ">IIIIHHqq4hHHhhh", 0x00010000, 0x00010000, 0, 0x5F0F3CF5, 0, 1000, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0
)
#: /FontFile3 subtypes holding a bare CFF program.
BARE_CFF_SUBTYPES = frozenset({"/Type1C", "/CIDFontType0C"})


def font_refusal(detail: str) -> MalformedError:
    """The rebuild cannot keep this font; the rule's next method (画像化) can."""
    return MalformedError("pdf.malformed", f"embedded font: {detail}")


def rewrite_font_programs(descriptors: Iterable[pikepdf.Object], limits: Limits) -> int:
    """Replace every font program of ``descriptors`` by OTS's output; return how many.

    Raises MalformedError (the rebuild's refusal, so the next method runs) for a font that
    cannot go through OTS.
    """
    programs: dict[tuple[int, int], _Program] = {}
    converted: list[pikepdf.Object] = []
    for descriptor in descriptors:
        for key in FONT_FILE_KEYS:
            program = descriptor.get(key)
            if program is None:
                continue
            if not isinstance(program, pikepdf.Stream):
                del descriptor[key]  # readers ignore it; nothing to copy
                continue
            if program.objgen not in programs:
                programs[program.objgen] = _read(program, key, limits)
            if key == "/FontFile":
                converted.append(descriptor)
    for read in programs.values():
        _write_back(read, _sanitized(read))
    for descriptor in converted:  # the Type 1 program is CFF now
        descriptor["/FontFile3"] = descriptor["/FontFile"]
        del descriptor["/FontFile"]
    return len(programs)


@dataclass(frozen=True)
class _Program:
    stream: pikepdf.Stream
    key: str
    bare_cff: bool
    untrusted_font: bytes


def _read(program: pikepdf.Stream, key: str, limits: Limits) -> _Program:
    subtype = name_of(program.get("/Subtype"))
    bare_cff = key == "/FontFile3" and subtype != "/OpenType"
    if bare_cff and subtype not in BARE_CFF_SUBTYPES:
        raise font_refusal(f"a /FontFile3 of subtype {printable(subtype or 'none')}")
    untrusted_font = decode_within_limit(program, limits.max_stream_size)
    if untrusted_font is None:
        raise font_refusal(f"a {printable(key)} program under filters that are not general-purpose")
    return _Program(program, key, bare_cff, untrusted_font)


def _sanitized(program: _Program) -> bytes:
    if program.key == "/FontFile":
        return table_of(sanitized_by_ots(cff_in_opentype(type1_to_cff(program.untrusted_font))), b"CFF ")
    if program.bare_cff:
        return table_of(sanitized_by_ots(cff_in_opentype(program.untrusted_font)), b"CFF ")
    return sanitized_sfnt(program.untrusted_font)


def _write_back(program: _Program, clean: bytes) -> None:
    stream = program.stream
    stream.write(clean)
    for length_key in ("/Length1", "/Length2", "/Length3", "/DecodeParms"):
        if length_key in stream:
            del stream[length_key]
    if program.key == "/FontFile":
        stream["/Subtype"] = pikepdf.Name("/Type1C")
    elif program.key == "/FontFile2":
        stream["/Length1"] = len(clean)


def sanitized_sfnt(untrusted_font: bytes) -> bytes:
    """OTS's rewriting of a TrueType or OpenType font, completed for OTS with neutral
    tables that are taken out of its output again, so the font keeps the tables it had."""
    tables = sfnt_tables(untrusted_font)
    if tables is None:  # not a table directory: OTS says why
        return sanitized_by_ots(untrusted_font)
    added = {tag: table for tag, table in _NEUTRAL_TABLES.items() if tag not in tables}
    if b"cmap" not in tables:
        added[b"cmap"] = _EMPTY_CMAP  # CIDFontType2 subsets have none; glyphs are found by CID
    windows_cmap = with_windows_subtable(tables.get(b"cmap", b""))
    completed = tables | added if windows_cmap is None else tables | added | {b"cmap": windows_cmap}
    try:
        clean = sanitized_by_ots(sfnt_file(untrusted_font[:4], completed))
    except MalformedError as refusal:
        glyphs = _without_reserved_flags(completed) if "Bad glyph flag" in refusal.detail else None
        if glyphs is None:
            raise
        clean = sanitized_by_ots(sfnt_file(untrusted_font[:4], completed | {b"glyf": glyphs}))
    clean_tables = sfnt_tables(clean)
    if clean_tables is None:
        raise font_refusal("OTS wrote no table directory")
    return sfnt_file(clean[:4], {tag: table for tag, table in clean_tables.items() if tag not in added})


def _without_reserved_flags(tables: dict[bytes, bytes]) -> bytes | None:
    """The ``glyf`` table with the reserved bit 7 of every point flag cleared, or None if
    the glyphs cannot be walked.  Some producers set it; rasterisers ignore it, OTS refuses
    it; what else the table holds is left for OTS to judge."""
    try:
        (glyph_count,) = struct.unpack_from(">H", tables[b"maxp"], 4)
        (long_offsets,) = struct.unpack_from(">h", tables[b"head"], 50)
        glyphs, locations = bytearray(tables[b"glyf"]), tables[b"loca"]
        if long_offsets:
            offsets = struct.unpack_from(f">{glyph_count + 1}I", locations)
        else:
            offsets = tuple(2 * o for o in struct.unpack_from(f">{glyph_count + 1}H", locations))
        for start, end in pairwise(offsets):
            if end - start < 10:
                continue
            (contours,) = struct.unpack_from(">h", glyphs, start)
            if contours <= 0:
                continue  # empty or composite: no point flags
            at = start + 10 + 2 * contours
            points = struct.unpack_from(">H", glyphs, at - 2)[0] + 1
            at += 2 + struct.unpack_from(">H", glyphs, at)[0]
            while points > 0 and at < end:
                flag = glyphs[at] & 0x7F
                glyphs[at] = flag
                at += 1
                if flag & 0x08:  # REPEAT_FLAG: the next byte counts the repetitions
                    points -= glyphs[at]
                    at += 1
                points -= 1
    except (KeyError, IndexError, struct.error):
        return None
    return bytes(glyphs)


def sanitized_by_ots(untrusted_font: bytes) -> bytes:
    """OTS's rewriting of ``untrusted_font``; MalformedError if it refuses the font."""
    try:
        return _ots.sanitize(untrusted_font)
    except ValueError as refusal:
        raise font_refusal(f"refused by OTS: {printable(str(refusal))[:160]}") from None
    except MemoryError:
        raise font_refusal("OTS ran out of memory") from None


def sfnt_tables(untrusted_font: bytes) -> dict[bytes, bytes] | None:
    """The tables of a TrueType or OpenType font by tag, or None if its directory is not
    well formed (then OTS refuses it with its own words)."""
    if len(untrusted_font) < 12 or untrusted_font[:4] not in _SFNT_VERSIONS:
        return None
    (count,) = struct.unpack_from(">H", untrusted_font, 4)
    if count == 0 or 12 + count * _TABLE_RECORD.size > len(untrusted_font):
        return None
    tables: dict[bytes, bytes] = {}
    for index in range(count):
        tag, _, offset, length = _TABLE_RECORD.unpack_from(untrusted_font, 12 + index * _TABLE_RECORD.size)
        if offset + length > len(untrusted_font) or tag in tables:
            return None
        tables[tag] = untrusted_font[offset : offset + length]
    return tables


def table_of(clean_font: bytes, tag: bytes) -> bytes:
    table = (sfnt_tables(clean_font) or {}).get(tag)
    if table is None:
        raise font_refusal(f"OTS wrote no {tag.decode().strip()} table")
    return table


def cff_in_opentype(untrusted_cff: bytes) -> bytes:
    """A bare CFF program (``/FontFile3`` ``/Type1C`` or ``/CIDFontType0C``) as the ``CFF``
    table of an OpenType font with neutral other tables, the only form OTS takes."""
    glyphs = cff_glyph_count(untrusted_cff)
    tables = {
        b"CFF ": untrusted_cff,
        b"cmap": _EMPTY_CMAP,
        b"head": _HEAD,
        b"hhea": struct.pack(
            ">I3hH3h3h4hhH", 0x00010000, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, glyphs
        ),
        b"hmtx": bytes(4 * glyphs),
        b"maxp": struct.pack(">IH", 0x00005000, glyphs),
    }
    return sfnt_file(b"OTTO", tables | _NEUTRAL_TABLES)


def cff_glyph_count(untrusted_cff: bytes) -> int:
    """The number of charstrings of the first font of a CFF program (Adobe TN 5176)."""
    try:
        header_size = untrusted_cff[2]
        top_dicts = _index_end(untrusted_cff, header_size)  # after the Name INDEX
        (count,) = struct.unpack_from(">H", untrusted_cff, top_dicts)
        if count == 0:
            raise font_refusal("a CFF program without a Top DICT")
        offset_size = untrusted_cff[top_dicts + 2]
        first = top_dicts + 3 + (count + 1) * offset_size - 1
        start = first + _offset(untrusted_cff, top_dicts + 3, offset_size)
        end = first + _offset(untrusted_cff, top_dicts + 3 + offset_size, offset_size)
        charstrings = _dict_operand(untrusted_cff[start:end], 17)
        (glyphs,) = struct.unpack_from(">H", untrusted_cff, charstrings)
    except (IndexError, struct.error):
        raise font_refusal("a truncated CFF program") from None
    if not 0 < glyphs < 0xFFFF:
        raise font_refusal(f"a CFF program of {glyphs} glyphs")
    return int(glyphs)


def _index_end(data: bytes, at: int) -> int:
    count = int.from_bytes(data[at : at + 2], "big")
    if len(data) < at + 2:
        raise font_refusal("a truncated CFF INDEX")
    if count == 0:
        return at + 2
    offset_size = data[at + 2]
    return at + 3 + (count + 1) * offset_size - 1 + _offset(data, at + 3 + count * offset_size, offset_size)


def _offset(data: bytes, at: int, size: int) -> int:
    if not 1 <= size <= 4 or at + size > len(data):
        raise font_refusal("a CFF INDEX with bad offsets")
    return int.from_bytes(data[at : at + size], "big")


def _dict_operand(untrusted_dict: bytes, operator: int) -> int:
    """The last integer operand before ``operator`` in a CFF DICT."""
    operands: list[int] = []
    at = 0
    while at < len(untrusted_dict):
        byte = untrusted_dict[at]
        if byte <= 21:
            if byte == operator and operands:
                return operands[-1]
            at += 2 if byte == 12 else 1
            operands = []
        elif byte == 28:
            operands.append(int.from_bytes(untrusted_dict[at + 1 : at + 3], "big", signed=True))
            at += 3
        elif byte == 29:
            operands.append(int.from_bytes(untrusted_dict[at + 1 : at + 5], "big", signed=True))
            at += 5
        elif byte == 30:  # a real number, up to the nibble 0xf
            at += 1
            while at < len(untrusted_dict) and 0xF not in (untrusted_dict[at] >> 4, untrusted_dict[at] & 0xF):
                at += 1
            at += 1
            operands.append(0)
        elif 32 <= byte <= 246:
            operands.append(byte - 139)
            at += 1
        elif 247 <= byte <= 254:
            second = untrusted_dict[at + 1]
            magnitude = (
                (byte - 247) * 256 + second + 108 if byte <= 250 else (byte - 251) * 256 + second + 108
            )
            operands.append(magnitude if byte <= 250 else -magnitude)
            at += 2
        else:
            raise font_refusal("a CFF DICT with a reserved byte")
    raise font_refusal("a CFF program without charstrings")


def with_windows_subtable(untrusted_cmap: bytes) -> bytes | None:
    """A ``cmap`` that adds to a lone Macintosh byte-encoding subtable (1, 0, format 0)
    the same mapping as a Windows symbol subtable (3, 0) at U+F000 + code, or None when
    the table has a Windows subtable already or is not of that shape.

    PDF producers subset symbolic TrueType fonts with only the Macintosh subtable, which
    OTS does not accept alone; a PDF reader looks up the same glyphs through either
    subtable (ISO 32000-1, 9.6.6.4), so the addition changes no rendering.
    """
    if len(untrusted_cmap) < 4:
        return None
    (count,) = struct.unpack_from(">H", untrusted_cmap, 2)
    if 4 + count * 8 > len(untrusted_cmap):
        return None
    records = [struct.unpack_from(">HHI", untrusted_cmap, 4 + index * 8) for index in range(count)]
    if any(platform == 3 for platform, _, _ in records):
        return None
    glyphs = None
    for platform, encoding, offset in records:
        is_mac_bytes = (platform, encoding) == (1, 0) and offset + 262 <= len(untrusted_cmap)
        if is_mac_bytes and struct.unpack_from(">HH", untrusted_cmap, offset) == (0, 262):
            glyphs = untrusted_cmap[offset + 6 : offset + 262]
    if glyphs is None:
        return None
    windows = _format_4({0xF000 + code: glyph for code, glyph in enumerate(glyphs) if glyph})
    shift = 8  # one more encoding record before every subtable
    entries = [(platform, encoding, offset + shift) for platform, encoding, offset in records]
    entries.append((3, 0, len(untrusted_cmap) + shift))
    head = struct.pack(">HH", 0, count + 1) + b"".join(struct.pack(">HHI", *e) for e in sorted(entries))
    return head + untrusted_cmap[4 + count * 8 :] + windows


def _format_4(mapping: dict[int, int]) -> bytes:
    """A cmap format 4 subtable with one segment per code, plus the closing segment."""
    codes = [*sorted(mapping), 0xFFFF]
    segments = len(codes)
    search_range = 2 * (1 << (segments.bit_length() - 1))
    deltas = [(mapping[code] - code) & 0xFFFF for code in codes[:-1]] + [1]
    length = 16 + segments * 8
    return (
        struct.pack(
            ">7H",
            4,
            length,
            0,
            segments * 2,
            search_range,
            search_range.bit_length() - 2,
            segments * 2 - search_range,
        )
        + struct.pack(f">{segments}H", *codes)
        + b"\0\0"
        + struct.pack(f">{segments}H", *codes)
        + struct.pack(f">{segments}H", *deltas)
        + bytes(segments * 2)
    )


def sfnt_file(version: bytes, tables: dict[bytes, bytes]) -> bytes:
    """A font file of ``tables`` in tag order, each on a four-byte boundary."""
    count = len(tables)
    search_range = 1 << (count.bit_length() - 1)
    header = version + struct.pack(
        ">HHHH", count, search_range * 16, search_range.bit_length() - 1, count * 16 - search_range * 16
    )
    offset = len(header) + count * _TABLE_RECORD.size
    records, bodies = [], []
    for tag in sorted(tables):
        table = tables[tag]
        records.append(_TABLE_RECORD.pack(tag, _checksum(table), offset, len(table)))
        padded = table + bytes(-len(table) % 4)
        bodies.append(padded)
        offset += len(padded)
    return header + b"".join(records) + b"".join(bodies)


def _checksum(table: bytes) -> int:
    padded = table + bytes(-len(table) % 4)
    words: tuple[int, ...] = struct.unpack(f">{len(padded) // 4}I", padded)
    return sum(words) & 0xFFFFFFFF


#: A Windows Unicode ``cmap`` that maps nothing, for fonts whose glyphs are found by CID.
_EMPTY_CMAP = struct.pack(">HHHHI", 0, 1, 3, 1, 12) + _format_4({})
