"""Pictures in Word, Excel and PowerPoint 97-2003 files, rebuilt where they lie.

Office keeps a picture as an OfficeArt BLIP record (MS-ODRAW 2.2.23 to 2.2.31): an
8-byte header, one or two 16-byte ids, then a tag byte and the image file (PNG, JPEG, DIB,
TIFF), or a 34-byte metafile header and the metafile, usually DEFLATE-compressed (EMF,
WMF, PICT).  A presentation's records lie in its ``Pictures`` stream, which holds nothing
else; a Word document keeps floating pictures in ``WordDocument`` (its table stream's
blip store points at them), inline ones in ``Data``, inside the PICF the text points at; a
workbook keeps them in the blip store of its drawing group, an OfficeArt container split
over the BIFF records of ``Workbook`` (MSODRAWINGGROUP and CONTINUE, and HFPicture records
for header and footer pictures): ``excel.py`` says which bytes are joined, and the rebuilt
drawing goes back into the same records, each keeping its size.

Every BLIP record of those streams (and of the table stream and ``PowerPoint
Document``, where a blip store may hold one) is found by its header: a BLIP type, version
0, an instance that type allows and a length that fits.  Its picture goes through the
image sanitiser (PNG, JPEG, DIB, TIFF: decoded to pixels and written anew, the stored
orientation kept, as ``sanitizers.rtf.pictures`` says why) or the metafile rebuild (EMF,
WMF: record by record), so data behind the image, metadata and polyglot structure go.

Offsets elsewhere point into these streams (FBSE foDelay, sprmCPicLocation, the persist
directory), so nothing may move: the rebuilt picture is written where the old one began
and the rest of its record is filled with zeros (a metafile's header says how much of it
to read; decoders stop at an image's end).  A rebuilt JPEG that does not fit is written at
a lower quality, down to 50.  Refused, never copied (``ole.picture``, which the rule's next
method, PDF化, may then render): a picture that still does not fit, one that does not
decode, a Macintosh PICT (nothing here reads one), a metafile that cannot be rebuilt.

Nothing is left unread that a reader could draw (fail closed, ``ole.picture``):

* every blip store entry (FBSE) must hold one of the rebuilt records or point at one in
  its delay stream (``WordDocument``, ``Pictures``);
* ``Pictures`` must be BLIP records (alone or in FBSEs) end to end;
* bytes of ``Data`` that start like an image file (PNG, JPEG, GIF, BMP, TIFF, EMF, WMF)
  outside the rebuilt pictures refuse the document: Word also draws pictures kept
  outside OfficeArt (a PICF holding a bare metafile, as Word 6 wrote them).

A rebuilt file's pictures are checked, not rebuilt again (a JPEG would lose quality at
every pass): each must end where its format ends, followed by zeros only, and be what
the rebuild writes (pixels, a valid colour profile; a metafile its rebuild leaves as it is).

In a workbook, nothing drawable may lie outside those drawings either: a BLIP record or
an image file (by the signatures above, but for a bare WMF header, which a sheet's shape
anchor can spell, and for a JPEG that no marker follows, as three bytes of a number can)
in the stream as stored or in what a reader joins (a record and its CONTINUE records, a
sheet's MSODRAWING records) refuses it; so do pictures kept outside OfficeArt, a sheet
background (BkHim) or a legacy picture (IMDATA).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sanitizers.base import Finding, Limits
from sanitizers.errors import PolicyError, SanitizeError
from sanitizers.images.metafile import rebuild_metafile
from sanitizers.images.rebuild import picture_type, reencode_picture, verify_image
from sanitizers.images.scan import scan_structure
from sanitizers.ole import excel

WORD_DOCUMENT, DATA, TABLE_STREAMS = "WordDocument", "Data", ("0Table", "1Table")
POWERPOINT_DOCUMENT, PICTURES = "PowerPoint Document", "Pictures"

_HEADER = struct.Struct("<HHI")  # recVer and recInstance, recType, recLen
_UID = 16
_TAG = 1
_METAFILE_HEADER = struct.Struct("<I16s8sIBB")  # cbSize, rcBounds, ptSize, cbSave, compression, filter
_DEFLATE, _UNCOMPRESSED, _NO_FILTER = 0x00, 0xFE, 0xFE
_RASTERS = frozenset({"png", "jpeg", "dib", "tiff"})
#: BLIP record type → (what it holds, the instances MS-ODRAW allows: an odd one has two ids)
_BLIP_KINDS: dict[int, tuple[str, frozenset[int]]] = {
    0xF01A: ("emf", frozenset({0x3D4, 0x3D5})),
    0xF01B: ("wmf", frozenset({0x216, 0x217})),
    0xF01C: ("pict", frozenset({0x542, 0x543})),
    0xF01D: ("jpeg", frozenset({0x46A, 0x46B, 0x6E2, 0x6E3})),
    0xF02A: ("jpeg", frozenset({0x46A, 0x46B, 0x6E2, 0x6E3})),
    0xF01E: ("png", frozenset({0x6E0, 0x6E1})),
    0xF01F: ("dib", frozenset({0x7A8, 0x7A9})),
    0xF029: ("tiff", frozenset({0x6E4, 0x6E5})),
}
_BLIP_HEADER = re.compile(
    b"|".join(
        re.escape(struct.pack("<HH", instance << 4, record_type))
        for record_type, (_kind, instances) in _BLIP_KINDS.items()
        for instance in sorted(instances)
    )
)
#: OfficeArtFBSE (MS-ODRAW 2.2.32): version 2, instance = the blip type (0 to 0x12).
_FBSE_TYPE, _FBSE_VERSION, _FBSE_FIXED = 0xF007, 0x2, 36
_FBSE_HEADER = re.compile(
    b"|".join(
        re.escape(struct.pack("<HH", instance << 4 | _FBSE_VERSION, _FBSE_TYPE)) for instance in range(0x13)
    )
)
_FBSE_FIELDS = struct.Struct("<BB16sHIIIBBBB")  # btWin32 .. unused3, then the name and the blip
_NO_DELAY = 0xFFFFFFFF
#: The start of an image file that says what it is.
_SIGNED_IMAGE_STARTS = (
    rb"\x89PNG\r\n\x1a\n|GIF8[79]a|II\*\x00|MM\x00\*"
    rb"|BM(?=.{4}\x00{4}.{4}[\x0c\x28\x34\x38\x6c\x7c]\x00{3})"  # BITMAPFILEHEADER, a DIB header's size
    rb"|\xd7\xcd\xc6\x9a"  # placeable WMF
    rb"|\x01\x00\x00\x00(?=.{36} EMF)"  # EMR_HEADER with the EMF signature
)
#: The start of an image file, for the bytes of Data that no rebuilt picture covers.
_IMAGE_STARTS = re.compile(
    _SIGNED_IMAGE_STARTS
    + rb"|\xff\xd8\xff"
    + rb"|[\x01\x02]\x00\x09\x00\x00[\x01\x03]",  # WMF header: type, 9 words, version
    re.DOTALL,
)
#: The same for a workbook, where nothing reads a bare metafile (a shape anchored at column 9
#: spells a WMF header) and a JPEG must show its first marker (a number's bytes can spell the
#: three before it).
_WORKBOOK_IMAGE_STARTS = re.compile(_SIGNED_IMAGE_STARTS + rb"|\xff\xd8\xff[\xc0-\xfe]", re.DOTALL)
#: Lower JPEG qualities tried, in turn, for a picture that does not fit its place.
FALLBACK_QUALITIES = (80, 70, 60, 50)
_BMP_FILE_HEADER = struct.Struct("<2sIHHI")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BI_RGB, _BI_BITFIELDS, _BI_ALPHABITFIELDS = 0, 3, 6


@dataclass(frozen=True)
class Blip:
    """One BLIP record: where it starts, what it holds and where that picture lies."""

    offset: int  # the record header
    kind: str  # png, jpeg, dib, tiff, emf, wmf or pict
    picture: int  # the image file, or the metafile header
    end: int  # the record's end


class PictureStep(Protocol):
    """What becomes of a picture: the bytes to write in its place (as many as it took)."""

    def __call__(self, kind: str, untrusted_picture: bytes) -> tuple[bytes, list[Finding]]: ...


#: (the streams to write, a step) → the streams with their pictures rebuilt, and findings
PictureRewriter = Callable[[Mapping[str, bytes], PictureStep], tuple[dict[str, bytes], list[Finding]]]


def _refused(why: str) -> PolicyError:
    return PolicyError("ole.picture", why)


# ── finding the records ─────────────────────────────────────────────────────────────────


def blip_at(stream: bytes, offset: int, end: int | None = None) -> Blip | None:
    """The BLIP record at ``offset`` if its header is one, within ``end``."""
    limit = len(stream) if end is None else end
    if offset + _HEADER.size > limit:
        return None
    version_instance, record_type, length = _HEADER.unpack_from(stream, offset)
    kind, instances = _BLIP_KINDS.get(record_type, ("", frozenset()))
    instance = version_instance >> 4
    if version_instance & 0xF or instance not in instances:
        return None
    ids = _UID * (1 + (instance & 1))
    picture = offset + _HEADER.size + ids + (_TAG if kind in _RASTERS else 0)
    record_end = offset + _HEADER.size + length
    if record_end > limit or picture + (0 if kind in _RASTERS else _METAFILE_HEADER.size) > record_end:
        return None
    return Blip(offset, kind, picture, record_end)


def find_blips(stream: bytes) -> list[Blip]:
    """Every BLIP record in ``stream``, by its header; records do not overlap."""
    found: list[Blip] = []
    pos = 0
    while (match := _BLIP_HEADER.search(stream, pos)) is not None:
        blip = blip_at(stream, match.start())
        if blip is None:
            pos = match.start() + 1
        else:
            found.append(blip)
            pos = blip.end
    return found


def delay_stream_blips(stream: bytes) -> list[Blip]:
    """The records of a presentation's ``Pictures`` stream, which must be BLIPs (alone or
    in an FBSE) end to end; a tail of zeros is no record."""
    found: list[Blip] = []
    pos = 0
    while pos < len(stream):
        blip = blip_at(stream, pos)
        if blip is None:
            fbse = _fbse_at(stream, pos)
            inner = (
                None if fbse is None or fbse.embedded is None else blip_at(stream, fbse.embedded, fbse.end)
            )
            if fbse is None or inner is None:
                if stream.count(0, pos) == len(stream) - pos:
                    break
                raise _refused(f"{PICTURES} holds something other than a picture at offset {pos}")
            blip, pos = inner, fbse.end
        else:
            pos = blip.end
        found.append(blip)
    return found


@dataclass(frozen=True)
class _Fbse:
    offset: int
    end: int
    embedded: int | None  # where the embedded BLIP starts, if the entry holds one
    delay: int | None  # where its BLIP lies in the delay stream, if it points at one


def _fbse_at(stream: bytes, offset: int) -> _Fbse | None:
    if offset + _HEADER.size + _FBSE_FIXED > len(stream):
        return None
    version_instance, record_type, length = _HEADER.unpack_from(stream, offset)
    end = offset + _HEADER.size + length
    if record_type != _FBSE_TYPE or version_instance & 0xF != _FBSE_VERSION or length < _FBSE_FIXED:
        return None
    if end > len(stream):
        return None
    fields = _FBSE_FIELDS.unpack_from(stream, offset + _HEADER.size)
    size, delay, name_length = fields[4], fields[6], fields[8]
    embedded = offset + _HEADER.size + _FBSE_FIXED + name_length
    if embedded > end:
        return None
    return _Fbse(
        offset,
        end,
        embedded if embedded < end else None,
        delay if embedded == end and size and delay != _NO_DELAY else None,
    )


def _check_blip_store(stream: bytes, name: str, rebuilt_here: set[int], delay_blips: set[int]) -> None:
    """Every FBSE of ``stream`` holds a rebuilt record or points at one in the delay stream."""
    pos = 0
    while (match := _FBSE_HEADER.search(stream, pos)) is not None:
        pos = match.start() + 1
        fbse = _fbse_at(stream, match.start())
        if fbse is None:
            continue
        if fbse.embedded is not None and fbse.embedded not in rebuilt_here:
            raise _refused(f"a blip store entry in {name} at {fbse.offset} holds no picture that was rebuilt")
        if fbse.delay is not None and fbse.delay not in delay_blips:
            raise _refused(
                f"a blip store entry in {name} at {fbse.offset} points at no picture that was rebuilt"
            )


def _check_no_stray_pictures(
    stream: bytes, name: str, blips: list[Blip], starts: re.Pattern[bytes] = _IMAGE_STARTS
) -> None:
    """No image file starts in ``stream`` outside the pictures rebuilt."""
    pos = 0
    for blip in [*blips, Blip(len(stream), "", len(stream), len(stream))]:
        match = starts.search(stream, pos, blip.picture)
        if match is not None:
            raise _refused(f"{name} holds an image at offset {match.start()} outside any picture record")
        pos = blip.end


# ── the formats ────────────────────────────────────────────────────────────────────────


@dataclass
class _Tally:
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, findings: list[Finding], where: str) -> None:
        for finding in findings:
            location = where if finding.location is None else f"{where}: {finding.location}"
            self.counts[finding.construct, finding.action, location] += finding.count

    @property
    def findings(self) -> list[Finding]:
        return [Finding(c, a, n, loc) for (c, a, loc), n in sorted(self.counts.items())]


def _rewritten(stream: bytes, blips: list[Blip], step: PictureStep, where: str, tally: _Tally) -> bytes:
    rewritten = bytearray(stream)
    for blip in blips:
        try:
            picture, findings = step(blip.kind, stream[blip.picture : blip.end])
        except SanitizeError as refusal:
            raise _refused(f"{blip.kind} picture in {where} at {blip.offset}: {refusal.detail}") from None
        if len(picture) != blip.end - blip.picture:
            raise _refused(f"{blip.kind} picture in {where} at {blip.offset} does not fit its place")
        rewritten[blip.picture : blip.end] = picture
        tally.add(findings, where)
    return bytes(rewritten)


def word_pictures(streams: Mapping[str, bytes], step: PictureStep) -> tuple[dict[str, bytes], list[Finding]]:
    """A Word document's pictures: ``WordDocument``, the table stream and ``Data``."""
    kept = dict(streams)
    tally = _Tally()
    found: dict[str, list[Blip]] = {}
    for name in (WORD_DOCUMENT, *TABLE_STREAMS, DATA):
        if name in kept:
            found[name] = find_blips(kept[name])
            kept[name] = _rewritten(kept[name], found[name], step, name, tally)
    delay = {blip.offset for blip in found.get(WORD_DOCUMENT, [])}
    for name in (*TABLE_STREAMS, DATA):
        if name in kept:
            _check_blip_store(kept[name], name, {blip.offset for blip in found[name]}, delay)
    if DATA in kept:
        _check_no_stray_pictures(kept[DATA], DATA, found[DATA])
    return kept, tally.findings


