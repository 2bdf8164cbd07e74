"""The verifier's own look at binary payloads: images, inline images, colour profiles and
font programs hold only what the rebuild (or 画像化) writes, judged from the output alone.

* Image XObjects carry one codec at most, of those the rebuild writes: Flate samples that
  end where the zlib stream ends and with the image's last row; JPEG that ends at its
  end-of-image marker, padding aside (the image sanitiser's structural walk); CCITT G4
  that is exactly what libtiff writes of the samples PDFium decodes from it.
* Inline images are hexadecimal digits over one of those codecs, or over bare samples
  (the glyph masks of 画像化).
* ICC profiles equal LittleCMS's rewriting of themselves, or the standard sRGB profile.
* Font programs are /FontFile2, or /FontFile3 of a subtype the rebuild writes; OTS
  accepts each and writes it back unchanged.  OTS rewrites a PostScript name of its own
  output once more, so the ``name`` table is held to carrying nothing outside its strings
  instead, and ``head`` to differing only in its checksum adjustment.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pikepdf

from sanitizers.base import Limits
from sanitizers.errors import MalformedError
from sanitizers.images.scan import scan_structure
from sanitizers.pdf.bilevel import CCITT, BilevelImage, decoded_bits
from sanitizers.pdf.fonts import (
    BARE_CFF_SUBTYPES,
    cff_in_opentype,
    sanitized_by_ots,
    sanitized_sfnt,
    sfnt_file,
    sfnt_tables,
    table_of,
)
from sanitizers.pdf.group4 import group4
from sanitizers.pdf.icc import MAX_PROFILE_SIZE, reserialised, standard_srgb
from sanitizers.pdf.images import DCT, PADDING, needed_samples
from sanitizers.pdf.limits import FLATE, decode_within_limit, filter_names
from sanitizers.pdf.screen import referenced as _referenced
from sanitizers.pdf.values import entries_of, int_of, name_of, printable

HEX = frozenset({"/ASCIIHexDecode", "/AHx"})
WRITTEN_CODECS = FLATE | DCT | CCITT
FONT_SUBTYPES = BARE_CFF_SUBTYPES | {"/OpenType"}
#: Where qpdf's serialisation of an object points to a profile or a font program.
_PAYLOAD_REFERENCE = re.compile(rb"/(ICCBased|DestOutputProfile|FontFile[23]?) (\d+) (\d+) R")
#: A colour space of two references, as qpdf writes it: its family may be an indirect name.
_REFERENCE_PAIR = re.compile(rb"\[ (\d+) (\d+) R (\d+) (\d+) R \]")
_HEX_DATA = re.compile(rb"[0-9A-Fa-f]*>")
_PDF_WHITESPACE = b" \t\r\n\f\0"
_HEAD_CHECKSUM = slice(8, 12)

Entries = Mapping[str, object]


@dataclass(frozen=True)
class _Fax:
    image: BilevelImage
    where: str


class PayloadChecks:
    """Collects what one scan of an output meets, and judges it; ``finish`` says what fails."""

    def __init__(self, pdf: pikepdf.Pdf, limits: Limits, rerun_encoders: bool = True) -> None:
        self.pdf = pdf
        self.limits = limits
        #: whether fonts go through OTS again, G4 images through libtiff again and colour
        #: profiles through LittleCMS again, to compare
        self.rerun_encoders = rerun_encoders
        self.problems: list[str] = []
        self._faxes: list[_Fax] = []
        self._profiles: dict[tuple[int, int], str] = {}
        self._fonts: dict[tuple[int, int], tuple[str, str]] = {}

    def note_references(self, untrusted_text: bytes, where: str) -> None:
        """Profiles and font programs that an object's serialisation points to."""
        for kind, number, generation in _PAYLOAD_REFERENCE.findall(untrusted_text):
            objgen = (int(number), int(generation))
            if kind.startswith(b"FontFile"):
                self._fonts.setdefault(objgen, (f"/{kind.decode()}", where))
            else:
                self._profiles.setdefault(objgen, where)
        for family, generation, number, profile_generation in _REFERENCE_PAIR.findall(untrusted_text):
            if name_of(_referenced(self.pdf, (int(family), int(generation)))) == "/ICCBased":
                self._profiles.setdefault((int(number), int(profile_generation)), where)

    def image(self, stream: pikepdf.Object, entries: Entries, where: str) -> None:
        filters = filter_names(stream)
        if filters is None or len(filters) > 1 or not set(filters) <= WRITTEN_CODECS:
            self._flag(where, f"an image under {_shown(filters)}")
            return
        codec = filters[0] if filters else None
        parms = entries.get("/DecodeParms")
        self._codec(codec, stream.read_raw_bytes(), parms, entries, where)

    def inline_images(self, instructions: Iterable[pikepdf.ContentStreamInstructions], where: str) -> None:
        for instruction in instructions:
            if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                self._inline_image(instruction.iimage, where)

    def finish(self) -> list[str]:
        self._check_faxes()
        for objgen, where in self._profiles.items():
            self._check_profile(objgen, where)
        self._check_fonts()
        return self.problems

    def _flag(self, where: str, what: str) -> None:
        self.problems.append(f"{what} in {where}")

    def _inline_image(self, image: pikepdf.PdfInlineImage, where: str) -> None:
        entries = entries_of(image.obj)
        filters = filter_names(image.obj) or []
        if not filters or filters[0] not in HEX or len(filters) > 2 or not set(filters[1:]) <= WRITTEN_CODECS:
            self._flag(where, f"an inline image under {_shown(filters)}")
            return
        untrusted_data = image.read_raw_bytes().rstrip(_PDF_WHITESPACE)
        if _HEX_DATA.fullmatch(untrusted_data) is None or len(untrusted_data) % 2 == 0:
            self._flag(where, "inline image data that is not hexadecimal digits and its end")
            return
        coded = bytes.fromhex(untrusted_data[:-1].decode("ascii"))
        parms = entries.get("/DecodeParms")
        codec_parms = parms[1] if isinstance(parms, pikepdf.Array) and len(parms) == 2 else None
        if not self._check_pixels(entries, where):
            return
        if len(filters) == 1:
            if parms is not None:
                self._flag(where, "decoding parameters on hexadecimal samples")
            return
        self._codec(filters[1], coded, codec_parms, entries, where)

    def _codec(
        self, codec: str | None, untrusted_data: bytes, parms: object, entries: Entries, where: str
    ) -> None:
        """The codec's data as the rebuild writes it; the image's size is checked apart."""
        if codec in FLATE:
            self._check_flate(untrusted_data, parms, entries, where)
        elif codec in DCT:
            scan = scan_structure("jpeg", untrusted_data)
            if scan.damage is not None or scan.end is None:
                self._flag(where, "a JPEG image that does not parse")
            elif untrusted_data[scan.end :].strip(PADDING):
                self._flag(where, "data after the end of a JPEG image")
        elif codec in CCITT:
            self._note_fax(untrusted_data, parms, entries, where)
        elif codec is None and len(needed_samples(entries, untrusted_data)) < len(untrusted_data):
            self._flag(where, "samples after an image's last row")

    def _check_pixels(self, entries: Entries, where: str) -> bool:
        width, height = int_of(entries.get("/Width")), int_of(entries.get("/Height"))
        if width is None or height is None or width * height > self.limits.max_pixels:
            self._flag(where, "an image beyond max_pixels")
            return False
        return True

    def _check_flate(self, untrusted_data: bytes, parms: object, entries: Entries, where: str) -> None:
        inflater = zlib.decompressobj()
        try:
            samples = inflater.decompress(untrusted_data, self.limits.max_stream_size + 1)
        except zlib.error:
            return  # what inflates is all a reader shows, as the rebuild keeps it
        if inflater.unconsumed_tail:
            self._flag(where, "an image beyond max_stream_size")
        elif inflater.unused_data.strip(PADDING):
            self._flag(where, "data after the end of an image's compressed samples")
        elif not _has_predictor(parms) and len(needed_samples(entries, samples)) < len(samples):
            self._flag(where, "samples after an image's last row")

    def _note_fax(self, untrusted_data: bytes, parms: object, entries: Entries, where: str) -> None:
        width, height = int_of(entries.get("/Width")), int_of(entries.get("/Height"))
        written = {"/K": -1, "/Columns": width, "/Rows": height, "/BlackIs1": True}
        if not isinstance(parms, pikepdf.Dictionary) or entries_of(parms) != written:
            self._flag(where, "a fax image coded otherwise than as the rebuild writes G4")
        elif width is not None and height is not None and width * height <= self.limits.max_pixels:
            self._faxes.append(
                _Fax(BilevelImage("/CCITTFaxDecode", untrusted_data, parms, width, height), where)
            )

    def _check_faxes(self) -> None:
        if not self.rerun_encoders:
            return
        decoded = decoded_bits([fax.image for fax in self._faxes], self.limits)
        for fax, bits in zip(self._faxes, decoded, strict=True):
            if bits is None or group4(bits) != fax.image.untrusted_data:
                self._flag(fax.where, "a G4 image that is not what libtiff writes of its samples")

    def _check_profile(self, objgen: tuple[int, int], where: str) -> None:
        stream = _stream(self.pdf, objgen)
        untrusted_profile = None
        if stream is not None:
            untrusted_profile = decode_within_limit(
                stream, min(self.limits.max_stream_size, MAX_PROFILE_SIZE)
            )
        if stream is None or untrusted_profile is None:
            self._flag(where, "an ICC profile that is not a stream under general filters")
            return
        if untrusted_profile == standard_srgb() or not self.rerun_encoders:
            return
        try:
            clean = reserialised(untrusted_profile, int_of(stream.get("/N")))
        except MalformedError:
            clean = None
        if clean != untrusted_profile:
            self._flag(where, "an ICC profile that is not as LittleCMS writes it")

    def _check_fonts(self) -> None:
        programs = []
        for objgen, (key, where) in self._fonts.items():
            stream = _stream(self.pdf, objgen)
            subtype = name_of(stream.get("/Subtype")) if stream is not None else None
            untrusted_font = (
                decode_within_limit(stream, self.limits.max_stream_size) if stream is not None else None
            )
            if key == "/FontFile" or (key == "/FontFile3" and subtype not in FONT_SUBTYPES):
                self._flag(where, f"a {key} font program of subtype {printable(subtype or 'none')}")
            elif untrusted_font is None:
                self._flag(where, f"a {key} font program that is not a stream under general filters")
            else:
                programs.append((untrusted_font, subtype in BARE_CFF_SUBTYPES, where))
        if not programs or not self.rerun_encoders:
            return
        for untrusted_font, bare_cff, where in programs:
            problem = _font_problem(untrusted_font, bare_cff)
            if problem is not None:
                self._flag(where, problem)


