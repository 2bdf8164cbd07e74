"""Pictures in .doc and .ppt are rebuilt where they lie; a .doc's hyperlink objects follow
the links option.

The attacks start from files LibreOffice writes (it stores the pictures it is given byte
for byte): a picture's bytes are replaced, in place and keeping the record's length, by a
smaller image followed by a ZIP holding an executable.  Outputs are read back with olefile
and walkers written here (PICF blocks of ``Data``, the records of ``Pictures``), never
with the sanitiser's own, and opened again by LibreOffice.  Synthetic presentations cover
the picture kinds LibreOffice does not write (DIB, TIFF, metafiles, PICT).
"""

from __future__ import annotations

import base64
import io
import shutil
import struct
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import olefile
import pypdfium2
import pytest
from PIL import Image

from sanitizers.base import Limits
from sanitizers.errors import PolicyError, VerifyError
from sanitizers.ole import OleRebuild, rebuild
from sanitizers.ole.cfb_writer import write_compound_file
from sanitizers.ole.hyperlinks import check_hyperlink_objects
from sanitizers.ole.word import document_text, read_fib
from tests.sanitizers.contract import fell_back_to_pdf, removed_counts
from tests.sanitizers.pictures import (
    assert_clean_picture_in_place,
    encoded,
    image_end,
    payload_markers,
    same_pixels,
    two_colour_image,
    zipped_executable,
)
from tests.sanitizers.test_metafile import EMR_COMMENT, emf, emf_drawing, emr
from tests.sanitizers.test_ole import PPT_CLSID, ppt_atom, ppt_container, ppt_streams, refusal, sanitize
from tests.sanitizers.test_ole import write as write_ole
from tests.sanitizers.test_ole_excel_links import libreoffice

LINK = "https://example.com/abcdefghijklmnop"
UNC_OF_THE_SAME_LENGTH = "\\\\evil.example\\share\\abcdefghijklmno"


def noisy_image(seed: int) -> Image.Image:
    """Pixels that do not compress: a picture with room for a payload in its place."""
    return Image.frombytes(
        "RGB", (64, 48), bytes((seed * 7919 + i * 104729) % 251 for i in range(64 * 48 * 3))
    )


PNG_IN_DOCUMENT = encoded(noisy_image(1), "PNG")
JPEG_IN_DOCUMENT = encoded(noisy_image(2), "JPEG", quality=95)


def _frame(picture: bytes, place: str) -> str:
    return (
        f'<draw:frame {place} svg:width="3cm" svg:height="2.25cm"><draw:image><office:binary-data>'
        f"{base64.b64encode(picture).decode()}</office:binary-data></draw:image></draw:frame>"
    )


_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"'
)


def flat_text() -> str:
    """A text document: a hyperlink, a PNG and a JPEG inline (Data), a PNG floating (WordDocument)."""
    inline = 'text:anchor-type="as-char"'
    floating = 'text:anchor-type="paragraph" draw:style-name="fr1"'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document {_NAMESPACES} office:version="1.2" '
        'office:mimetype="application/vnd.oasis.opendocument.text"><office:automatic-styles>'
        '<style:style style:name="fr1" style:family="graphic"><style:graphic-properties style:wrap="parallel" '
        'style:vertical-pos="top" style:horizontal-pos="center"/></style:style></office:automatic-styles>'
        f'<office:body><office:text><text:p>See <text:a xlink:type="simple" xlink:href="{LINK}">the site'
        f"</text:a>.</text:p><text:p>Inline: {_frame(PNG_IN_DOCUMENT, inline)} and "
        f"{_frame(JPEG_IN_DOCUMENT, inline)}</text:p><text:p>Floating: "
        f"{_frame(PNG_IN_DOCUMENT, floating)}</text:p>"
        "</office:text></office:body></office:document>"
    )


