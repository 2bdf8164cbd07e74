""".xls pictures are rebuilt where they lie, in the drawing group joined from the records
it is split over; nothing drawable is left anywhere else in the workbook.

The attacks start from a workbook LibreOffice writes from a spreadsheet holding a PNG and
a JPEG (it stores them byte for byte, in a drawing group split over an MSODRAWINGGROUP
record and two CONTINUE records, each picture across a record boundary): a picture's bytes
are replaced, in the joined drawing group and keeping every record's size, by a smaller
image followed by a ZIP holding an executable.  Outputs are read back with olefile and
walkers written here (the BIFF records, the drawing group joined again, the blip store
walked from its container down), never with the sanitiser's own, and printed by
LibreOffice.  Hand-made workbooks cover what LibreOffice does not write: header and footer
pictures (HFPicture), a drawing group continued by MSODRAWINGGROUP records, and pictures
or picture records outside any drawing group.
"""

from __future__ import annotations

import base64
import io
import itertools
import random
import struct
from pathlib import Path

import pytest
from PIL import Image

from sanitizers.base import Limits
from sanitizers.convert import soffice_path
from sanitizers.errors import PolicyError, VerifyError
from sanitizers.ole import OleRebuild, rebuild
from sanitizers.ole.cfb_writer import write_compound_file
from sanitizers.ole.excel import NEUTRAL_RECORD, OBPROJ
from tests.conftest import CORPUS
from tests.sanitizers.contract import fell_back_to_pdf
from tests.sanitizers.pictures import (
    assert_clean_picture_in_place,
    encoded,
    image_end,
    payload_markers,
    same_pixels,
    two_colour_image,
    zipped_executable,
)
from tests.sanitizers.test_ole import (
    EXCEL_CLSID,
    biff,
    ppt_atom,
    ppt_container,
    refusal,
    sanitize,
    workbook,
    write,
)
from tests.sanitizers.test_ole_excel_links import libreoffice, ob_free_workbook, walk
from tests.sanitizers.test_ole_pictures import (
    BLIP_TYPES,
    assert_no_payload,
    assert_pictures_rebuilt_in_place,
    blip,
    fbse,
    pdf_images,
    sanitized,
    smaller_with_payload,
    streams_and_clsid,
)

MSODRAWINGGROUP, MSODRAWING, CONTINUE, OBJ = 0x00EB, 0x00EC, 0x003C, 0x005D
HFPICTURE, BKHIM, IMDATA = 0x0866, 0x00E9, 0x007F
MAX_DATA = 8224  # the most data a BIFF8 record holds


