"""rebuild_metafile: EMF and WMF files are built here with struct, and outputs are re-read
with a record walker written for the tests (not the module's own) and with Pillow."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from sanitizers.errors import LimitError, MalformedError
from sanitizers.images.metafile import RebuiltMetafile, is_metafile, rebuild_metafile

PAYLOAD = b"MZ\x90\x00PAYLOAD-7c1e"  # planted in every removed construct; must never reach an output
PNG_FILE = b"\x89PNG\r\n\x1a\n" + PAYLOAD + b"\x00" * 3
JPEG_FILE = b"\xff\xd8\xff\xe0" + PAYLOAD + b"\x00" * 3

# EMF record types ([MS-EMF] 2.1.1)
EMR_HEADER, EMR_EOF, EMR_SETWINDOWEXTEX, EMR_RECTANGLE = 1, 14, 9, 43
EMR_CREATEBRUSHINDIRECT, EMR_SELECTOBJECT, EMR_COMMENT, EMR_STRETCHDIBITS = 39, 37, 70, 81
EMR_EXTTEXTOUTW, EMR_GLSRECORD, EMR_EXTESCAPE, EMR_SETICMPROFILEW = 84, 102, 106, 113
EMR_CREATEDIBPATTERNBRUSHPT, EMR_COLORMATCHTOTARGETW, EMR_NAMEDESCAPE = 94, 121, 110
# WMF functions ([MS-WMF] 2.1.1.1)
META_EOF, META_SETWINDOWEXT, META_RECTANGLE, META_ESCAPE = 0x0000, 0x020C, 0x041B, 0x0626
META_CREATEBRUSHINDIRECT, META_SELECTOBJECT, META_STRETCHDIB = 0x02FC, 0x012D, 0x0F43
META_DIBCREATEPATTERNBRUSH, META_DIBBITBLT = 0x0142, 0x0940
BI_RGB, BI_JPEG, BI_PNG = 0, 4, 5
SETABORTPROC = 0x0009


# --- builders -----------------------------------------------------------------------------


def emr(record_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("<II", record_type, 8 + len(body)) + body


def emf(
    records: list[bytes], *, n_records: int | None = None, n_handles: int = 2, description: str = ""
) -> bytes:
    """A 88-byte header (plus a description), the records, EMR_EOF."""
    text = description.encode("utf-16-le")
    text += b"\x00" * (-len(text) % 4)
    eof = emr(EMR_EOF, struct.pack("<III", 0, 16, 20))
    size = 88 + len(text) + sum(map(len, records)) + len(eof)
    header = struct.pack(
        "<II4i4iIIIIHHIII2i2i",
        EMR_HEADER, 88 + len(text), 0, 0, 99, 49, 0, 0, 2646, 1323, 0x464D4520, 0x10000, size,
        len(records) + 2 if n_records is None else n_records, n_handles, 0,
        len(description), 88 if description else 0, 0, 1920, 1080, 508, 286,
    )  # fmt: skip
    return header + text + b"".join(records) + eof


def bitmap_info(compression: int = BI_RGB, *, header_size: int = 40, cs_type: int = 0) -> bytes:
    """A 2x2 32-bit BITMAPINFOHEADER (or V5 header when header_size is 124)."""
    bit_count = 0 if compression in (BI_JPEG, BI_PNG) else 32
    info = struct.pack("<IiiHHIIiiII", header_size, 2, 2, 1, bit_count, compression, 0, 0, 0, 0, 0)
    if header_size == 124:
        info += struct.pack("<4II", 0, 0, 0, 0, cs_type) + b"\x00" * (124 - 60)
    return info


PIXELS = b"\x00\x00\xff\x00" * 4


def stretchdibits(info: bytes | None = None, bits: bytes = PIXELS, *, off_bits: int | None = None) -> bytes:
    info = bitmap_info() if info is None else info
    fixed = 80
    offsets = struct.pack(
        "<IIII", fixed, len(info), fixed + len(info) if off_bits is None else off_bits, len(bits)
    )
    body = (
        struct.pack("<4i6i", 0, 0, 1, 1, 0, 0, 0, 0, 2, 2) + offsets + struct.pack("<II2i", 0, 0xCC0020, 2, 2)
    )
    return emr(EMR_STRETCHDIBITS, body + info + bits)


def dib_pattern_brush(info: bytes) -> bytes:
    fixed = 32
    return emr(
        EMR_CREATEDIBPATTERNBRUSHPT,
        struct.pack("<6I", 1, 0, fixed, len(info), fixed + len(info), len(PIXELS)) + info + PIXELS,
    )


def emf_drawing() -> list[bytes]:
    text = "図".encode("utf-16-le")
    exttextout = struct.pack("<4iIff", 0, 0, 10, 10, 1, 1.0, 1.0) + struct.pack(
        "<2iIII4iI", 1, 1, len(text) // 2, 76, 0, 0, 0, 10, 10, 80
    )
    return [
        emr(EMR_SETWINDOWEXTEX, struct.pack("<ii", 100, 50)),
        emr(EMR_CREATEBRUSHINDIRECT, struct.pack("<IIII", 1, 0, 0x0000FF, 0)),
        emr(EMR_SELECTOBJECT, struct.pack("<I", 1)),
        emr(EMR_RECTANGLE, struct.pack("<4i", 10, 10, 90, 40)),
        stretchdibits(),
        emr(EMR_EXTTEXTOUTW, exttextout + text + b"\x00\x00" + struct.pack("<I", 8)),
    ]


def wmr(function: int, params: bytes) -> bytes:
    params += b"\x00" * (len(params) % 2)
    return struct.pack("<IH", 3 + len(params) // 2, function) + params


def wmf(records: list[bytes], *, placeable: bool = False, objects: int = 1, size: int | None = None) -> bytes:
    eof = wmr(META_EOF, b"")
    body = b"".join(records) + eof
    words = (18 + len(body)) // 2 if size is None else size
    largest = max(len(r) // 2 for r in [*records, eof])
    header = struct.pack("<HHHIHIH", 1, 9, 0x0300, words, objects, largest, 0)
    if not placeable:
        return header + body
    box = struct.pack("<IH4hHI", 0x9AC6CDD7, 0, 0, 0, 1440, 720, 1440, 0)
    checksum = 0
    for (word,) in struct.iter_unpack("<H", box):
        checksum ^= word
    return box + struct.pack("<H", checksum) + header + body


def wmf_drawing() -> list[bytes]:
    return [
        wmr(META_SETWINDOWEXT, struct.pack("<hh", 720, 1440)),
        wmr(META_CREATEBRUSHINDIRECT, struct.pack("<HIH", 0, 0x0000FF, 0)),
        wmr(META_SELECTOBJECT, struct.pack("<H", 0)),
        wmr(META_RECTANGLE, struct.pack("<4h", 700, 1400, 20, 20)),
        stretchdib(bitmap_info()),
    ]


def stretchdib(info: bytes, bits: bytes = PIXELS) -> bytes:
    return wmr(META_STRETCHDIB, struct.pack("<IH8h", 0xCC0020, 0, 2, 2, 0, 0, 2, 2, 0, 0) + info + bits)


# --- independent readers ------------------------------------------------------------------


def emf_records(data: bytes) -> list[tuple[int, bytes]]:
    """(type, whole record) for every record; the header must account for every byte."""
    records, pos = [], 0
    while pos < len(data):
        record_type, size = struct.unpack_from("<II", data, pos)
        assert size >= 8 and size % 4 == 0 and pos + size <= len(data)
        records.append((record_type, data[pos : pos + size]))
        pos += size
    n_bytes, n_records = struct.unpack_from("<II", data, 48)
    assert records[0][0] == EMR_HEADER and records[-1][0] == EMR_EOF
    assert data[40:44] == b" EMF" and n_bytes == len(data) and n_records == len(records)
    return records


def wmf_records(data: bytes) -> list[tuple[int, bytes]]:
    """(function, whole record) after the header(s); the header's sizes must be right."""
    if data[:4] == b"\xd7\xcd\xc6\x9a":
        checksum = 0
        for (word,) in struct.iter_unpack("<H", data[:20]):
            checksum ^= word
        assert struct.unpack_from("<H", data, 20)[0] == checksum
        data = data[22:]
    kind, header_words, _, size_words, _, max_record, _ = struct.unpack_from("<HHHIHIH", data)
    assert (kind, header_words, size_words * 2) == (1, 9, len(data))
    records, pos = [], 18
    while pos < len(data):
        words, function = struct.unpack_from("<IH", data, pos)
        assert words >= 3 and pos + 2 * words <= len(data)
        records.append((function, data[pos : pos + 2 * words]))
        pos += 2 * words
    assert records[-1] == (META_EOF, b"\x03\x00\x00\x00\x00\x00")
    assert max_record == max(len(record) // 2 for _, record in records)
    return records


def rebuilt(data: bytes) -> RebuiltMetafile:
    result = rebuild_metafile(data)
    assert PAYLOAD not in result.data
    return result


# --- benign files survive -----------------------------------------------------------------


def test_emf_drawing_records_survive_in_order() -> None:
    drawing = emf_drawing()
    result = rebuilt(emf(drawing))
    records = emf_records(result.data)
    assert [record for _, record in records[1:-1]] == drawing
    assert result.removed == {}


@pytest.mark.parametrize("placeable", [False, True])
def test_wmf_drawing_records_survive_in_order(placeable: bool) -> None:
    drawing = wmf_drawing()
    result = rebuilt(wmf(drawing, placeable=placeable))
    assert [record for _, record in wmf_records(result.data)[:-1]] == drawing
    assert result.removed == {}


def test_a_rebuilt_file_rebuilds_to_itself() -> None:
    for data in (emf(emf_drawing()), wmf(wmf_drawing()), wmf(wmf_drawing(), placeable=True)):
        once = rebuild_metafile(data)
        twice = rebuild_metafile(once.data)
        assert twice.data == once.data and twice.removed == {}


def test_pillow_reads_the_new_headers() -> None:
    with Image.open(io.BytesIO(rebuilt(emf(emf_drawing())).data), formats=["WMF"]) as image:
        assert image.info["wmf_bbox"] == (0, 0, 99, 49)
    with Image.open(io.BytesIO(rebuilt(wmf(wmf_drawing(), placeable=True)).data), formats=["WMF"]) as image:
        assert image.info["wmf_bbox"] == (0, 0, 1440, 720)
        assert image.size == (72, 36)


def test_is_metafile_checks_the_signature_only() -> None:
    assert is_metafile(emf([])) and is_metafile(wmf([])) and is_metafile(wmf([], placeable=True))
    assert not is_metafile(b"\x89PNG\r\n\x1a\n") and not is_metafile(b"") and not is_metafile(PAYLOAD)


# --- attacks are removed ------------------------------------------------------------------


def test_emf_data_after_eof_is_gone() -> None:
    result = rebuilt(emf(emf_drawing()) + PAYLOAD * 100)
    assert result.removed == {"metafile.trailing_data": 1}
    assert len(emf_records(result.data)) == 8


def test_wmf_data_after_eof_is_gone() -> None:
    result = rebuilt(wmf(wmf_drawing(), placeable=True) + PAYLOAD)
    assert result.removed == {"metafile.trailing_data": 1}
    assert len(wmf_records(result.data)) == 6


def test_emf_comments_are_removed_and_drawing_stays() -> None:
    emf_plus = emr(EMR_COMMENT, struct.pack("<I", 4 + len(PAYLOAD)) + b"EMF+" + PAYLOAD)
    private = emr(EMR_COMMENT, struct.pack("<I", len(PAYLOAD)) + PAYLOAD)
    public = emr(EMR_COMMENT, struct.pack("<I", 8 + len(PAYLOAD)) + b"GDIC" + struct.pack("<I", 2) + PAYLOAD)
    drawing = emf_drawing()
    result = rebuilt(emf([emf_plus, *drawing[:3], private, *drawing[3:], public]))
    assert result.removed == {"metafile.comment": 3}
    assert [record for _, record in emf_records(result.data)[1:-1]] == drawing


@pytest.mark.parametrize(
    ("record", "construct"),
    [
        (emr(EMR_EXTESCAPE, struct.pack("<I", len(PAYLOAD)) + PAYLOAD), "metafile.escape"),
        (emr(EMR_NAMEDESCAPE, struct.pack("<II", 2, len(PAYLOAD)) + b"A\x00" + PAYLOAD), "metafile.escape"),
        (emr(EMR_GLSRECORD, struct.pack("<I", len(PAYLOAD)) + PAYLOAD), "metafile.opengl"),
        (
            emr(
                EMR_SETICMPROFILEW,
                struct.pack("<III", 0, 0, 0) + "\\\\host\\share\\".encode("utf-16-le") + PAYLOAD,
            ),
            "metafile.color_profile",
        ),
        (
            emr(EMR_COLORMATCHTOTARGETW, struct.pack("<IIII", 1, 1, 0, len(PAYLOAD)) + PAYLOAD),
            "metafile.color_profile",
        ),
        (emr(0x45, PAYLOAD), "metafile.unknown_record"),
        (emr(0x7FFFFFFF, PAYLOAD), "metafile.unknown_record"),
        (emr(EMR_HEADER, PAYLOAD), "metafile.unknown_record"),
    ],
)
def test_emf_records_that_do_not_draw_are_removed(record: bytes, construct: str) -> None:
    drawing = emf_drawing()
    result = rebuilt(emf([*drawing[:2], record, *drawing[2:]]))
    assert result.removed == {construct: 1}
    assert [record for _, record in emf_records(result.data)[1:-1]] == drawing


@pytest.mark.parametrize("compression", [BI_JPEG, BI_PNG])
def test_emf_bitmap_holding_a_compressed_file_is_removed(compression: int) -> None:
    blob = JPEG_FILE if compression == BI_JPEG else PNG_FILE
    result = rebuilt(
        emf([stretchdibits(bitmap_info(compression), blob), dib_pattern_brush(bitmap_info(compression))])
    )
    assert result.removed == {"metafile.compressed_bitmap": 2}
    assert [t for t, _ in emf_records(result.data)] == [EMR_HEADER, EMR_EOF]


def test_emf_bitmap_outside_its_record_is_removed() -> None:
    beyond, over_the_fields = stretchdibits(off_bits=4096), stretchdibits(off_bits=8)
    result = rebuilt(emf([beyond, over_the_fields, stretchdibits(bitmap_info(header_size=7))]))
    assert result.removed == {"metafile.invalid_bitmap": 3}


@pytest.mark.parametrize(("cs_type", "kept"), [(b"LINK", False), (b"MBED", False), (b"sRGB", True)])
def test_emf_bitmap_with_a_linked_or_embedded_profile_is_removed(cs_type: bytes, kept: bool) -> None:
    info = bitmap_info(header_size=124, cs_type=int.from_bytes(cs_type, "big"))
    result = rebuilt(emf([stretchdibits(info)]))
    assert result.removed == ({} if kept else {"metafile.color_profile": 1})


def test_emf_bitblt_without_a_source_bitmap_is_kept() -> None:
    bitblt = emr(
        76, struct.pack("<4i4iI2i6fII4I", *[0] * 8, 0xF00021, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)
    )
    assert [t for t, _ in emf_records(rebuilt(emf([bitblt])).data)] == [EMR_HEADER, 76, EMR_EOF]


def test_emf_description_is_not_copied() -> None:
    result = rebuilt(emf(emf_drawing(), description="PAYLOAD-7c1e\x00Secret plan\x00"))
    assert result.removed == {"metafile.description": 1}
    assert "Secret".encode("utf-16-le") not in result.data and struct.unpack_from("<I", result.data, 60) == (
        0,
    )


@pytest.mark.parametrize(("claimed", "written"), [(5, 5), (0, 2), (1, 2)])
def test_emf_handle_count_is_kept_when_it_covers_the_objects(claimed: int, written: int) -> None:
    result = rebuilt(emf(emf_drawing(), n_handles=claimed))
    assert struct.unpack_from("<H", result.data, 56) == (written,)


def test_emf_header_claims_are_not_trusted() -> None:
    data = bytearray(emf(emf_drawing(), n_records=0xFFFFFFFF))
    data[48:52] = b"\xff\xff\xff\xff"  # nBytes
    result = rebuilt(bytes(data))
    assert len(emf_records(result.data)) == 8


def test_wmf_escape_setabortproc_is_removed() -> None:
    escape = wmr(META_ESCAPE, struct.pack("<HH", SETABORTPROC, len(PAYLOAD)) + PAYLOAD)
    comment = wmr(META_ESCAPE, struct.pack("<HH", 0x000F, 4 + len(PAYLOAD)) + b"WMFC" + PAYLOAD)
    drawing = wmf_drawing()
    result = rebuilt(wmf([escape, *drawing, comment]))
    assert result.removed == {"metafile.escape": 2}
    assert [record for _, record in wmf_records(result.data)[:-1]] == drawing


@pytest.mark.parametrize("function", [0x0626 | 0x0100, 0x062F, 0x1234, 0x0000 | 0x0300])
def test_wmf_unknown_functions_are_removed(function: int) -> None:
    result = rebuilt(wmf([*wmf_drawing(), wmr(function, PAYLOAD)]))
    assert result.removed == {"metafile.unknown_record": 1}


@pytest.mark.parametrize("compression", [BI_JPEG, BI_PNG])
def test_wmf_bitmap_holding_a_compressed_file_is_removed(compression: int) -> None:
    blob = JPEG_FILE if compression == BI_JPEG else PNG_FILE
    result = rebuilt(wmf([*wmf_drawing(), stretchdib(bitmap_info(compression), blob)]))
    assert result.removed == {"metafile.compressed_bitmap": 1}
    assert [record for _, record in wmf_records(result.data)[:-1]] == wmf_drawing()


def test_wmf_pattern_brush_is_replaced_so_objects_keep_their_numbers() -> None:
    brush = wmr(META_DIBCREATEPATTERNBRUSH, struct.pack("<HH", 5, 0) + bitmap_info(BI_PNG) + PNG_FILE)
    result = rebuilt(wmf([brush, *wmf_drawing()], objects=1))
    functions = [function for function, _ in wmf_records(result.data)]
    assert functions[:2] == [META_CREATEBRUSHINDIRECT, META_SETWINDOWEXT]
    assert result.removed == {"metafile.compressed_bitmap": 1}
    assert struct.unpack_from("<H", result.data, 10) == (2,)  # NumberOfObjects covers both


def test_wmf_dibbitblt_without_a_bitmap_is_kept() -> None:
    no_bitmap = wmr(META_DIBBITBLT, struct.pack("<I7h", 0xF00021, 0, 0, 0, 2, 2, 0, 0))
    assert [function for function, _ in wmf_records(rebuilt(wmf([no_bitmap])).data)] == [
        META_DIBBITBLT,
        META_EOF,
    ]


def test_wmf_header_claims_are_not_trusted() -> None:
    result = rebuilt(wmf(wmf_drawing(), size=0xFFFFFFFF, objects=0))
    assert len(wmf_records(result.data)) == 6
    assert struct.unpack_from("<H", result.data, 10) == (1,)


# --- malformed input is refused -----------------------------------------------------------


def _malformed_emfs() -> list[bytes]:
    good = emf(emf_drawing())
    rectangle_at = 88 + sum(map(len, emf_drawing()[:3]))
    cases = []
    for size in (0, 4, 26, 1 << 20):
        data = bytearray(good)
        data[rectangle_at + 4 : rectangle_at + 8] = struct.pack("<I", size)
        cases.append(bytes(data))
    cases.append(good[:-20])  # no EMR_EOF
    cases.append(good[:80])
    header_too_long = bytearray(good)
    header_too_long[4:8] = struct.pack("<I", len(good) + 4)
    cases.append(bytes(header_too_long))
    return cases


@pytest.mark.parametrize("data", _malformed_emfs())
def test_malformed_emf_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedError) as caught:
        rebuild_metafile(data)
    assert caught.value.code == "image.malformed"


