"""Structural walks over an image's raw bytes, done before any decoder runs.

Each walker checks the container framing (JPEG segments, PNG chunks, GIF blocks, WebP
RIFF chunks), names every metadata construct it passes and finds where the image ends,
so that bytes behind it (polyglot payloads, appended archives) can be reported.  The
same walkers re-read the rebuilt output as a check that is independent of the encoder.
TIFF and BMP have no reliable end marker; TIFF metadata is read from the decoded tags.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from PIL import PngImagePlugin, TiffTags

from sanitizers.errors import LimitError, MalformedError

EXIF = "image.exif"
GPS = "image.gps"
XMP = "image.xmp"
IPTC = "image.iptc"
COMMENT = "image.comment"
TEXT_CHUNK = "image.text_chunk"
ICC_PROFILE = "image.icc_profile"
OTHER_METADATA = "image.other_metadata"


@dataclass
class Scan:
    """Metadata constructs found in the raw bytes, and where the image data ends."""

    constructs: Counter[str] = field(default_factory=Counter)
    #: what the OTHER_METADATA constructs were (segment, chunk or tag names)
    other_kinds: set[str] = field(default_factory=set)
    #: offset just past the image's last byte, or None when the format has no end marker
    end: int | None = None
    #: WebP only: the canvas size, checked before Pillow runs, since libwebp allocates the
    #: canvas while opening (Pillow's other decoders allocate at load, after its own check)
    declared_size: tuple[int, int] | None = None
    #: WebP only: every frame is VP8L, so the rebuild can stay lossless
    lossless: bool = False
    #: the first framing error; raised once the headers have passed the pixel and frame
    #: limits, so that a bomb is refused as a bomb even when it is also truncated
    damage: MalformedError | None = None

    def found(self, construct: str, kind: str | None = None) -> None:
        self.constructs[construct] += 1
        if kind is not None:
            self.other_kinds.add(kind)


def _malformed(fmt: str, what: str) -> MalformedError:
    return MalformedError("image.malformed", f"{fmt}: {what}")


# --- JPEG --------------------------------------------------------------------------------

_SOS, _EOI, _COM = 0xDA, 0xD9, 0xFE
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: no length field
_XMP_IDS = (b"http://ns.adobe.com/xap/1.0/", b"http://ns.adobe.com/xmp/extension/")
_JFIF_WITHOUT_THUMBNAIL = 14  # JFIF APP0 payload length when Xthumbnail = Ythumbnail = 0
# In entropy-coded data 0xFF is followed by a stuffed 0x00 or a restart marker; anything
# else (fill bytes aside) starts the next real marker.
_NEXT_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


def _walk_jpeg(data: bytes, scan: Scan) -> None:
    pos = 2  # after SOI
    while True:
        if pos >= len(data) or data[pos] != 0xFF:
            raise _malformed("JPEG", f"no marker at offset {pos} (truncated or corrupt)")
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos + 1 > len(data):
            raise _malformed("JPEG", "ends inside a marker")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            scan.end = pos
            return
        if marker in _STANDALONE_MARKERS:
            continue
        length = int.from_bytes(data[pos : pos + 2])
        if length < 2 or pos + length > len(data):
            raise _malformed("JPEG", f"segment 0x{marker:02X} at offset {pos} overruns the file")
        _classify_jpeg_segment(scan, marker, data[pos + 2 : pos + length])
        pos += length
        if marker == _SOS:
            match = _NEXT_MARKER.search(data, pos)
            if match is None:
                raise _malformed("JPEG", "no End Of Image marker (truncated)")
            pos = match.start()


def _classify_jpeg_segment(scan: Scan, marker: int, payload: bytes) -> None:
    if marker == _COM:
        scan.found(COMMENT)
    elif 0xE0 <= marker <= 0xEF:
        app = marker - 0xE0
        if app == 0 and payload.startswith(b"JFIF\0") and len(payload) <= _JFIF_WITHOUT_THUMBNAIL:
            return  # density and version: the encoder writes its own
        if app == 14 and payload.startswith(b"Adobe"):
            return  # colour transform flag: the encoder writes its own
        if app == 1 and payload.startswith(b"Exif\0"):
            scan.found(EXIF)
        elif app == 1 and payload.startswith(_XMP_IDS):
            scan.found(XMP)
        elif app == 13 and payload.startswith(b"Photoshop 3.0\0"):
            scan.found(IPTC)
        elif app == 2 and payload.startswith(b"ICC_PROFILE\0"):
            scan.constructs[ICC_PROFILE] = 1  # one profile, however many segments carry it
        else:
            label = payload[:12].split(b"\0", 1)[0].decode("ascii", "replace")
            scan.found(OTHER_METADATA, f"APP{app} {label}".strip())


# --- PNG ---------------------------------------------------------------------------------

#: Chunks the rebuild writes itself (image data, palette, transparency, density, animation).
_PNG_REBUILT = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"pHYs", b"acTL", b"fcTL", b"fdAT"})
_PNG_UNIQUE = frozenset({b"PLTE", b"acTL"})


class _PngTextBudget:
    """Pillow's own text limits, enforced here first so that a text bomb is a limit."""

    def __init__(self) -> None:
        self.used = 0

    def charge(self, untrusted_text_size: int) -> None:
        self.used += untrusted_text_size
        if self.used > PngImagePlugin.MAX_TEXT_MEMORY:
            raise LimitError("image.limit", f"PNG text chunks exceed {PngImagePlugin.MAX_TEXT_MEMORY} bytes")

    def inflate(self, compressed: bytes) -> None:
        try:
            text = zlib.decompressobj().decompress(compressed, PngImagePlugin.MAX_TEXT_CHUNK + 1)
        except zlib.error as exc:
            raise _malformed("PNG", f"compressed chunk does not inflate: {exc}") from None
        if len(text) > PngImagePlugin.MAX_TEXT_CHUNK:
            raise LimitError("image.limit", "PNG compressed chunk inflates beyond MAX_TEXT_CHUNK")
        self.charge(len(text))


