"""Windows metafiles (EMF, placeable and plain WMF) rebuilt record by record.

A metafile is a list of drawing calls, and the calls that are not drawing are where the
attacks live: WMF escapes (SETABORTPROC ran code on old Windows), EMF comments carrying
EMF+, spool records or whole files, printer escapes, OpenGL records, colour-profile file
names (a UNC path makes the viewer connect to a server), and bitmaps that are a
JPEG or PNG file copied byte for byte.  Each record is framed by its declared size and
checked against the specifications ([MS-EMF] 2.1.1 RecordType, [MS-WMF] 2.1.1.1
RecordType); only drawing and state records on the allow-list are copied, behind a new
header whose sizes and counts are computed from what was written.  The walk stops at the
end-of-file record and the new file ends with a fresh one, so bytes behind the picture
(appended executables, polyglots) cannot follow.

The bodies of kept records are copied as they are: a record's own fields are not rebuilt.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sanitizers.errors import LimitError, MalformedError

COMMENT = "metafile.comment"
ESCAPE = "metafile.escape"
OPENGL = "metafile.opengl"
COLOR_PROFILE = "metafile.color_profile"
COMPRESSED_BITMAP = "metafile.compressed_bitmap"
INVALID_BITMAP = "metafile.invalid_bitmap"
DESCRIPTION = "metafile.description"
UNKNOWN_RECORD = "metafile.unknown_record"
TRAILING_DATA = "metafile.trailing_data"


@dataclass(frozen=True)
class RebuiltMetafile:
    """The new file, and how many of each removed construct the input had."""

    data: bytes
    removed: Mapping[str, int]


# --- EMF ----------------------------------------------------------------------------------

_EMR_HEADER, _EMR_EOF = 1, 14
_EMF_SIGNATURE = 0x464D4520  # " EMF"
_EMF_BASE_HEADER = struct.Struct("<II32sIIIIHHIII16s")  # [MS-EMF] 2.2.9 Header, 88 bytes
_EMF_NEW_HEADER = struct.Struct("<II32sIIIIHHIII16sIIIii")  # with both header extensions
_EMF_RECORD = struct.Struct("<II")
_EMF_NEW_EOF = struct.pack("<IIIII", _EMR_EOF, 20, 0, 16, 20)  # no palette
_INT32 = (-(2**31), 2**31 - 1)

#: Drawing, path, clipping, transform, object and state records: [MS-EMF] 2.3.2 to 2.3.11.
_EMF_KEEP = frozenset(
    {
        *range(2, 14),  # POLYBEZIER .. SETBRUSHORGEX
        *range(15, 69),  # SETPIXELV .. ABORTPATH
        *range(71, 76),  # FILLRGN .. EXTSELECTCLIPRGN
        *range(82, 93),  # EXTCREATEFONTINDIRECTW, EXTTEXTOUTA/W, the 16-bit polygons
        *(96, 97, 98),  # POLYTEXTOUTA/W, SETICMMODE
        *(108, 109, 111, 115),  # SMALLTEXTOUT, FORCEUFIMAPPING, COLORCORRECTPALETTE, SETLAYOUT
        *(118, 119, 120),  # GRADIENTFILL, SETLINKEDUFIS, SETTEXTJUSTIFICATION
    }
)
_EMF_DROP = {
    70: COMMENT,  # EMR_COMMENT: private data, EMF+, EMFSPOOL, public comments
    **dict.fromkeys((102, 103, 104), OPENGL),  # GLSRECORD, GLSBOUNDEDRECORD, PIXELFORMAT
    **dict.fromkeys((105, 106, 110), ESCAPE),  # DRAWESCAPE, EXTESCAPE, NAMEDESCAPE
    # colour spaces name profile files or embed profiles; the handles go with them
    **dict.fromkeys((99, 100, 101, 112, 113, 121, 122), COLOR_PROFILE),
}
#: Bitmap records: where their (offBmi, cbBmi, offBits, cbBits) fields start ([MS-EMF] 2.3.1).
_EMF_BITMAP_FIELDS: dict[int, tuple[int, ...]] = {
    **dict.fromkeys((76, 77, 114, 116), (84,)),  # BITBLT, STRETCHBLT, ALPHABLEND, TRANSPARENTBLT
    78: (84, 112),  # MASKBLT: source and mask
    79: (96, 124),  # PLGBLT: source and mask
    **dict.fromkeys((80, 81), (48,)),  # SETDIBITSTODEVICE, STRETCHDIBITS
    **dict.fromkeys((93, 94), (16,)),  # CREATEMONOBRUSH, CREATEDIBPATTERNBRUSHPT
    95: (12,),  # EXTCREATEPEN
}
#: Records creating an object at the handle-table index stored right after their size.
_EMF_CREATES = frozenset({38, 39, 49, 82, 93, 94, 95})

# --- WMF ----------------------------------------------------------------------------------

_PLACEABLE_KEY = 0x9AC6CDD7
_PLACEABLE = struct.Struct("<IH4hHIH")  # [MS-WMF] 2.3.2.3 META_PLACEABLE, 22 bytes
_WMF_HEADER = struct.Struct("<HHHIHIH")  # [MS-WMF] 2.3.2.2 META_HEADER, 18 bytes
_WMF_RECORD = struct.Struct("<IH")
_WMF_VERSIONS = frozenset({0x0100, 0x0300})
_META_EOF, _META_ESCAPE = 0x0000, 0x0626
_WMF_NEW_EOF = _WMF_RECORD.pack(3, _META_EOF)
#: What takes a dropped brush's place: WMF objects are numbered by creation order, so the
#: objects created after it keep their numbers (META_CREATEBRUSHINDIRECT, BS_NULL).
_WMF_NULL_BRUSH = struct.pack("<IHHIH", 7, 0x02FC, 1, 0, 0)

#: Every [MS-WMF] record type except META_EOF, META_ESCAPE and the DIB records below.
#: META_BITBLT, META_STRETCHBLT and META_CREATEPATTERNBRUSH carry raw Bitmap16 pixels.
_WMF_KEEP = frozenset(
    {
        *(0x001E, 0x0035, 0x0037, 0x00F7, 0x0102, 0x0103, 0x0104, 0x0105, 0x0106),
        *(0x0107, 0x0108, 0x0127, 0x012A, 0x012B, 0x012C, 0x012D, 0x012E, 0x0139),
        *(0x0149, 0x01F0, 0x01F9, 0x0201, 0x0209, 0x020A, 0x020B, 0x020C, 0x020D),
        *(0x020E, 0x020F, 0x0211, 0x0213, 0x0214, 0x0220, 0x0228, 0x0231, 0x0234),
        *(0x02FA, 0x02FB, 0x02FC, 0x0324, 0x0325, 0x0410, 0x0412, 0x0415, 0x0416),
        *(0x0418, 0x0419, 0x041B, 0x041F, 0x0429, 0x0436, 0x0521, 0x0538, 0x0548),
        *(0x061C, 0x061D, 0x06FF, 0x0817, 0x081A, 0x0830, 0x0922, 0x0A32, 0x0B23),
    }
)
#: DIB records: where the DeviceIndependentBitmap starts ([MS-WMF] 2.3.1).
_WMF_DIB_AT = {0x0940: 22, 0x0B41: 26, 0x0F43: 28, 0x0D33: 24, 0x0142: 10}
#: DIBBITBLT and DIBSTRETCHBLT may have no bitmap: then RecordSize is (function >> 8) + 3.
_WMF_OPTIONAL_DIB = frozenset({0x0940, 0x0B41})
_META_DIBCREATEPATTERNBRUSH = 0x0142
_WMF_CREATES = frozenset({0x00F7, 0x01F9, 0x02FA, 0x02FB, 0x02FC, 0x06FF, 0x0142})

# --- bitmaps ------------------------------------------------------------------------------

_RAW_COMPRESSIONS = frozenset({0, 1, 2, 3})  # BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS
_CORE_HEADER = 12  # BITMAPCOREHEADER: never compressed
_INFO_HEADERS = frozenset({40, 52, 56, 108, 124})  # BITMAPINFOHEADER, V2, V3, V4, V5
_PROFILE_LINKED_OR_EMBEDDED = frozenset({0x4C494E4B, 0x4D424544})  # "LINK", "MBED"


def is_metafile(untrusted_data: bytes) -> bool:
    """Whether the bytes start like an EMF or a WMF (the signature only)."""
    return _is_emf(untrusted_data) or _wmf_start(untrusted_data) is not None


def rebuild_metafile(untrusted_data: bytes, max_records: int = 1_000_000) -> RebuiltMetafile:
    """A new EMF or WMF holding the allow-listed records of ``untrusted_data``.

    Raises MalformedError when the framing cannot be walked strictly, and LimitError when
    the file has more than ``max_records`` records.
    """
    removed: Counter[str] = Counter()
    if _is_emf(untrusted_data):
        data = _rebuild_emf(untrusted_data, max_records, removed)
    elif (start := _wmf_start(untrusted_data)) is not None:
        data = _rebuild_wmf(untrusted_data, start, max_records, removed)
    else:
        raise _malformed("not an EMF or WMF file")
    return RebuiltMetafile(data, MappingProxyType(dict(removed)))


def _malformed(what: str) -> MalformedError:
    return MalformedError("image.malformed", f"metafile: {what}")


def _is_emf(data: bytes) -> bool:
    return data[:4] == b"\x01\x00\x00\x00" and data[40:44] == b" EMF"


def _wmf_start(data: bytes) -> int | None:
    """Offset of META_HEADER: 22 behind a placeable header, 0 without one."""
    start = _PLACEABLE.size if data[:4] == _PLACEABLE_KEY.to_bytes(4, "little") else 0
    return start if data[start : start + 4] in (b"\x01\x00\x09\x00", b"\x02\x00\x09\x00") else None


def _count_record(count: int, max_records: int) -> int:
    if count >= max_records:
        raise LimitError("image.limit", f"metafile has more than {max_records} records")
    return count + 1


def _rebuild_emf(data: bytes, max_records: int, removed: Counter[str]) -> bytes:
    if len(data) < _EMF_BASE_HEADER.size:
        raise _malformed("EMF header is truncated")
    (_, header_size, bounds_and_frame, _, _, _, _, handles, _, n_desc, off_desc, _, device_sizes) = (
        _EMF_BASE_HEADER.unpack_from(data)
    )
    if header_size < _EMF_BASE_HEADER.size or header_size % 4:
        raise _malformed(f"EMF header of {header_size} bytes")
    if header_size > len(data):
        raise _malformed("EMF header runs past the end")
    if n_desc:
        removed[DESCRIPTION] += 1
    if header_size >= 100 and (n_desc == 0 or off_desc >= 100) and int.from_bytes(data[88:92], "little"):
        removed[OPENGL] += 1  # a pixel format descriptor in the header extension
    kept: list[bytes] = []
    pos, count, needed_handles = header_size, 0, 1
    while True:
        if pos + _EMF_RECORD.size > len(data):
            raise _malformed("no EMR_EOF record")
        record_type, size = _EMF_RECORD.unpack_from(data, pos)
        if size < _EMF_RECORD.size or size % 4 or pos + size > len(data):
            raise _malformed(f"record 0x{record_type:X} at offset {pos} declares {size} bytes")
        count = _count_record(count, max_records)
        record, pos = data[pos : pos + size], pos + size
        if record_type == _EMR_EOF:
            break
        problem = _emf_problem(record_type, record)
        if problem is not None:
            removed[problem] += 1
            continue
        if record_type in _EMF_CREATES and size >= 12:
            needed_handles = max(needed_handles, int.from_bytes(record[8:12], "little") + 1)
        kept.append(record)
    if pos < len(data):
        removed[TRAILING_DATA] += 1
    if handles < needed_handles:
        handles = min(needed_handles, 0xFFFF)
    millimeters = struct.unpack_from("<ii", device_sizes, 8)
    micrometers = (max(_INT32[0], min(_INT32[1], mm * 1000)) for mm in millimeters)
    body = b"".join(kept)
    total = _EMF_NEW_HEADER.size + len(body) + len(_EMF_NEW_EOF)
    header = _EMF_NEW_HEADER.pack(
        _EMR_HEADER, _EMF_NEW_HEADER.size, bounds_and_frame, _EMF_SIGNATURE, 0x10000, total,
        len(kept) + 2, handles, 0, 0, 0, 0, device_sizes, 0, 0, 0, *micrometers,
    )  # fmt: skip
    return header + body + _EMF_NEW_EOF


def _emf_problem(record_type: int, record: bytes) -> str | None:
    """Why an EMF record is left out, or None to keep it."""
    if record_type in _EMF_KEEP:
        return None
    fields = _EMF_BITMAP_FIELDS.get(record_type)
    if fields is None:
        return _EMF_DROP.get(record_type, UNKNOWN_RECORD)
    for at in fields:
        if len(record) < at + 16:
            return INVALID_BITMAP
        off_bmi, cb_bmi, off_bits, cb_bits = struct.unpack_from("<4I", record, at)
        if cb_bmi == 0 and cb_bits == 0:
            continue  # a raster operation without a source bitmap
        inside = at + 16 <= off_bmi and off_bmi + cb_bmi <= len(record)
        if not (inside and at + 16 <= off_bits and off_bits + cb_bits <= len(record)):
            return INVALID_BITMAP
        problem = _dib_problem(record[off_bmi : off_bmi + cb_bmi])
        if problem is not None:
            return problem
    return None


def _rebuild_wmf(data: bytes, start: int, max_records: int, removed: Counter[str]) -> bytes:
    if len(data) < start + _WMF_HEADER.size:
        raise _malformed("WMF header is truncated")
    _, _, version, _, objects, _, _ = _WMF_HEADER.unpack_from(data, start)
    if version not in _WMF_VERSIONS:
        raise _malformed(f"WMF version 0x{version:04X}")
    placeable = _placeable_header(data) if start else b""
    kept: list[bytes] = []
    pos, count, creates = start + _WMF_HEADER.size, 0, 0
    while True:
        if pos + _WMF_RECORD.size > len(data):
            raise _malformed("no META_EOF record")
        words, function = _WMF_RECORD.unpack_from(data, pos)
        if words < 3 or pos + 2 * words > len(data):
            raise _malformed(f"record 0x{function:04X} at offset {pos} declares {words} words")
        count = _count_record(count, max_records)
        record, pos = data[pos : pos + 2 * words], pos + 2 * words
        if function == _META_EOF:
            break
        problem = _wmf_problem(function, words, record)
        if problem is not None:
            removed[problem] += 1
            if function != _META_DIBCREATEPATTERNBRUSH:
                continue
            record = _WMF_NULL_BRUSH
        creates += function in _WMF_CREATES
        kept.append(record)
    if pos < len(data):
        removed[TRAILING_DATA] += 1
    if objects < creates:
        objects = min(creates, 0xFFFF)  # enough for every object to exist at once
    kept.append(_WMF_NEW_EOF)
    body = b"".join(kept)
    largest = max(len(record) // 2 for record in kept)
    size_words = (_WMF_HEADER.size + len(body)) // 2
    header = _WMF_HEADER.pack(1, 9, version, size_words, objects, largest, 0)
    return placeable + header + body


def _placeable_header(data: bytes) -> bytes:
    """A new placeable header with the input's bounding box and units per inch."""
    _, _, *box, inch, _, _ = _PLACEABLE.unpack_from(data)
    if inch == 0:
        raise _malformed("placeable header with 0 units per inch")
    header = _PLACEABLE.pack(_PLACEABLE_KEY, 0, *box, inch, 0, 0)
    checksum = 0
    for (word,) in struct.iter_unpack("<H", header[:20]):
        checksum ^= word
    return header[:20] + checksum.to_bytes(2, "little")


