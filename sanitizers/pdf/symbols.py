"""Flat-colour pages as repeated symbols: each distinct bitmap is stored once.

Text rendered without anti-aliasing repeats the same few bitmaps: PDFium puts glyphs
on whole pixels, so every "e" of a font size looks the same.  Each ink colour of a
page is one layer, drawn as image masks in that colour.  A layer is cut into lines
(pixel rows without ink between them) and lines into symbols (columns without ink);
a line taller than a third of an inch holds several lines of side-by-side columns
that do not line up, and each of its pieces is cut again (recursive XY-cut).  Each
distinct small symbol becomes one glyph of a Type 3 font (``type3.py``), shared by
all pages of the document; large ones (rules, figures) become G4 image masks.  A line
is then a string of glyph codes.  This is JBIG2's symbol coding written with nothing
but image masks, which every reader draws, and it is lossless: the page shows exactly
the rendered pixels.  Pages that do not repeat themselves (scans, ruled tables) are
left to G4.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import pikepdf
from PIL import Image

from sanitizers.pdf.group4 import group4
from sanitizers.pdf.type3 import GlyphText, Type3Fonts

#: Runs of non-zero bytes in a projection: rows or columns that hold ink.
_INK_RUN = re.compile(rb"[^\x00]+")
#: Past this many symbols on one page the page is noise or halftone: G4 serves it better.
MAX_OCCURRENCES = 20_000
#: How deep lines are cut into columns and columns into lines again.
MAX_DEPTH = 6
#: Moves of the pen from MIN_BLANK to MAX_BLANK pixels are blank glyphs, others TJ
#: numbers.  Glyphs on whole pixels are an advance or one pixel more or less apart, so
#: a blank one pixel back serves as often as one forward.
MIN_BLANK = -1
MAX_BLANK = 64
#: Symbols with more pixels than this are stored G4-compressed, as image masks.
LARGE_SYMBOL = 64 * 64
#: Bytes a stored symbol costs beyond its bitmap (object header, dictionary, operators).
SYMBOL_OVERHEAD = 160
#: Bounds of the share of its new symbols a page pays for (see SymbolBook.symbol_share).
FIRST_PAGE_SHARE = 0.5
MIN_SHARE = 0.1
#: After this many pages in a row lost by symbols, only every RETRY_EVERY-th page tries.
LOSSES_BEFORE_PAUSE = 2
RETRY_EVERY = 8
FLATE_LEVEL = 6
#: Image masks are inset by this many pixels: readers that round an image's edges
#: outwards would otherwise thicken a glyph by a pixel at the slightest float error.
INSET = 0.05

_NAME_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)
SymbolKey = tuple[int, int, bytes]  # width, height, column-major ink bytes (255 = ink)
Region = tuple[int, int, int, int, int]  # left, top, right, bottom, depth


@dataclass
class SymbolPage:
    """One page's drawing operators in pixel units, and the symbols it adds."""

    width: int
    height: int
    content: bytes = b""
    occurrences: int = 0
    #: New small symbols by glyph number (see type3.py), and their advance widths.
    new_glyphs: dict[SymbolKey, int] = field(default_factory=dict)
    new_widths: dict[int, int] = field(default_factory=dict)
    #: New large symbols by XObject name.
    new_masks: dict[SymbolKey, str] = field(default_factory=dict)
    reused: set[int | str] = field(default_factory=set)

    def drawing_size(self) -> int:
        """Bytes of the page's compressed drawing operators."""
        return len(zlib.compress(self.content, FLATE_LEVEL))

    def new_symbols_size(self) -> int:
        """Bytes the page's new symbols will take (bits in hex, deflated, plus overhead)."""
        return sum(SYMBOL_OVERHEAD + (w * h * 5) // 32 for w, h, _ in (*self.new_glyphs, *self.new_masks))


@dataclass
class _Line:
    """Symbols side by side, each at its left edge in the layer."""

    bottom: int  # from the page's bottom edge
    glyphs: list[tuple[int, int]]  # small symbols by glyph number
    masks: list[tuple[int, SymbolKey, str]]  # large ones, with their XObject names


class SymbolBook:
    """The symbols of one output document, shared by all its pages."""

    def __init__(self, output: pikepdf.Pdf, tall_line: int) -> None:
        """``tall_line``: the height in pixels above which a line is cut again."""
        self.output = output
        self.tall_line = tall_line
        self.glyphs: dict[SymbolKey, int] = {}
        self.masks: dict[SymbolKey, str] = {}
        self.reused: set[int | str] = set()  # symbols drawn again on a page after the one that stored them
        self.losing_streak = 0  # pages in a row where another encoding beat the symbols
        self.xobjects = pikepdf.Dictionary()
        self.resources = output.make_indirect(pikepdf.Dictionary(XObject=self.xobjects))
        self.fonts = Type3Fonts(output, self.resources)

    def draw_paper(self, page: SymbolPage, colour: Colour) -> None:
        """Fill the page with its background colour (white paper needs nothing)."""
        if colour != WHITE:
            page.content += b"%s rg 0 0 %d %d re f\n" % (_rgb(colour), page.width, page.height)

    def draw_layer(self, page: SymbolPage, ink: Image.Image, colour: Colour) -> bool:
        """Add the symbols of one colour, given as an "L" image (ink 255, paper 0).

        False when the page holds too many symbols to be worth it.
        """
        lines: list[tuple[int, list[tuple[int, SymbolKey]]]] = []  # bottom, pieces
        regions: list[Region] = [(0, 0, ink.width, ink.height, 0)]
        while regions:
            left, top, right, bottom, depth = regions.pop()
            region = ink.crop((left, top, right, bottom))
            _, rows = region.im.getprojection()  # per row: 1 if any ink (Pillow's C helper)
            for line in _INK_RUN.finditer(bytes(rows)):
                line_top, line_bottom = line.span()
                band = region.crop((0, line_top, region.width, line_bottom))
                columns, _ = band.im.getprojection()
                pieces = [run.span() for run in _INK_RUN.finditer(bytes(columns))]
                line_height = line_bottom - line_top
                whole = pieces == [(0, region.width)] and line_height == region.height
                if line_height > self.tall_line and depth < MAX_DEPTH and not whole:
                    regions.extend(
                        (left + x0, top + line_top, left + x1, top + line_bottom, depth + 1)
                        for x0, x1 in pieces
                    )
                    continue
                page.occurrences += len(pieces)
                if page.occurrences > MAX_OCCURRENCES:
                    return False
                lines.append((ink.height - top - line_bottom, _keyed(band, pieces, left)))
        page.content += b"%s rg\n" % _rgb(colour) + self._drawing(page, self._named(page, lines))
        return True

    def _named(self, page: SymbolPage, lines: list[tuple[int, list[tuple[int, SymbolKey]]]]) -> list[_Line]:
        """The lines with their symbols named, new ones numbered, and new glyphs given
        the advance that needs the fewest moves after them in this layer."""
        first_new = len(self.glyphs)
        named = []
        for bottom, pieces in lines:
            line = _Line(bottom, [], [])
            for x, key in pieces:
                if key[0] * key[1] > LARGE_SYMBOL:
                    line.masks.append((x, key, self._mask_name(page, key)))
                    continue
                line.glyphs.append((x, self._glyph(page, key)))
            named.append(line)
        advances: dict[int, Counter[int]] = {}
        for line in named:
            for (x, glyph), (x_next, _) in zip(line.glyphs, line.glyphs[1:], strict=False):
                if glyph >= first_new and glyph not in page.new_widths:
                    advances.setdefault(glyph, Counter())[x_next - x] += 1
        for key, glyph in page.new_glyphs.items():
            if glyph not in page.new_widths:
                counted = advances.get(glyph, Counter())
                # A symbol only seen at the end of a line: its own width, a guess.
                page.new_widths[glyph] = min(
                    counted, key=lambda width: _moves_cost(counted, width), default=key[0]
                )
        return named

    def _glyph(self, page: SymbolPage, key: SymbolKey) -> int:
        return _symbol_id(key, self.glyphs, page.new_glyphs, page.reused, int)

    def _mask_name(self, page: SymbolPage, key: SymbolKey) -> str:
        return _symbol_id(key, self.masks, page.new_masks, page.reused, _short_name)

    def _drawing(self, page: SymbolPage, lines: list[_Line]) -> bytes:
        """One text object for the layer's glyphs, then its large symbols as image masks.

        Each line starts with a move from the previous line's start; along a line the
        pen moves by the glyphs' advances.  Where the next symbol sits elsewhere, a
        blank glyph of the missing width moves the pen (one byte, where a TJ number
        takes four), or a TJ number for long moves.  All moves are whole pixels, exact
        in any reader's floats.
        """
        text = GlyphText()
        large: list[bytes] = []
        stored_widths, new_widths = self.fonts.widths, page.new_widths
        first_new = len(stored_widths)
        blanks: dict[int, int] = {}
        line_x, line_y = 0, 0
        for line in lines:
            for x, (width, height, _), name in line.masks:  # stored without a form around it
                matrix = inset_matrix(width, height)
                large.append(b"q 1 0 0 1 %d %d cm %s %s Do Q\n" % (x, line.bottom, matrix, name.encode()))
            if not line.glyphs:
                continue
            pen = line.glyphs[0][0]
            text.next_line(pen - line_x, line.bottom - line_y)
            line_x, line_y = pen, line.bottom
            for x, glyph in line.glyphs:
                if x != pen:
                    gap = x - pen
                    if MIN_BLANK <= gap <= MAX_BLANK:
                        blank = blanks.get(gap)
                        if blank is None:
                            blank = blanks[gap] = self._blank(page, gap)
                        text.glyph(blank)
                    else:
                        text.move(gap)
                text.glyph(glyph)
                pen = x + (stored_widths[glyph] if glyph < first_new else new_widths[glyph])
        return b"BT\n%sET\n" % text.operators_bytes() + b"".join(large)

    def _blank(self, page: SymbolPage, width: int) -> int:
        """The glyph that draws nothing and moves the pen ``width`` pixels."""
        glyph = self._glyph(page, (width, 0, b""))
        if glyph >= len(self.glyphs):
            page.new_widths[glyph] = width
        return glyph

    def commit(self, page: SymbolPage) -> None:
        """Store the page's new symbols in the document."""
        for key, glyph in page.new_glyphs.items():
            self.fonts.add(_bits(key) if key[1] else None, page.new_widths[glyph])
            self.glyphs[key] = glyph
        for key, name in page.new_masks.items():
            self.xobjects[name] = self._image_mask(_bits(key))
            self.masks[key] = name
        self.reused |= page.reused

    def worth_trying(self) -> bool:
        """False while symbols keep losing (a scan, serif text whose letters touch):
        cutting every page would only cost time.  Every eighth page tries again."""
        return self.losing_streak < LOSSES_BEFORE_PAUSE or self.losing_streak % RETRY_EVERY == 0

    def note_outcome(self, symbols_won: bool) -> None:
        self.losing_streak = 0 if symbols_won else self.losing_streak + 1

    def symbol_share(self, last_page: bool) -> float:
        """The share of its new symbols a page should pay for, judged by how often the
        symbols of earlier pages were drawn again: letters of one typeface come back,
        word-sized blobs of touching serif letters rarely do.  Without history, half;
        the last page pays for all of its own, since nothing follows to reuse them."""
        if last_page:
            return 1.0
        stored = len(self.glyphs) + len(self.masks)
        if not stored:
            return FIRST_PAGE_SHARE
        return max(MIN_SHARE, 1.0 - len(self.reused) / stored)

    def _image_mask(self, bits: Image.Image) -> pikepdf.Object:
        width, height = bits.size
        mask = self.output.make_stream(
            b"",
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=width,
            Height=height,
            ImageMask=True,
            Decode=pikepdf.Array([1, 0]),
        )
        compressed = group4(bits)
        if compressed is None:
            mask.write(zlib.compress(bits.tobytes(), FLATE_LEVEL), filter=pikepdf.Name.FlateDecode)
        else:
            parameters = pikepdf.Dictionary(K=-1, Columns=width, Rows=height, BlackIs1=True)
            mask.write(compressed, filter=pikepdf.Name.CCITTFaxDecode, decode_parms=parameters)
        return mask


_Id = TypeVar("_Id", int, str)


def _symbol_id(
    key: SymbolKey,
    stored: Mapping[SymbolKey, _Id],
    new: dict[SymbolKey, _Id],
    reused: set[int | str],
    make: Callable[[int], _Id],
) -> _Id:
    """``key``'s glyph number or XObject name: stored already (and so reused by this page),
    new on this page, or made now from the next free number."""
    found = stored.get(key)
    if found is not None:
        reused.add(found)
        return found
    if key not in new:
        new[key] = make(len(stored) + len(new))
    return new[key]


def _rgb(colour: Colour) -> bytes:
    return b" ".join(b"%.4g" % (channel / 255) for channel in colour)


def _short_name(number: int) -> str:
    """/sa, /sb, … /sZ, /sba, …: short, since the most drawn names appear on every page.

    The fixed "s" keeps them clear of every key name PDF gives a meaning (/AA, /JS, …).
    """
    letters = []
    while True:
        number, digit = divmod(number, len(_NAME_LETTERS))
        letters.append(_NAME_LETTERS[digit])
        if number == 0:
            return "/s" + "".join(reversed(letters))


def _keyed(band: Image.Image, pieces: list[tuple[int, int]], left: int) -> list[tuple[int, SymbolKey]]:
    """Each piece of a line with its bitmap as a key, at its left edge in the layer."""
    height = band.height
    column_major = band.transpose(Image.Transpose.TRANSPOSE).tobytes()  # a column is a byte run
    return [(left + x0, (x1 - x0, height, column_major[x0 * height : x1 * height])) for x0, x1 in pieces]


def _moves_cost(advances: Counter[int], width: int) -> int:
    """Bytes of the moves a glyph of this width needs after it, given the advances seen:
    a blank glyph where the next symbol sits a little off, a TJ number where far off."""
    return sum(
        count * (0 if advance == width else 1 if MIN_BLANK <= advance - width <= MAX_BLANK else 4)
        for advance, count in advances.items()
    )


def _bits(key: SymbolKey) -> Image.Image:
    """The symbol as a "1" image, 1 = ink."""
    width, height, column_major = key
    mask = Image.frombytes("L", (height, width), column_major).transpose(Image.Transpose.TRANSPOSE)
    return mask.convert("1", dither=Image.Dither.NONE)


def inset_matrix(width: int, height: int) -> bytes:
    """Scale the unit square to width × height pixels, less the inset on every side."""
    return b"%.2f 0 0 %.2f %.2f %.2f cm" % (width - 2 * INSET, height - 2 * INSET, INSET, INSET)