def powerpoint_pictures(
    streams: Mapping[str, bytes], step: PictureStep
) -> tuple[dict[str, bytes], list[Finding]]:
    """A presentation's pictures: ``Pictures``, and any BLIP in ``PowerPoint Document``."""
    kept = dict(streams)
    tally = _Tally()
    delayed = delay_stream_blips(kept.get(PICTURES, b""))
    if PICTURES in kept:
        kept[PICTURES] = _rewritten(kept[PICTURES], delayed, step, PICTURES, tally)
    document = kept.get(POWERPOINT_DOCUMENT, b"")
    inline = find_blips(document)
    if POWERPOINT_DOCUMENT in kept:
        kept[POWERPOINT_DOCUMENT] = _rewritten(document, inline, step, POWERPOINT_DOCUMENT, tally)
    _check_blip_store(document, POWERPOINT_DOCUMENT, {b.offset for b in inline}, {b.offset for b in delayed})
    return kept, tally.findings


def workbook_pictures(
    streams: Mapping[str, bytes], step: PictureStep
) -> tuple[dict[str, bytes], list[Finding]]:
    """A workbook's pictures: the BLIPs of its drawing group and of its header and footer
    pictures, each drawing joined from the records it is split over and written back into
    them; then nothing drawable may be left elsewhere in ``Workbook``."""
    kept = dict(streams)
    workbook = bytearray(kept[excel.MAIN_STREAM])
    walked = list(excel.records(kept[excel.MAIN_STREAM]))
    for record in walked:
        if record.type in (excel.BKHIM, excel.IMDATA):
            kind = "a sheet background (BkHim)" if record.type == excel.BKHIM else "a legacy picture (IMDATA)"
            raise _refused(f"{kind} at offset {record.offset} of {excel.MAIN_STREAM}, which is not rebuilt")
    tally = _Tally()
    drawings = [
        *((f"{excel.MAIN_STREAM} MSODRAWINGGROUP", group) for group in excel.drawing_groups(walked)),
        *((f"{excel.MAIN_STREAM} HFPicture", group) for group in excel.header_footer_drawings(walked)),
    ]
    for where, drawing in drawings:
        untrusted_drawing = drawing.read(workbook)
        blips = find_blips(untrusted_drawing)
        rebuilt = _rewritten(untrusted_drawing, blips, step, where, tally)
        _check_blip_store(rebuilt, where, {blip.offset for blip in blips}, set())
        _check_no_stray_pictures(rebuilt, where, blips, _WORKBOOK_IMAGE_STARTS)
        drawing.write(workbook, rebuilt)
    _check_nothing_else_drawable(bytes(workbook), walked, [drawing for _, drawing in drawings])
    kept[excel.MAIN_STREAM] = bytes(workbook)
    return kept, tally.findings