def _wmf_problem(function: int, words: int, record: bytes) -> str | None:
    """Why a WMF record is left out, or None to keep it."""
    if function in _WMF_KEEP:
        return None
    if function == _META_ESCAPE:
        return ESCAPE
    dib_at = _WMF_DIB_AT.get(function)
    if dib_at is None:
        return UNKNOWN_RECORD
    if function in _WMF_OPTIONAL_DIB and words == (function >> 8) + 3:
        return None
    return _dib_problem(record[dib_at:])


def _dib_problem(untrusted_header: bytes) -> str | None:
    """Why a DIB cannot be kept (compressed file, linked profile, unknown header), or None."""
    if len(untrusted_header) < 4:
        return INVALID_BITMAP
    header_size = int.from_bytes(untrusted_header[:4], "little")
    if header_size == _CORE_HEADER and len(untrusted_header) >= _CORE_HEADER:
        return None
    if header_size not in _INFO_HEADERS or len(untrusted_header) < header_size:
        return INVALID_BITMAP
    if int.from_bytes(untrusted_header[16:20], "little") not in _RAW_COMPRESSIONS:
        return COMPRESSED_BITMAP
    if (
        header_size >= 108
        and int.from_bytes(untrusted_header[56:60], "little") in _PROFILE_LINKED_OR_EMBEDDED
    ):
        return COLOR_PROFILE
    return None