def _font_problem(untrusted_font: bytes, bare_cff: bool) -> str | None:
    try:
        if bare_cff:
            same = table_of(sanitized_by_ots(cff_in_opentype(untrusted_font)), b"CFF ") == untrusted_font
        else:
            same = _as_ots_writes_it(untrusted_font, sanitized_sfnt(untrusted_font))
    except MalformedError as refusal:
        return f"a font program OTS refuses ({refusal.detail.removeprefix('embedded font: ')[:80]})"
    return None if same else "a font program that is not as OTS writes it"


def _as_ots_writes_it(untrusted_font: bytes, clean: bytes) -> bool:
    tables, clean_tables = sfnt_tables(untrusted_font), sfnt_tables(clean)
    if tables is None or clean_tables is None or tables.keys() != clean_tables.keys():
        return False
    if sfnt_file(untrusted_font[:4], tables) != untrusted_font:
        return False  # bytes outside its tables
    for tag, table in tables.items():
        if tag == b"name":
            if not _name_without_slack(table):
                return False
        elif tag == b"head":
            if _without_checksum(table) != _without_checksum(clean_tables[tag]):
                return False
        elif table != clean_tables[tag]:
            return False
    return True


def _without_checksum(head: bytes) -> bytes:
    return head[: _HEAD_CHECKSUM.start] + head[_HEAD_CHECKSUM.stop :]