def _check_nothing_else_drawable(
    workbook: bytes, walked: list[excel.Record], drawings: list[excel.Joined]
) -> None:
    """No BLIP record and no image file outside the drawings rebuilt: neither in the stream
    as stored nor in what a reader joins from its records."""
    rest = bytearray(workbook)
    for drawing in drawings:
        drawing.write(rest, bytes(len(drawing.read(workbook))))
    joined = [*excel.with_continues(walked), *excel.sheet_drawings(walked)]
    for where, data in [
        (excel.MAIN_STREAM, bytes(rest)),
        *(
            (f"the records joined at offset {j.pieces[0][0]} of {excel.MAIN_STREAM}", j.read(rest))
            for j in joined
        ),
    ]:
        _check_no_stray_pictures(data, where, [], _WORKBOOK_IMAGE_STARTS)
        stray = find_blips(data)
        if stray:
            raise _refused(
                f"{where} holds a {stray[0].kind} picture record at {stray[0].offset}, outside the drawing group"
            )


# ── rebuilding and checking one picture ────────────────────────────────────────────────


@dataclass(frozen=True)
class RebuildPicture:
    """The rebuild: every picture written anew, in the room the old one took."""

    limits: Limits

    def __call__(self, kind: str, untrusted_picture: bytes) -> tuple[bytes, list[Finding]]:
        room = len(untrusted_picture)
        if kind in _RASTERS:
            picture, findings = _rebuilt_raster(kind, untrusted_picture, self.limits)
        else:
            picture, findings = _rebuilt_metafile(kind, untrusted_picture, self.limits)
        if len(picture) > room:
            raise _refused(f"a {kind} picture takes {len(picture)} bytes rebuilt, {room} where it lies")
        return picture + bytes(room - len(picture)), findings