def noise(seed: int, size: tuple[int, int]) -> Image.Image:
    """Pixels that do not compress: pictures large enough to be split over records."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


PNG_IMAGE, JPEG_IMAGE = noise(1, (64, 48)), noise(2, (96, 64))
PNG_IN_WORKBOOK = encoded(PNG_IMAGE, "PNG")
JPEG_IN_WORKBOOK = encoded(JPEG_IMAGE, "JPEG", quality=95)


def flat_spreadsheet() -> str:
    """A spreadsheet with a PNG and a JPEG on its sheet, and a cell of text."""
    frames = "".join(
        f'<draw:frame svg:x="{x}cm" svg:y="1cm" svg:width="4cm" svg:height="3cm"><draw:image>'
        f"<office:binary-data>{base64.b64encode(picture).decode()}</office:binary-data></draw:image></draw:frame>"
        for x, picture in ((1, PNG_IN_WORKBOOK), (6, JPEG_IN_WORKBOOK))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><office:document '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2" '
        'office:mimetype="application/vnd.oasis.opendocument.spreadsheet"><office:body><office:spreadsheet>'
        f'<table:table table:name="Sheet1"><table:shapes>{frames}</table:shapes><table:table-row>'
        '<table:table-cell office:value-type="string"><text:p>見積書</text:p></table:table-cell>'
        "</table:table-row></table:table></office:spreadsheet></office:body></office:document>"
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed; `make test` installs it")
    work = tmp_path_factory.mktemp("libreoffice")
    (work / "pictures.fods").write_text(flat_spreadsheet(), encoding="utf-8")
    return libreoffice(work / "pictures.fods", "xls", work)


# ── reading and patching the drawing group ──────────────────────────────────────────


def drawing_group(stream: bytes) -> tuple[bytes, list[tuple[int, int]]]:
    """The workbook's drawing group joined from its first MSODRAWINGGROUP record and the
    MSODRAWINGGROUP and CONTINUE records right after it; the (start, end) of each piece."""
    pieces: list[tuple[int, int]] = []
    for offset, record_type, data in walk(stream):
        if record_type == MSODRAWINGGROUP or (pieces and record_type == CONTINUE):
            pieces.append((offset + 4, offset + 4 + len(data)))
        elif pieces:
            break
    return b"".join(stream[start:end] for start, end in pieces), pieces


def with_joined(stream: bytes, pieces: list[tuple[int, int]], joined: bytes) -> bytes:
    """``stream`` with ``joined`` written back into ``pieces``, each its share."""
    out = bytearray(stream)
    shares = itertools.accumulate((end - start for start, end in pieces), initial=0)
    for (start, end), at in zip(pieces, shares, strict=False):
        out[start:end] = joined[at : at + end - start]
    assert len(joined) == sum(end - start for start, end in pieces)
    return bytes(out)


def blip_pictures(drawing: bytes) -> list[tuple[str, int, int]]:
    """(kind, start, end) of the picture of each BLIP the blip store holds, walked from the
    OfficeArtDggContainer down: its blip store, each FBSE, the BLIP after the FBSE's name."""
    _version, record_type, length = struct.unpack_from("<HHI", drawing)
    assert record_type == 0xF000 and 8 + length == len(drawing)
    found = []
    pos = 8
    while pos < len(drawing):
        _version, record_type, length = struct.unpack_from("<HHI", drawing, pos)
        entry = pos + 8
        while record_type == 0xF001 and entry < pos + 8 + length:
            _version, entry_type, entry_length = struct.unpack_from("<HHI", drawing, entry)
            assert entry_type == 0xF007
            at = entry + 8 + 36 + drawing[entry + 8 + 33]  # the FBSE's fixed part, then its name
            instance, blip_type, blip_length = struct.unpack_from("<HHI", drawing, at)
            kind = BLIP_TYPES[blip_type][0]
            ids = 16 * (1 + (instance >> 4 & 1))
            found.append((kind, at + 8 + ids + (0 if kind in ("emf", "wmf") else 1), at + 8 + blip_length))
            entry += 8 + entry_length
        pos += 8 + length
    return found


def with_workbook(src: Path, dst: Path, stream: bytes) -> Path:
    tree, clsid = streams_and_clsid(src)
    write_compound_file(dst, clsid, {**tree, "Workbook": stream})
    return dst


def workbook_of(path: Path) -> bytes:
    return streams_and_clsid(path)[0]["Workbook"]


def record_sizes(stream: bytes) -> list[tuple[int, int]]:
    return [(record_type, len(data)) for _, record_type, data in walk(stream)]


def outside(stream: bytes, pieces: list[tuple[int, int]]) -> bytes:
    """``stream`` with the pieces zeroed: what must not change when only they may."""
    return with_joined(stream, pieces, bytes(sum(end - start for start, end in pieces)))


# ── a workbook written by LibreOffice ───────────────────────────────────────────────