def flat_presentation() -> str:
    frames = "".join(
        f'<draw:frame svg:x="{x}cm" svg:y="2cm" svg:width="8cm" svg:height="6cm"><draw:image><office:binary-data>'
        f"{base64.b64encode(picture).decode()}</office:binary-data></draw:image></draw:frame>"
        for x, picture in ((1, PNG_IN_DOCUMENT), (12, JPEG_IN_DOCUMENT))
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document {_NAMESPACES} office:version="1.2" '
        'office:mimetype="application/vnd.oasis.opendocument.presentation"><office:body><office:presentation>'
        f'<draw:page draw:name="p1">{frames}</draw:page></office:presentation></office:body></office:document>'
    )


@dataclass(frozen=True)
class Written:
    doc: Path
    ppt: Path


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice is not installed; `make test` installs it")
    work = tmp_path_factory.mktemp("libreoffice")
    (work / "pictures.fodt").write_text(flat_text(), encoding="utf-8")
    (work / "pictures.fodp").write_text(flat_presentation(), encoding="utf-8")
    return Written(
        libreoffice(work / "pictures.fodt", "doc", work), libreoffice(work / "pictures.fodp", "ppt", work)
    )


# ── reading and patching compound files ─────────────────────────────────────────────


def streams_and_clsid(path: Path) -> tuple[dict[str, bytes], uuid.UUID]:
    with olefile.OleFileIO(str(path)) as ole:
        tree = {"/".join(p): ole.openstream(p).read() for p in ole.listdir()}
        return tree, uuid.UUID(ole.root.clsid)


def patched(src: Path, dst: Path, stream: str, edits: list[tuple[int, bytes]]) -> Path:
    """``src`` with ``stream``'s bytes at each offset replaced (same length)."""
    tree, clsid = streams_and_clsid(src)
    data = bytearray(tree[stream])
    for at, replacement in edits:
        data[at : at + len(replacement)] = replacement
    tree[stream] = bytes(data)
    write_compound_file(dst, clsid, tree)
    return dst


def smaller_with_payload(room: int, kind: str) -> tuple[bytes, Image.Image]:
    """A small image, a ZIP holding an executable behind it, zeros to ``room`` bytes."""
    image = two_colour_image()
    hidden = encoded(image, kind.upper()) + zipped_executable()
    assert len(hidden) < room
    return hidden + bytes(room - len(hidden)), image