def _malformed_wmfs() -> list[bytes]:
    good = wmf(wmf_drawing())
    cases = []
    for words in (0, 2, 1 << 20):
        data = bytearray(good)
        data[18:22] = struct.pack("<I", words)
        cases.append(bytes(data))
    cases.append(good[:-6])  # no META_EOF
    bad_version = bytearray(good)
    bad_version[4:6] = b"\x00\x02"
    cases.append(bytes(bad_version))
    no_inch = bytearray(wmf(wmf_drawing(), placeable=True))
    no_inch[14:16] = b"\x00\x00"
    cases.append(bytes(no_inch))
    return cases


@pytest.mark.parametrize("data", _malformed_wmfs())
def test_malformed_wmf_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedError):
        rebuild_metafile(data)


def test_not_a_metafile_is_refused() -> None:
    with pytest.raises(MalformedError):
        rebuild_metafile(b"\x89PNG\r\n\x1a\n" + PAYLOAD)


def test_too_many_records_hit_the_limit() -> None:
    many = [emr(EMR_RECTANGLE, struct.pack("<4i", 0, 0, 1, 1))] * 50
    assert len(emf_records(rebuild_metafile(emf(many), max_records=51).data)) == 52
    with pytest.raises(LimitError):
        rebuild_metafile(emf(many), max_records=50)
    with pytest.raises(LimitError):
        rebuild_metafile(wmf([wmr(META_RECTANGLE, struct.pack("<4h", 1, 1, 0, 0))] * 50), max_records=50)