@dataclass(frozen=True)
class CheckPicture:
    """The verification: every picture must already be what the rebuild writes."""

    limits: Limits

    def __call__(self, kind: str, untrusted_picture: bytes) -> tuple[bytes, list[Finding]]:
        if kind in ("png", "jpeg"):
            end = scan_structure(kind, untrusted_picture).end
            if end is None:
                raise _refused(f"a {kind} picture with no end")
            verify_image(untrusted_picture[:end], kind, icc_allowed=True, limits=self.limits)
        elif kind == "dib":
            end = _written_dib_size(untrusted_picture)
            verify_image(_as_bmp(untrusted_picture[:end]), "bmp", icc_allowed=True, limits=self.limits)
        elif kind == "tiff":
            rebuilt, _ = reencode_picture(untrusted_picture, self.limits, apply_orientation=False)
            end = len(rebuilt)
            if untrusted_picture[:end] != rebuilt:
                raise _refused("a TIFF picture that is not as the rebuild writes it")
        else:
            end = _checked_metafile_size(kind, untrusted_picture, self.limits)
        if untrusted_picture[end:].count(0) != len(untrusted_picture) - end:
            raise _refused(f"a {kind} picture followed by something other than zeros")
        return untrusted_picture, []


def _rebuilt_raster(kind: str, untrusted_picture: bytes, limits: Limits) -> tuple[bytes, list[Finding]]:
    image = _as_bmp(untrusted_picture) if kind == "dib" else _without_zero_fill(kind, untrusted_picture)
    expected = "bmp" if kind == "dib" else kind
    if picture_type(image) != expected:
        raise _refused(f"a {kind} picture record holding {picture_type(image) or 'no image'}")
    rebuilt, report = reencode_picture(image, limits, apply_orientation=False)
    # an image finding's location is about the picture alone: counted by stream instead
    findings = [Finding(f.construct, f.action, f.count) for f in report.findings if f.action != "kept"]
    room = len(untrusted_picture)
    if kind == "png" and len(rebuilt) > room:
        rebuilt = _deflated_harder(rebuilt)
    for quality in FALLBACK_QUALITIES if kind == "jpeg" and len(rebuilt) > room else ():
        rebuilt, _ = reencode_picture(image, limits, apply_orientation=False, quality=quality)
        if len(rebuilt) <= room:
            findings.append(Finding("ole.picture", "kept", 1, f"JPEG at quality {quality} to fit its place"))
            break
    return (rebuilt[_BMP_FILE_HEADER.size :] if kind == "dib" else rebuilt), findings