@pytest.mark.slow
def test_libreoffice_splits_both_pictures_over_records(written: Path) -> None:
    drawing, pieces = drawing_group(workbook_of(written))
    assert [end - start for start, end in pieces][:2] == [MAX_DATA, MAX_DATA] and len(pieces) == 3
    (png_kind, *png), (jpeg_kind, *jpeg) = blip_pictures(drawing)
    assert (png_kind, jpeg_kind) == ("png", "jpeg")
    assert drawing[slice(*png)] == PNG_IN_WORKBOOK and drawing[slice(*jpeg)] == JPEG_IN_WORKBOOK
    assert png[0] < MAX_DATA < png[1] and jpeg[0] < 2 * MAX_DATA < jpeg[1]


def attacked(written: Path, dst: Path) -> tuple[Path, Image.Image, Image.Image]:
    """``written`` with each picture replaced by a smaller image and a payload behind it,
    in the joined drawing group; the two images."""
    before = workbook_of(written)
    drawing, pieces = drawing_group(before)
    (_, *png), (_, *jpeg) = blip_pictures(drawing)
    hidden_png, png_image = smaller_with_payload(png[1] - png[0], "png")
    hidden_jpeg, jpeg_image = smaller_with_payload(jpeg[1] - jpeg[0], "jpeg")
    changed = bytearray(drawing)
    changed[slice(*png)], changed[slice(*jpeg)] = hidden_png, hidden_jpeg
    assert all(marker in changed for marker in payload_markers())
    return with_workbook(written, dst, with_joined(before, pieces, bytes(changed))), png_image, jpeg_image


@pytest.mark.slow
def test_payloads_hidden_in_xls_pictures_are_gone_and_the_pictures_stay(
    written: Path, tmp_path: Path
) -> None:
    before = workbook_of(written)
    drawing, pieces = drawing_group(before)
    (_, *png), (_, *jpeg) = blip_pictures(drawing)
    src, png_image, jpeg_image = attacked(written, tmp_path / "attack.xls")

    dst, removed = sanitized(src)

    out = workbook_of(dst)
    assert record_sizes(out) == record_sizes(before)
    assert outside(out, pieces) == outside(before, pieces)
    rebuilt, out_pieces = drawing_group(out)
    assert out_pieces == pieces and blip_pictures(rebuilt) == [("png", *png), ("jpeg", *jpeg)]
    assert rebuilt[: png[0]] == drawing[: png[0]] and rebuilt[png[1] : jpeg[0]] == drawing[png[1] : jpeg[0]]
    assert rebuilt[jpeg[1] :] == drawing[jpeg[1] :]
    assert same_pixels(assert_clean_picture_in_place(rebuilt[slice(*png)], "png"), png_image)
    assert same_pixels(assert_clean_picture_in_place(rebuilt[slice(*jpeg)], "jpeg"), jpeg_image, 8)
    assert not any(marker in rebuilt for marker in payload_markers())
    assert_no_payload(dst)
    assert removed["image.trailing_data"] == 2
    assert pdf_images(dst, tmp_path / "out") == pdf_images(written, tmp_path / "in") == 2


@pytest.mark.slow
def test_pictures_keep_their_pixels(written: Path, tmp_path: Path) -> None:
    dst, _ = sanitized(with_workbook(written, tmp_path / "plain.xls", workbook_of(written)))
    rebuilt, _ = drawing_group(workbook_of(dst))
    (_, *png), (_, *jpeg) = blip_pictures(rebuilt)
    assert same_pixels(assert_clean_picture_in_place(rebuilt[slice(*png)], "png"), PNG_IMAGE)
    as_sent = Image.open(io.BytesIO(JPEG_IN_WORKBOOK))
    assert same_pixels(assert_clean_picture_in_place(rebuilt[slice(*jpeg)], "jpeg"), as_sent, 10)


@pytest.mark.slow
def test_a_picture_that_does_not_decode_refuses_the_xls_and_the_next_method_takes_over(
    written: Path, tmp_path: Path
) -> None:
    before = workbook_of(written)
    drawing, pieces = drawing_group(before)
    (_, start, end), _ = blip_pictures(drawing)
    broken = b"\x89PNG\r\n\x1a\n" + zipped_executable()
    damaged = drawing[:start] + broken + bytes(end - start - len(broken)) + drawing[end:]
    src = with_workbook(written, tmp_path / "broken.xls", with_joined(before, pieces, damaged))
    assert refusal(src) == "ole.picture"
    assert fell_back_to_pdf(src, tmp_path / "scratch") == ["method.ole.picture"]