def data_pictures(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of the image of each PICF picture block of a Data stream, found by the
    PICF lengths (MS-DOC 2.9.192), the shape container and the FBSE holding the BLIP."""
    found = []
    pos = 0
    while pos + 8 <= len(data):
        (lcb, header, mm) = struct.unpack_from("<IHH", data, pos)
        if mm == 0x64:  # MM_SHAPE: an OfficeArt picture follows the 68-byte header
            shape = pos + header
            (_ver, _type, shape_length) = struct.unpack_from("<HHI", data, shape)
            fbse = shape + 8 + shape_length
            name_length = data[fbse + 8 + 33]
            blip = fbse + 8 + 36 + name_length
            (instance, _blip_type, blip_length) = struct.unpack_from("<HHI", data, blip)
            found.append((blip + 8 + 16 * (1 + (instance >> 4 & 1)) + 1, blip + 8 + blip_length))
        pos += lcb
        while pos + 6 <= len(data) and data[pos + 4 : pos + 6] != b"\x44\x00":
            pos += 1  # blocks start at even offsets: a byte of padding may follow one
    return found


def pictures_records(pictures: bytes) -> list[tuple[int, int]]:
    """(start, end) of the image of each record of a Pictures stream."""
    found = []
    pos = 0
    while pos < len(pictures):
        (instance, _type, length) = struct.unpack_from("<HHI", pictures, pos)
        found.append((pos + 8 + 16 * (1 + (instance >> 4 & 1)) + 1, pos + 8 + length))
        pos += 8 + length
    return found


def sanitized(src: Path) -> tuple[Path, dict[str, int]]:
    """The output, and how many of each construct were removed (summed over streams)."""
    dst = src.with_name("out-" + src.name)
    return dst, removed_counts(OleRebuild().sanitize(src, dst, {}, Limits()))


#: BLIP record types (MS-ODRAW 2.2.23 ff.): what they hold, and the instances they have.
BLIP_TYPES = {
    0xF01A: ("emf", {0x3D4, 0x3D5}),
    0xF01B: ("wmf", {0x216, 0x217}),
    0xF01D: ("jpeg", {0x46A, 0x46B, 0x6E2, 0x6E3}),
    0xF02A: ("jpeg", {0x46A, 0x46B, 0x6E2, 0x6E3}),
    0xF01E: ("png", {0x6E0, 0x6E1}),
    0xF01F: ("dib", {0x7A8, 0x7A9}),
    0xF029: ("tiff", {0x6E4, 0x6E5}),
}


def picture_regions(stream: bytes) -> list[tuple[str, int, int]]:
    """(kind, start, end) of each picture an OfficeArt BLIP record of ``stream`` holds:
    the image, or the metafile header and the metafile; a record is recognised by its
    type, version 0, an instance of that type and a length that fits."""
    found = []
    pos = 0
    while pos + 8 <= len(stream):
        version_instance, record_type, length = struct.unpack_from("<HHI", stream, pos)
        kind, instances = BLIP_TYPES.get(record_type, ("", set()))
        if version_instance >> 4 not in instances or version_instance & 0xF or pos + 8 + length > len(stream):
            pos += 1
            continue
        ids = 16 * (1 + (version_instance >> 4 & 1))
        found.append((kind, pos + 8 + ids + (0 if kind in ("emf", "wmf") else 1), pos + 8 + length))
        pos += 8 + length
    return found


def assert_pictures_rebuilt_in_place(before: bytes, after: bytes) -> None:
    """``after`` is ``before`` but for the pictures of its BLIP records, each of which is a
    clean image (PNG, JPEG) or an inflatable metafile, then zeros to the record's end."""
    assert len(after) == len(before)
    pos = 0
    for kind, start, end in picture_regions(before):
        assert after[pos:start] == before[pos:start]
        region = after[start:end]
        if kind in ("png", "jpeg"):
            assert_clean_picture_in_place(region, kind)
        elif kind in ("emf", "wmf"):
            size, _bounds, _extent, saved, compression, _filter = struct.unpack_from("<I16s8sIBB", region)
            stored = region[34 : 34 + saved]
            assert len(zlib.decompress(stored) if compression == 0 else stored) == size
            assert region[34 + saved :] == bytes(len(region) - 34 - saved)
        pos = end
    assert after[pos:] == before[pos:]


def assert_no_payload(path: Path) -> None:
    tree, _ = streams_and_clsid(path)
    for name, data in tree.items():
        for marker in payload_markers():
            assert marker not in data, (name, marker)


def pdf_images(path: Path, work: Path) -> int:
    """How many images LibreOffice draws when it prints ``path``."""
    pdf = pypdfium2.PdfDocument(libreoffice(path, "pdf", work))
    try:
        return sum(
            1 for page in pdf for item in page.get_objects() if item.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE
        )
    finally:
        pdf.close()


# ── .doc and .ppt written by LibreOffice ─────────────────────────────────────────────


@pytest.mark.slow
def test_payloads_hidden_in_doc_pictures_are_gone_and_the_pictures_stay(
    written: Written, tmp_path: Path
) -> None:
    tree, _ = streams_and_clsid(written.doc)
    inline_png, inline_jpeg = data_pictures(tree["Data"])
    floating = tree["WordDocument"].index(PNG_IN_DOCUMENT)
    floating_png = (floating, floating + len(PNG_IN_DOCUMENT))
    assert tree["Data"][slice(*inline_png)] == PNG_IN_DOCUMENT
    assert tree["Data"][slice(*inline_jpeg)] == JPEG_IN_DOCUMENT
    hidden_png, png_image = smaller_with_payload(len(PNG_IN_DOCUMENT), "png")
    hidden_jpeg, jpeg_image = smaller_with_payload(len(JPEG_IN_DOCUMENT), "jpeg")
    src = patched(
        written.doc, tmp_path / "in.doc", "Data", [(inline_png[0], hidden_png), (inline_jpeg[0], hidden_jpeg)]
    )
    src = patched(src, tmp_path / "attack.doc", "WordDocument", [(floating_png[0], hidden_png)])

    dst, removed = sanitized(src)

    assert_no_payload(dst)
    out, _ = streams_and_clsid(dst)
    assert data_pictures(out["Data"]) == [inline_png, inline_jpeg]  # nothing moved
    assert same_pixels(assert_clean_picture_in_place(out["Data"][slice(*inline_png)], "png"), png_image)
    assert same_pixels(assert_clean_picture_in_place(out["Data"][slice(*inline_jpeg)], "jpeg"), jpeg_image, 8)
    assert same_pixels(
        assert_clean_picture_in_place(out["WordDocument"][slice(*floating_png)], "png"), png_image
    )
    assert removed["image.trailing_data"] == 3
    assert pdf_images(dst, tmp_path / "out") == pdf_images(written.doc, tmp_path / "in") == 3


@pytest.mark.slow
def test_payloads_hidden_in_ppt_pictures_are_gone_and_the_pictures_stay(
    written: Written, tmp_path: Path
) -> None:
    tree, _ = streams_and_clsid(written.ppt)
    png_record, jpeg_record = pictures_records(tree["Pictures"])
    hidden_png, png_image = smaller_with_payload(len(PNG_IN_DOCUMENT), "png")
    hidden_jpeg, jpeg_image = smaller_with_payload(len(JPEG_IN_DOCUMENT), "jpeg")
    src = patched(
        written.ppt,
        tmp_path / "attack.ppt",
        "Pictures",
        [(png_record[0], hidden_png), (jpeg_record[0], hidden_jpeg)],
    )

    dst, removed = sanitized(src)

    assert_no_payload(dst)
    out, _ = streams_and_clsid(dst)
    assert pictures_records(out["Pictures"]) == [png_record, jpeg_record]
    assert same_pixels(assert_clean_picture_in_place(out["Pictures"][slice(*png_record)], "png"), png_image)
    assert same_pixels(
        assert_clean_picture_in_place(out["Pictures"][slice(*jpeg_record)], "jpeg"), jpeg_image, 8
    )
    assert out["PowerPoint Document"] == tree["PowerPoint Document"]
    assert removed["image.trailing_data"] == 2
    assert pdf_images(dst, tmp_path / "out") == pdf_images(written.ppt, tmp_path / "in") == 2


@pytest.mark.slow
def test_a_picture_that_does_not_decode_refuses_the_doc_and_the_next_method_takes_over(
    written: Written, tmp_path: Path
) -> None:
    tree, _ = streams_and_clsid(written.doc)
    start, end = data_pictures(tree["Data"])[0]
    broken = b"\x89PNG\r\n\x1a\n" + zipped_executable()
    src = patched(
        written.doc, tmp_path / "broken.doc", "Data", [(start, broken + bytes(end - start - len(broken)))]
    )
    assert refusal(src) == "ole.picture"
    assert fell_back_to_pdf(src, tmp_path / "scratch") == ["method.ole.picture"]


@pytest.mark.slow
def test_an_image_in_data_outside_any_picture_record_refuses_the_doc(
    written: Written, tmp_path: Path
) -> None:
    tree, _ = streams_and_clsid(written.doc)
    first_picture = data_pictures(tree["Data"])[0][0]
    header = encoded(two_colour_image(), "PNG")[:33]  # signature and IHDR: a picture Word could draw
    hiding_place = tree["Data"].index(bytes(len(header)))
    assert hiding_place < first_picture
    assert (
        refusal(patched(written.doc, tmp_path / "stray.doc", "Data", [(hiding_place, header)]))
        == "ole.picture"
    )


@pytest.mark.slow
def test_a_blip_store_entry_pointing_at_no_rebuilt_picture_refuses_the_doc(
    written: Written, tmp_path: Path
) -> None:
    tree, _ = streams_and_clsid(written.doc)
    record = tree["WordDocument"].index(PNG_IN_DOCUMENT) - 8 - 16 - 1
    assert tree["WordDocument"][record : record + 4] == b"\x00\x6e\x1e\xf0"
    unknown_instance = b"\x80\x6e"  # no BLIP has it: the record is not found, its FBSE still points at it
    src = patched(written.doc, tmp_path / "hidden.doc", "WordDocument", [(record, unknown_instance)])
    assert refusal(src) == "ole.picture"


@pytest.mark.slow
def test_verification_refuses_a_picture_followed_by_data(written: Written, tmp_path: Path) -> None:
    tree, _ = streams_and_clsid(written.ppt)
    start, end = pictures_records(tree["Pictures"])[0]
    hidden, _ = smaller_with_payload(end - start, "png")
    dst, _ = sanitize(patched(written.ppt, tmp_path / "attack.ppt", "Pictures", [(start, hidden)]))
    region = streams_and_clsid(dst)[0]["Pictures"][start:end]
    assert_clean_picture_in_place(region, "png")
    padding = start + image_end(region, "png")
    tampered = patched(dst, tmp_path / "tampered.ppt", "Pictures", [(padding, zipped_executable())])
    ppt = next(f for f in rebuild.FORMATS if f.type_name == "ppt")
    with pytest.raises(VerifyError) as caught:
        rebuild.verify_compound(tampered.read_bytes(), ppt, ppt.kept_streams, Limits(), "keep-web")
    assert caught.value.code == "ole.verify_failed"
    rebuild.verify_compound(dst.read_bytes(), ppt, ppt.kept_streams, Limits(), "keep-web")


# ── hyperlink objects in Data ───────────────────────────────────────────────────────────


@pytest.mark.slow
def test_a_hyperlink_object_to_a_unc_path_is_refused_though_its_field_says_https(
    written: Written, tmp_path: Path
) -> None:
    tree, _ = streams_and_clsid(written.doc)
    url = LINK.encode("utf-16-le")
    assert len(UNC_OF_THE_SAME_LENGTH) == len(LINK) and tree["Data"].count(url) == 1
    src = patched(
        written.doc,
        tmp_path / "unc.doc",
        "Data",
        [(tree["Data"].index(url), UNC_OF_THE_SAME_LENGTH.encode("utf-16-le"))],
    )
    after, _ = streams_and_clsid(src)
    fib = read_fib(after["WordDocument"])
    assert f'HYPERLINK "{LINK}"' in document_text(after["WordDocument"], after[fib.table_stream], fib)

    assert refusal(src) == "ole.external_link"
    sanitize(written.doc)  # the same document with its own target passes


def std_hlink(flags: int, *parts: bytes) -> bytes:
    """An HFD as Word writes it: flags byte, the StdHlink CLSID, a Hyperlink Object."""
    clsid = uuid.UUID("79eac9d0-baf9-11ce-8c82-00aa004ba90b").bytes_le
    return bytes(68) + b"\x00" + clsid + struct.pack("<II", 2, flags) + b"".join(parts) + bytes(8)


def hyperlink_string(text: str) -> bytes:
    return struct.pack("<I", len(text) + 1) + (text + "\x00").encode("utf-16-le")


def url_moniker(url: str) -> bytes:
    data = (url + "\x00").encode("utf-16-le")
    return uuid.UUID("79eac9e0-baf9-11ce-8c82-00aa004ba90b").bytes_le + struct.pack("<I", len(data)) + data


def com_moniker(number: int, data: bytes = b"") -> bytes:
    return uuid.UUID(f"{number:08x}-0000-0000-c000-000000000046").bytes_le + data


HAS_MONIKER, ABSOLUTE, LOCATION, DISPLAY_NAME, AS_STRING = 0x01, 0x02, 0x08, 0x10, 0x100


WEB, JUMP, NEVER = ("remove",), (), ("keep-web", "remove")  # the links options that refuse it


@pytest.mark.parametrize(
    ("data", "refused_under"),
    [
        (std_hlink(HAS_MONIKER | ABSOLUTE, url_moniker("https://example.com/")), WEB),
        (
            std_hlink(
                HAS_MONIKER | DISPLAY_NAME, hyperlink_string("shown"), url_moniker("mailto:a@example.com")
            ),
            WEB,
        ),
        (std_hlink(HAS_MONIKER | AS_STRING, hyperlink_string("https://example.com/")), WEB),
        (std_hlink(LOCATION, hyperlink_string("OnMainHeading")), JUMP),
        (std_hlink(HAS_MONIKER, url_moniker("\\\\evil\\share\\x.doc")), NEVER),
        (std_hlink(HAS_MONIKER, url_moniker("file:///C:/Windows/calc.exe")), NEVER),
        (std_hlink(HAS_MONIKER | AS_STRING, hyperlink_string("\\\\evil\\share")), NEVER),
        (std_hlink(HAS_MONIKER, com_moniker(0x303, struct.pack("<HI", 0, 6) + b"x.doc\x00")), NEVER),  # file
        (std_hlink(HAS_MONIKER, com_moniker(0x309, struct.pack("<I", 0))), NEVER),  # composite
        (std_hlink(HAS_MONIKER, com_moniker(0x304)), NEVER),  # item
        (com_moniker(0x305), NEVER),  # an anti moniker outside any hyperlink object
        (std_hlink(HAS_MONIKER, uuid.UUID("06290bd3-48aa-11d2-8432-006008c3fbfc").bytes_le), NEVER),  # script
        (std_hlink(HAS_MONIKER, url_moniker("https://example.com/"))[:-30], NEVER),  # cut short
        (std_hlink(HAS_MONIKER | DISPLAY_NAME, struct.pack("<I", 0x7FFFFFFF)), NEVER),
        (std_hlink(0x7FFFFFFF)[:100] + struct.pack("<I", 3), NEVER),  # version 3
        (url_moniker("https://a.example/") + url_moniker("http://10.0.0.1:99999/"), NEVER),
    ],
)
def test_hyperlink_objects_follow_the_links_option(data: bytes, refused_under: tuple[str, ...]) -> None:
    for links in ("keep-web", "remove"):
        if links in refused_under:
            with pytest.raises(PolicyError, match=r"ole\.external_link"):
                check_hyperlink_objects(data, links)
        else:
            check_hyperlink_objects(data, links)


# ── picture kinds, in presentations built here ──────────────────────────────────────


def blip(record_type: int, instance: int, picture: bytes, *, metafile_header: bytes = b"") -> bytes:
    ids = bytes(16 * (1 + (instance & 1)))
    tag = b"" if metafile_header else b"\xff"
    return ppt_atom(record_type, ids + tag + metafile_header + picture, instance)


def metafile_blip(record_type: int, instance: int, metafile: bytes, *, compress: bool = True) -> bytes:
    stored = zlib.compress(metafile) if compress else metafile
    header = struct.pack(
        "<I16s8sIBB", len(metafile), bytes(16), bytes(8), len(stored), 0 if compress else 0xFE, 0xFE
    )
    return blip(record_type, instance, stored, metafile_header=header)


def fbse(delay: int, size: int, embedded: bytes = b"") -> bytes:
    """A blip store entry (version 2) for a PNG, pointing at ``delay`` or holding ``embedded``."""
    body = struct.pack("<BB16sHIIIBBBB", 6, 6, bytes(16), 0xFF, size, 1, delay, 0, 0, 0, 0) + embedded
    return struct.pack("<HHI", 6 << 4 | 2, 0xF007, len(body)) + body


def presentation(tmp_path: Path, pictures: bytes, store: bytes = b"", folder: str = "") -> Path:
    streams = ppt_streams(
        ppt_container(0x040B, ppt_container(0xF000, ppt_container(0xF001, store))) if store else b""
    )
    (tmp_path / folder).mkdir(exist_ok=True)
    return write_ole(tmp_path / folder, "pictures.ppt", PPT_CLSID, {**streams, "Pictures": pictures})


def out_pictures(dst: Path) -> bytes:
    return streams_and_clsid(dst)[0]["Pictures"]


def dib_of(image: Image.Image) -> bytes:
    return encoded(image, "BMP")[14:]


def test_a_dib_picture_loses_what_follows_it(tmp_path: Path) -> None:
    dib = dib_of(two_colour_image())
    record = blip(0xF01F, 0x7A8, dib + zipped_executable())
    dst, _ = sanitize(presentation(tmp_path, record))
    out = out_pictures(dst)
    assert_no_payload(dst)
    picture = out[8 + 17 :]
    assert picture[: len(dib)] == dib and picture[len(dib) :] == bytes(len(picture) - len(dib))
    assert same_pixels(
        Image.open(io.BytesIO(b"BM" + struct.pack("<IHHI", 14 + len(dib), 0, 0, 54) + dib)),
        two_colour_image(),
    )


def four_bit_dib(width: int, height: int) -> bytes:
    """A 16-colour DIB, which the image rule writes back with a byte a pixel: twice as large."""
    stride = (width * 4 + 31) // 32 * 4
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 4, 0, stride * height, 2835, 2835, 16, 0)
    palette = b"".join(struct.pack("<BBBB", 16 * i, 255 - 16 * i, 0, 0) for i in range(16))
    rows = bytes((x % 16) << 4 | (x + 1) % 16 for _ in range(height) for x in range(stride))
    return header + palette + rows