def _without_zero_fill(kind: str, untrusted_picture: bytes) -> bytes:
    """The picture without the zeros that fill its record after its end (as a rebuilt
    file's do): they carry nothing, and are not reported as data after the image."""
    end = scan_structure(kind, untrusted_picture).end if kind in ("png", "jpeg") else None
    if end is not None and untrusted_picture[end:].count(0) == len(untrusted_picture) - end:
        return untrusted_picture[:end]
    return untrusted_picture


def _deflated_harder(png: bytes) -> bytes:
    """A rebuilt PNG (ours, not the sender's) with its pixel data deflated again at zlib's
    highest level and default strategy: the image rule's writer favours speed, and Word
    packs its own pictures tighter.  Chunks and pixels stay as they are."""
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(_PNG_SIGNATURE)
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        chunks.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    first = next(index for index, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    pixels = zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT"))
    chunks = [chunk for chunk in chunks if chunk[0] != b"IDAT"]
    chunks.insert(first, (b"IDAT", zlib.compress(pixels, 9)))
    return _PNG_SIGNATURE + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in chunks
    )


def _as_bmp(dib: bytes) -> bytes:
    """A DIB (BITMAPINFOHEADER or BITMAPCOREHEADER, colours, pixels) as a BMP file."""
    if len(dib) < 16:
        raise _refused("a DIB picture shorter than its header")
    (header,) = struct.unpack_from("<I", dib)
    if header == 12:
        (bits,) = struct.unpack_from("<H", dib, 10)
        colours, entry, masks = (1 << bits if bits <= 8 else 0), 3, 0
    elif len(dib) >= 40 and header >= 40:
        bits, compression, _, _, _, used = struct.unpack_from("<HIIiiI", dib, 14)
        colours, entry = used or (1 << bits if bits <= 8 else 0), 4
        masks = {_BI_BITFIELDS: 12, _BI_ALPHABITFIELDS: 16}.get(compression, 0) if header == 40 else 0
    else:
        raise _refused(f"a DIB picture with a {header}-byte header")
    offset = _BMP_FILE_HEADER.size + header + masks + colours * entry
    return _BMP_FILE_HEADER.pack(b"BM", _BMP_FILE_HEADER.size + len(dib), 0, 0, offset) + dib