def _walk_png(data: bytes, scan: Scan) -> None:
    budget = _PngTextBudget()
    seen: set[bytes] = set()
    pos = 8  # after the signature
    while True:
        if pos + 12 > len(data):
            raise _malformed("PNG", "no IEND chunk (truncated)")
        length = int.from_bytes(data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body_end = pos + 8 + length
        if body_end + 4 > len(data):
            raise _malformed("PNG", f"chunk {kind!r} at offset {pos} overruns the file")
        body = data[pos + 8 : body_end]
        if zlib.crc32(body, zlib.crc32(kind)) != int.from_bytes(data[body_end : body_end + 4]):
            raise _malformed("PNG", f"chunk {kind!r} at offset {pos} has a bad CRC")
        if (pos == 8) != (kind == b"IHDR") or (kind in _PNG_UNIQUE and kind in seen):
            raise _malformed("PNG", f"chunk {kind!r} out of place or repeated (ambiguous image)")
        seen.add(kind)
        _classify_png_chunk(scan, budget, kind, body)
        pos = body_end + 4
        if kind == b"IEND":
            scan.end = pos
            return


def _classify_png_chunk(scan: Scan, budget: _PngTextBudget, kind: bytes, body: bytes) -> None:
    keyword, _, rest = body.partition(b"\0")
    if kind in _PNG_REBUILT:
        return
    if kind == b"tEXt":
        budget.charge(len(rest))
        scan.found(TEXT_CHUNK)
    elif kind == b"zTXt":
        budget.inflate(rest[1:])
        scan.found(TEXT_CHUNK)
    elif kind == b"iTXt":
        text = rest[2:].split(b"\0", 2)[-1]  # after the language tag and translated keyword
        if rest[:1] == b"\x01":  # compression flag
            budget.inflate(text)
        else:
            budget.charge(len(text))
        scan.found(XMP if keyword == b"XML:com.adobe.xmp" else TEXT_CHUNK)
    elif kind == b"eXIf":
        scan.found(EXIF)
    elif kind == b"iCCP":
        budget.inflate(rest[1:])
        scan.found(ICC_PROFILE)
    elif kind[0] & 0x20 == 0:  # an unknown critical chunk must not be skipped (PNG spec 5.4)
        raise _malformed("PNG", f"unknown critical chunk {kind!r}")
    else:
        scan.found(OTHER_METADATA, kind.decode("latin-1"))


# --- GIF ---------------------------------------------------------------------------------

_GIF_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _walk_gif(data: bytes, scan: Scan) -> None:
    pos = 13 + _colour_table_size(data, 10)
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            scan.end = pos + 1
            return
        if block == 0x2C:  # image descriptor, optional local colour table, LZW code size
            pos += 10 + _colour_table_size(data, pos + 9) + 1
            pos = _skip_sub_blocks(data, pos)
        elif block == 0x21 and pos + 1 < len(data):
            label = data[pos + 1]
            first = data[pos + 3 : pos + 3 + data[pos + 2]] if pos + 2 < len(data) else b""
            _classify_gif_extension(scan, label, first)
            pos = _skip_sub_blocks(data, pos + 2)
        else:
            raise _malformed("GIF", f"unexpected block 0x{block:02X} at offset {pos}")
    raise _malformed("GIF", "no trailer (truncated)")


def _colour_table_size(data: bytes, flags_at: int) -> int:
    if flags_at >= len(data):
        raise _malformed("GIF", "truncated header")
    flags = data[flags_at]
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise _malformed("GIF", "data sub-blocks run past the end (truncated)")


def _classify_gif_extension(scan: Scan, label: int, first_block: bytes) -> None:
    if label == 0xFE:
        scan.found(COMMENT)
    elif label == 0x01:  # plain text extension: text drawn over the image by some viewers
        scan.found(TEXT_CHUNK)
    elif label == 0xFF and first_block.startswith(b"XMP DataXMP"):
        scan.found(XMP)
    elif label == 0xFF and not first_block.startswith(_GIF_LOOP_APPS):
        scan.found(OTHER_METADATA, f"application extension {first_block[:8].decode('latin-1')}")
    elif label not in (0xF9, 0xFF):  # graphic control extension and loop count are rebuilt
        scan.found(OTHER_METADATA, f"extension 0x{label:02X}")


# --- WebP --------------------------------------------------------------------------------

_WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"})
_ANMF_HEADER = 16  # frame position, size, duration and flags precede the frame's chunks


def _walk_webp(data: bytes, scan: Scan) -> None:
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise _malformed("WebP", "RIFF size runs past the end of the file (truncated)")
    chunks = list(_riff_chunks(data, 12, end))
    if chunks:
        kind, start, stop = chunks[0]
        scan.declared_size = _webp_canvas(kind, data[start:stop])
    chunks += [
        frame_chunk
        for kind, start, stop in chunks
        if kind == b"ANMF"
        for frame_chunk in _riff_chunks(data, start + _ANMF_HEADER, stop)
    ]
    for kind, _, _ in chunks:
        if kind == b"EXIF":
            scan.found(EXIF)
        elif kind == b"XMP ":
            scan.found(XMP)
        elif kind == b"ICCP":
            scan.found(ICC_PROFILE)
        elif kind not in _WEBP_IMAGE_CHUNKS:
            scan.found(OTHER_METADATA, kind.decode("latin-1"))
    kinds = {kind for kind, _, _ in chunks}
    scan.lossless = b"VP8L" in kinds and b"VP8 " not in kinds
    scan.end = end


def _webp_canvas(kind: bytes, header: bytes) -> tuple[int, int] | None:
    """The canvas size from the first chunk (libwebp allocates it when the file is opened)."""
    if kind == b"VP8X" and len(header) >= 10:
        return int.from_bytes(header[4:7], "little") + 1, int.from_bytes(header[7:10], "little") + 1
    if kind == b"VP8L" and len(header) >= 5:
        bits = int.from_bytes(header[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and len(header) >= 10:
        return int.from_bytes(header[6:8], "little") & 0x3FFF, int.from_bytes(header[8:10], "little") & 0x3FFF
    return None


def _riff_chunks(data: bytes, pos: int, end: int) -> Iterable[tuple[bytes, int, int]]:
    """(fourcc, payload start, payload end) of each chunk between pos and end."""
    while pos < end:
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        stop = pos + 8 + size
        if pos + 8 > end or stop > end:
            raise _malformed("WebP", f"chunk at offset {pos} overruns its container")
        yield data[pos : pos + 4], pos + 8, stop
        pos = stop + (size & 1)


# --- TIFF (tags as decoded by Pillow) ------------------------------------------------------

#: Tags that describe the pixels; the TIFF writer emits its own.
_TIFF_IMAGE_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282, 283, 284}
    | {290, 291, 296, 297, 317, 318, 319, 320, 322, 323, 324, 325, 338, 339, 340, 341, 347}
    | {529, 530, 531, 532}
)
_TIFF_METADATA_TAGS = {
    34665: EXIF,
    34853: GPS,
    700: XMP,
    33723: IPTC,
    34377: IPTC,  # Photoshop image resources, which carry IPTC
    270: COMMENT,  # ImageDescription
    34675: ICC_PROFILE,
    # descriptive IFD0 tags, the same ones EXIF carries in JPEG
    269: EXIF,
    271: EXIF,
    272: EXIF,
    285: EXIF,
    305: EXIF,
    306: EXIF,
    315: EXIF,
    316: EXIF,
    33432: EXIF,
}


def scan_tiff_tags(scan: Scan, tags: Iterable[int]) -> None:
    """Add one TIFF page's metadata to ``scan``: each construct once per page."""
    present = set(tags)
    for construct in sorted({_TIFF_METADATA_TAGS[tag] for tag in present if tag in _TIFF_METADATA_TAGS}):
        scan.found(construct)
    for tag in sorted(present - _TIFF_IMAGE_TAGS - _TIFF_METADATA_TAGS.keys()):
        name = TiffTags.lookup(tag).name
        scan.found(OTHER_METADATA, f"TIFF tag {tag}" if name == "unknown" else f"TIFF tag {name}")


def _walk_nothing(data: bytes, scan: Scan) -> None:
    """TIFF metadata is read from the decoded tags; BMP carries none."""


_WALKERS: dict[str, Callable[[bytes, Scan], None]] = {
    "jpeg": _walk_jpeg,
    "png": _walk_png,
    "gif": _walk_gif,
    "webp": _walk_webp,
    "tiff": _walk_nothing,
    "bmp": _walk_nothing,
}


def scan_structure(image_type: str, data: bytes) -> Scan:
    """Walk ``data`` as ``image_type``; framing errors are kept in ``Scan.damage``.

    Raises LimitError at once for what would be a bomb inside Pillow's metadata readers
    (PNG text chunks).
    """
    scan = Scan()
    try:
        _WALKERS[image_type](data, scan)
    except MalformedError as exc:
        scan.damage = exc
    return scan