def test_a_dib_that_grows_when_rebuilt_refuses_the_presentation(tmp_path: Path) -> None:
    assert refusal(presentation(tmp_path, blip(0xF01F, 0x7A8, four_bit_dib(40, 30)))) == "ole.picture"


def test_a_jpeg_that_does_not_fit_at_the_rules_quality_is_written_at_a_lower_one(tmp_path: Path) -> None:
    jpeg = encoded(noisy_image(3), "JPEG", quality=50)
    dst, findings = sanitize(presentation(tmp_path, blip(0xF01D, 0x46A, jpeg)))
    assert findings["ole.picture"][0] == "kept"
    assert_clean_picture_in_place(out_pictures(dst)[8 + 17 :], "jpeg")


def test_an_emf_picture_is_rebuilt_record_by_record_and_recompressed(tmp_path: Path) -> None:
    comment = emr(EMR_COMMENT, struct.pack("<I", len(zipped_executable())) + zipped_executable())
    metafile = emf([*emf_drawing(), comment])
    dst, findings = sanitize(presentation(tmp_path, metafile_blip(0xF01A, 0x3D4, metafile)))
    assert_no_payload(dst)
    out = out_pictures(dst)
    size, _bounds, _extent, saved, compression, _filter = struct.unpack_from("<I16s8sIBB", out, 8 + 16)
    rebuilt = zlib.decompress(out[8 + 16 + 34 : 8 + 16 + 34 + saved])
    assert (len(rebuilt), compression) == (size, 0)
    assert out[8 + 16 + 34 + saved :] == bytes(len(out) - 8 - 16 - 34 - saved)
    assert emf_record_types(rebuilt) == emf_record_types(emf(emf_drawing()))
    assert findings["metafile.comment"] == ("removed", 1)