def _written_dib_size(dib: bytes) -> int:
    """How long a DIB is as the image rebuild writes one (a BMP's BITMAPINFOHEADER, BI_RGB)."""
    if len(dib) < 40:
        raise _refused("a DIB picture shorter than its header")
    header, width, height, _, bits, compression, _, _, _, used = struct.unpack_from("<IiiHHIIiiI", dib)
    if header != 40 or compression != _BI_RGB or width <= 0 or bits not in (1, 4, 8, 24, 32):
        raise _refused("a DIB picture that is not as the rebuild writes it")
    colours: int = used or (1 << bits if bits <= 8 else 0)
    return int(header + 4 * colours + (width * bits + 31) // 32 * 4 * abs(height))


# ── metafiles ───────────────────────────────────────────────────────────────────────────


def _metafile_parts(
    kind: str, untrusted_picture: bytes, limits: Limits
) -> tuple[tuple[object, ...], bytes, int]:
    """The metafile header's fields, the metafile (inflated) and where its data ends."""
    if kind == "pict":
        raise _refused("a Macintosh PICT picture, which nothing here can rebuild")
    header = _METAFILE_HEADER.unpack_from(untrusted_picture)
    size, _bounds, _extent, saved, compression, _filter = header
    end = _METAFILE_HEADER.size + saved
    if end > len(untrusted_picture) or compression not in (_DEFLATE, _UNCOMPRESSED):
        raise _refused(f"a {kind} picture whose header does not fit its record")
    if size > limits.max_stream_size:
        raise _refused(f"a {kind} picture of {size} bytes, over max_stream_size")
    stored = untrusted_picture[_METAFILE_HEADER.size : end]
    if compression == _UNCOMPRESSED:
        metafile = stored
    else:
        inflater = zlib.decompressobj()
        try:
            metafile = inflater.decompress(stored, size + 1)
        except zlib.error as exc:
            raise _refused(f"a {kind} picture that does not inflate: {exc}") from None
        if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
            raise _refused(f"a {kind} picture whose compressed data does not end where its header says")
    if len(metafile) != size:
        raise _refused(f"a {kind} picture of {len(metafile)} bytes where its header says {size}")
    return header, metafile, end


def _rebuilt_metafile(kind: str, untrusted_picture: bytes, limits: Limits) -> tuple[bytes, list[Finding]]:
    header, metafile, _end = _metafile_parts(kind, untrusted_picture, limits)
    _size, bounds, extent, _saved, compression, _filter = header
    rebuilt = rebuild_metafile(metafile)
    stored = rebuilt.data if compression == _UNCOMPRESSED else zlib.compress(rebuilt.data, 9)
    new_header = _METAFILE_HEADER.pack(
        len(rebuilt.data), bounds, extent, len(stored), compression, _NO_FILTER
    )
    findings = [Finding(construct, "removed", count) for construct, count in sorted(rebuilt.removed.items())]
    return new_header + stored, findings


def _checked_metafile_size(kind: str, untrusted_picture: bytes, limits: Limits) -> int:
    header, metafile, end = _metafile_parts(kind, untrusted_picture, limits)
    rebuilt = rebuild_metafile(metafile)
    if rebuilt.data != metafile or rebuilt.removed or header[5] != _NO_FILTER:
        raise _refused(f"a {kind} picture that is not as the rebuild writes it")
    return end