@pytest.mark.slow
def test_a_blip_store_entry_holding_no_rebuilt_picture_refuses_the_xls(written: Path, tmp_path: Path) -> None:
    before = workbook_of(written)
    drawing, pieces = drawing_group(before)
    (_, start, _), _ = blip_pictures(drawing)
    record = start - 1 - 16 - 8
    assert drawing[record : record + 4] == b"\x00\x6e\x1e\xf0"
    unknown_instance = b"\x80\x6e"  # no BLIP has it: the record is not found, its FBSE still holds it
    hidden = drawing[:record] + unknown_instance + drawing[record + 2 :]
    src = with_workbook(written, tmp_path / "hidden.xls", with_joined(before, pieces, hidden))
    assert refusal(src) == "ole.picture"


@pytest.mark.slow
def test_verification_refuses_a_picture_followed_by_data(written: Path, tmp_path: Path) -> None:
    dst, _ = sanitized(attacked(written, tmp_path / "attack.xls")[0])
    out = workbook_of(dst)
    rebuilt, pieces = drawing_group(out)
    (_, start, _), _ = blip_pictures(rebuilt)
    padding = start + image_end(rebuilt[start:], "png")
    assert rebuilt[padding : padding + 8] == bytes(8)
    tampered_drawing = rebuilt[:padding] + b"PK\x03\x04" + rebuilt[padding + 4 :]
    tampered = with_workbook(dst, tmp_path / "tampered.xls", with_joined(out, pieces, tampered_drawing))
    xls = next(f for f in rebuild.FORMATS if f.type_name == "xls")
    with pytest.raises(VerifyError) as caught:
        rebuild.verify_compound(tampered.read_bytes(), xls, xls.kept_streams, Limits(), "keep-web")
    assert caught.value.code == "ole.verify_failed"
    rebuild.verify_compound(dst.read_bytes(), xls, xls.kept_streams, Limits(), "keep-web")


# ── drawings built here ─────────────────────────────────────────────────────────────


def dgg_container(*blips: bytes) -> bytes:
    """An OfficeArtDggContainer: the drawing group record, a blip store of FBSEs holding
    ``blips``."""
    store = b"".join(fbse(0, len(record), record) for record in blips)
    return ppt_container(
        0xF000,
        ppt_atom(0xF006, struct.pack("<IIII", 1025, 2, 1, 1) + struct.pack("<II", 1, 1))
        + ppt_container(0xF001, store),
    )


def split(data: bytes, first: int, then: int, size: int = MAX_DATA) -> bytes:
    """``data`` as a ``first`` record and ``then`` records, ``size`` bytes of it each."""
    chunks = [data[at : at + size] for at in range(0, len(data), size)]
    return b"".join(biff(first if i == 0 else then, chunk) for i, chunk in enumerate(chunks))


def hf_pictures(drawing: bytes, size: int) -> bytes:
    """``drawing`` split over HFPicture records: the first a drawing group, the others
    continuing it (fContinue)."""
    chunks = [drawing[at : at + size] for at in range(0, len(drawing), size)]
    frt_header = struct.pack("<HH8s", HFPICTURE, 0, bytes(8))
    return b"".join(
        biff(HFPICTURE, frt_header + struct.pack("<H", 0x0002 | (0x0004 if i else 0)) + chunk)
        for i, chunk in enumerate(chunks)
    )


def png_blip_with_payload() -> tuple[bytes, Image.Image]:
    """A PNG BLIP record whose picture has a ZIP holding an executable behind it."""
    image = two_colour_image()
    return blip(0xF01E, 0x6E0, encoded(image, "PNG") + zipped_executable()), image