def emf_record_types(metafile: bytes) -> list[int]:
    types, pos = [], 0
    while pos < len(metafile):
        record_type, size = struct.unpack_from("<II", metafile, pos)
        types.append(record_type)
        pos += size
    return types


def test_a_pict_picture_refuses_the_presentation(tmp_path: Path) -> None:
    assert (
        refusal(presentation(tmp_path, metafile_blip(0xF01C, 0x542, bytes(600), compress=False)))
        == "ole.picture"
    )


@pytest.mark.parametrize(
    "pictures",
    [
        ppt_atom(0x0FBA, b"x\x00"),  # not a picture
        blip(0xF01E, 0x6E0, encoded(two_colour_image(), "PNG")) + b"\x01",  # a stray byte after it
        blip(0xF01D, 0x46A, encoded(two_colour_image(), "PNG")),  # a PNG in a JPEG record
    ],
)
def test_a_pictures_stream_with_anything_but_pictures_refuses_the_presentation(
    tmp_path: Path, pictures: bytes
) -> None:
    assert refusal(presentation(tmp_path, pictures)) == "ole.picture"


def test_blip_store_entries_must_point_at_a_rebuilt_picture(tmp_path: Path) -> None:
    record = blip(0xF01E, 0x6E0, encoded(two_colour_image(), "PNG"))
    sanitize(presentation(tmp_path, record + bytes(16), fbse(0, len(record)), "zero-tail"))  # no record
    assert refusal(presentation(tmp_path, record, fbse(3, len(record)), "elsewhere")) == "ole.picture"
    holding_no_picture = fbse(0xFFFFFFFF, 0, bytes(12))
    assert refusal(presentation(tmp_path, record, holding_no_picture, "holding")) == "ole.picture"