def _name_without_slack(table: bytes) -> bool:
    """True for a ``name`` table whose storage is its strings end to end, in the order of
    its records (language tags last), as OTS writes it."""
    try:
        version, count, storage = (int(field) for field in struct.unpack_from(">HHH", table, 0))
        spans: list[tuple[int, int]] = [
            struct.unpack_from(">HH", table, 6 + 12 * index + 8) for index in range(count)
        ]
        end_of_records = 6 + 12 * count
        if version == 1:
            (tags,) = struct.unpack_from(">H", table, end_of_records)
            spans += [
                struct.unpack_from(">HH", table, end_of_records + 2 + 4 * index) for index in range(tags)
            ]
            end_of_records += 2 + 4 * tags
    except struct.error:
        return False
    if version > 1 or storage != end_of_records:
        return False
    at: int = storage
    for length, offset in spans:
        if storage + offset != at:
            return False
        at += length
    return at == len(table)


def _stream(pdf: pikepdf.Pdf, objgen: tuple[int, int]) -> pikepdf.Stream | None:
    found = _referenced(pdf, objgen)
    return found if isinstance(found, pikepdf.Stream) else None


def _has_predictor(parms: object) -> bool:
    """A predictor on the (last) filter's parameters: rows then carry a byte more."""
    if isinstance(parms, pikepdf.Array):
        parms = parms[len(parms) - 1] if len(parms) else None
    return isinstance(parms, pikepdf.Dictionary) and bool("/Predictor" in parms)


def _shown(filters: list[str] | None) -> str:
    if filters is None:
        return "a /Filter that is not made of names"
    return " ".join(printable(f) for f in filters) or "no filter"