def only_picture(drawing: bytes) -> Image.Image:
    ((kind, start, end),) = blip_pictures(drawing)
    return assert_clean_picture_in_place(drawing[start:end], kind)


@pytest.mark.parametrize("then", [CONTINUE, MSODRAWINGGROUP], ids=["CONTINUE", "MSODRAWINGGROUP"])
def test_a_drawing_group_continued_either_way_is_rebuilt_across_its_records(
    tmp_path: Path, then: int
) -> None:
    record, image = png_blip_with_payload()
    drawing = dgg_container(record)
    size = len(drawing) // 3 + 1
    ((_, start, end),) = blip_pictures(drawing)
    assert start < size and 2 * size < end  # three records, the picture across both boundaries
    book = workbook(extra_globals=split(drawing, MSODRAWINGGROUP, then, size))
    dst, findings = sanitize(write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book}))
    out = workbook_of(dst)
    assert record_sizes(out) == record_sizes(book)
    rebuilt = b"".join(data for _, t, data in walk(out) if t in (MSODRAWINGGROUP, CONTINUE))
    assert same_pixels(only_picture(rebuilt), image)
    assert findings["image.trailing_data"] == ("removed", 1)
    assert_no_payload(dst)


def test_header_and_footer_pictures_are_rebuilt_across_their_records(tmp_path: Path) -> None:
    record, image = png_blip_with_payload()
    drawing = dgg_container(record)
    size = len(drawing) // 3 + 1
    ((_, start, end),) = blip_pictures(drawing)
    assert start < size and 2 * size < end
    book = workbook(extra_globals=hf_pictures(drawing, size))
    dst, findings = sanitize(write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book}))
    out = workbook_of(dst)
    assert record_sizes(out) == record_sizes(book)
    rebuilt = b"".join(data[14:] for _, t, data in walk(out) if t == HFPICTURE)
    assert same_pixels(only_picture(rebuilt), image)
    assert findings["image.trailing_data"] == ("removed", 1)
    assert_no_payload(dst)


def test_an_hfpicture_continuing_nothing_refuses(tmp_path: Path) -> None:
    continuing = biff(HFPICTURE, struct.pack("<HH8sH", HFPICTURE, 0, bytes(8), 0x0006) + dgg_container())
    book = workbook(extra_globals=continuing)
    assert refusal(write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book})) == "ole.malformed"


def sheet_drawing(*children: bytes) -> bytes:
    """An OfficeArtDgContainer with one shape whose records are ``children``."""
    return ppt_container(
        0xF002,
        ppt_atom(0xF008, struct.pack("<II", 1, 1025))
        + ppt_container(0xF003, ppt_container(0xF004, b"".join(children))),
    )


#: A shape anchored at column 9, 256 units in: its anchor spells a bare WMF header.
ANCHOR_AT_COLUMN_9 = ppt_atom(0xF010, struct.pack("<9H", 2, 9, 0x100, 0, 0, 11, 0, 3, 0))
PNG_START = encoded(two_colour_image(), "PNG")[:33]  # signature and IHDR: a picture a reader could draw
#: A bitmap as BkHim and IMDATA hold one: format, environment, size, then a DIB.
ONE_PIXEL_BITMAP = struct.pack("<HHI", 9, 1, 16) + struct.pack("<IHHHH", 12, 1, 1, 1, 24) + bytes(4)
OBJ_RECORD = biff(OBJ, struct.pack("<HHHHH", 0x15, 18, 8, 1, 0) + bytes(12) + bytes(4))


def around_an_obj(drawing: bytes, at: int) -> bytes:
    """A sheet's ``drawing`` in two MSODRAWING records, split at ``at``, with an OBJ between."""
    return biff(MSODRAWING, drawing[:at]) + OBJ_RECORD + biff(MSODRAWING, drawing[at:])


