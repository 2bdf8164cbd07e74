"""Pictures for the document tests: images carrying payloads, and a check of what comes out.

``assert_clean_picture`` shares no code with the sanitisers: it walks PNG chunks and JPEG
segments itself and decodes with Pillow, so a picture it passes ends where its format
ends and carries nothing but pixels (and a colour profile or density).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Chunks a picture made of pixels alone may have.
_PNG_PIXEL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"pHYs", b"iCCP"})
#: JPEG segments a picture made of pixels alone may have: JFIF, ICC profile, tables, frame.
_JPEG_MARKERS_ALLOWED = frozenset({0xE0, 0xE2, 0xDB, 0xC4, 0xC0, 0xC1, 0xC2, 0xDD})
_SOS, _EOI = 0xDA, 0xD9
EXECUTABLE = b"MZ\x90\x00" + bytes(56) + b"This program cannot be run in DOS mode.\r\r\n$" + bytes(64)


def two_colour_image(size: tuple[int, int] = (40, 30)) -> Image.Image:
    """Left half blue, right half red: a turn or a mirror shows."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 40, 220), (0, 0, size[0] // 2, size[1]))
    return image


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def zipped_executable() -> bytes:
    """A ZIP holding a Windows executable: what a polyglot picture smuggles."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("invoice.exe", EXECUTABLE)
    return out.getvalue()


def payload_markers() -> tuple[bytes, ...]:
    """Byte strings of the payload that must not survive anywhere."""
    return (b"PK\x03\x04", b"invoice.exe", b"This program cannot be run")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_text_chunk(png: bytes, text: bytes) -> bytes:
    """``png`` with a tEXt chunk before its first IDAT (metadata the rebuild leaves behind)."""
    at = png.index(b"IDAT") - 4
    return png[:at] + png_chunk(b"tEXt", b"Comment\x00" + text) + png[at:]


def image_end(data: bytes, kind: str) -> int:
    """Where the ``kind`` ("png" or "jpeg") image at the start of ``data`` ends, once its
    chunks or segments have been walked; only pixel data, a profile and a density allowed."""
    return _png_end(data) if kind == "png" else _jpeg_end(data)


def assert_clean_picture(data: bytes, kind: str) -> Image.Image:
    """``data`` is a ``kind`` ("png" or "jpeg") image of pixels alone that ends where its
    format ends; returns it decoded."""
    assert image_end(data, kind) == len(data), f"{len(data) - image_end(data, kind)} bytes after the image"
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == kind.upper()
    return image


def assert_clean_picture_in_place(region: bytes, kind: str) -> Image.Image:
    """``region`` (what a picture record holds) is a clean ``kind`` image, then zeros only."""
    end = image_end(region, kind)
    assert region[end:] == bytes(len(region) - end), "the rest of the record is not zero-filled"
    return assert_clean_picture(region[:end], kind)


def _png_end(data: bytes) -> int:
    assert data.startswith(PNG_SIGNATURE)
    pos = len(PNG_SIGNATURE)
    kind = b""
    while kind != b"IEND":
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert crc == zlib.crc32(kind + body), kind
        assert kind in _PNG_PIXEL_CHUNKS, kind
        pos += 12 + length
    return pos


def _jpeg_end(data: bytes) -> int:
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    pos = 2
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        if marker == _SOS:
            break
        assert marker in _JPEG_MARKERS_ALLOWED, hex(marker)
        (length,) = struct.unpack_from(">H", data, pos + 2)
        pos += 2 + length
    (header,) = struct.unpack_from(">H", data, pos + 2)
    after_scan = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])").search(data, pos + 2 + header)
    assert after_scan is not None and data[after_scan.start() + 1] == _EOI, "a marker inside the scan"
    return after_scan.start() + 2


def same_pixels(a: Image.Image, b: Image.Image, tolerance: float = 0) -> bool:
    """Equal size, and channels that differ by ``tolerance`` at most on average (0: equal)."""
    if a.size != b.size:
        return False
    first, second = a.convert("RGB").tobytes(), b.convert("RGB").tobytes()
    return sum(abs(x - y) for x, y in zip(first, second, strict=True)) <= tolerance * len(first)