JPEG_IN_A_DRAWING = sheet_drawing(ANCHOR_AT_COLUMN_9, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
DIB_BLIP = blip(0xF01F, 0x7A8, encoded(two_colour_image(), "BMP")[14:])  # a DIB has no signature
DIB_IN_A_DRAWING = sheet_drawing(DIB_BLIP)


@pytest.mark.parametrize(
    ("book", "why"),
    [
        (workbook(extra_globals=biff(0x1234, bytes(7) + PNG_START)), "Workbook holds an image"),
        (
            workbook(extra_globals=biff(0x1234, bytes(7) + PNG_START[:4]) + biff(CONTINUE, PNG_START[4:])),
            "the records joined at offset 24 of Workbook holds an image",
        ),
        (
            ob_free_workbook(around_an_obj(JPEG_IN_A_DRAWING, JPEG_IN_A_DRAWING.index(b"\xff\xd8") + 2)),
            "the records joined at offset",
        ),
        (
            ob_free_workbook(around_an_obj(DIB_IN_A_DRAWING, DIB_IN_A_DRAWING.index(DIB_BLIP) + 2)),
            "holds a dib picture record at 40, outside the drawing group",
        ),
        (ob_free_workbook(biff(BKHIM, ONE_PIXEL_BITMAP)), "a sheet background (BkHim)"),
        (ob_free_workbook(OBJ_RECORD + biff(IMDATA, ONE_PIXEL_BITMAP)), "a legacy picture (IMDATA)"),
    ],
    ids=[
        "PNG in a record",
        "PNG split over a record and its CONTINUE",
        "JPEG split over a sheet's drawing records",
        "BLIP split over a sheet's drawing records",
        "sheet background (BkHim)",
        "legacy picture (IMDATA)",
    ],
)
def test_pictures_outside_the_drawing_group_refuse_the_xls(tmp_path: Path, book: bytes, why: str) -> None:
    src = write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book})
    with pytest.raises(PolicyError) as caught:
        OleRebuild().sanitize(src, tmp_path / "out.xls", {}, Limits())
    assert caught.value.code == "ole.picture" and why in caught.value.detail


def test_shape_anchors_and_numbers_that_spell_an_image_start_pass(tmp_path: Path) -> None:
    number_like_a_jpeg_start = biff(
        0x0203, struct.pack("<HHH", 0, 0, 15) + b"\x00\xff\xd8\xff\x00\x00\xf0\x3f"
    )
    book = ob_free_workbook(
        biff(MSODRAWING, sheet_drawing(ANCHOR_AT_COLUMN_9)) + OBJ_RECORD + number_like_a_jpeg_start
    )
    dst, _ = sanitize(write(tmp_path, "in.xls", EXCEL_CLSID, {"Workbook": book}))
    assert workbook_of(dst) == book


# ── the shared corpus ───────────────────────────────────────────────────────────────

#: Workbooks of the corpus whose drawing group holds pictures (EMF previews of embedded objects).
CORPUS_WITH_PICTURES = ("oletools__embedded-simple-2007.xls", "poi__WithEmbeddedObjects.xls")


@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPUS_WITH_PICTURES)
def test_corpus_workbooks_change_only_in_their_pictures(name: str, tmp_path: Path) -> None:
    src = CORPUS / "ole" / name
    if not src.exists():
        pytest.skip("../shared/corpus is absent")
    dst, _ = sanitize(with_workbook(src, tmp_path / name, workbook_of(src)))
    before, after = workbook_of(src), workbook_of(dst)
    expected = bytearray(before)
    for offset, record_type, _ in walk(before):
        if record_type == OBPROJ:
            expected[offset : offset + 2] = NEUTRAL_RECORD.to_bytes(2, "little")
    drawing, pieces = drawing_group(before)
    assert blip_pictures(drawing) and drawing_group(after)[1] == pieces
    assert outside(after, pieces) == outside(bytes(expected), pieces)
    assert_pictures_rebuilt_in_place(drawing, drawing_group(after)[0])
