"""Flat-colour pages as repeated symbols: each distinct bitmap is stored once.

Text rendered without anti-aliasing repeats the same few bitmaps: PDFium puts glyphs
on whole pixels, so every "e" of a font size looks the same.  Each ink colour of a
page is one layer, drawn as image masks in that colour.  A layer is cut into lines
(pixel rows without ink between them) and lines into symbols (columns without ink);
a line taller than a third of an inch holds several lines of side-by-side columns
that do not line up, and each of its pieces is cut again (recursive XY-cut).  Each
distinct small symbol becomes one form XObject, shared by all pages of the document;
large ones (rules, figures) become G4 image masks.  A page is then a list of relative
moves and draws.  This is JBIG2's symbol coding written with nothing but image masks,
which every reader draws, and it is lossless: the page shows exactly the rendered
pixels.  Pages that do not repeat themselves (scans, ruled tables) are left to G4.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import pikepdf
from PIL import Image

from sanitizers.pdf.group4 import group4

#: Runs of non-zero bytes in a projection: rows or columns that hold ink.
_INK_RUN = re.compile(rb"[^\x00]+")
#: Past this many symbols on one page the page is noise or halftone: G4 serves it better.
MAX_OCCURRENCES = 20_000
#: How deep lines are cut into columns and columns into lines again.
MAX_DEPTH = 6
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
    new_symbols: dict[SymbolKey, str] = field(default_factory=dict)
    reused: set[str] = field(default_factory=set)

    def drawing_size(self) -> int:
        """Bytes of the page's compressed drawing operators."""
        return len(zlib.compress(self.content, FLATE_LEVEL))

    def new_symbols_size(self) -> int:
        """Bytes the page's new symbols will take (bits in hex, deflated, plus overhead)."""
        return sum(SYMBOL_OVERHEAD + (w * h * 5) // 32 for w, h, _ in self.new_symbols)


class SymbolBook:
    """The symbols of one output document, shared by all its pages."""

    def __init__(self, output: pikepdf.Pdf, tall_line: int) -> None:
        """``tall_line``: the height in pixels above which a line is cut again."""
        self.output = output
        self.tall_line = tall_line
        self.names: dict[SymbolKey, str] = {}
        self.reused: set[str] = set()  # names drawn again on a page after the one that stored them
        self.losing_streak = 0  # pages in a row where another encoding beat the symbols
        self.xobjects = pikepdf.Dictionary()
        self.resources = output.make_indirect(pikepdf.Dictionary(XObject=self.xobjects))

    def draw_paper(self, page: SymbolPage, colour: Colour) -> None:
        """Fill the page with its background colour (white paper needs nothing)."""
        if colour != WHITE:
            page.content += b"%s rg 0 0 %d %d re f\n" % (_rgb(colour), page.width, page.height)

    def draw_layer(self, page: SymbolPage, ink: Image.Image, colour: Colour) -> bool:
        """Add the symbols of one colour, given as an "L" image (ink 255, paper 0).

        False when the page holds too many symbols to be worth it.
        """
        operators: list[bytes] = [b"%s rg\n" % _rgb(colour)]
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
                operators.append(b"q 1 0 0 1 %d %d cm\n" % (left, ink.height - top - line_bottom))
                operators.extend(self._draw_line(band, pieces, page))
                operators.append(b"Q\n")
        page.content += b"".join(operators)
        return True

    def _draw_line(self, band: Image.Image, pieces: list[tuple[int, int]], page: SymbolPage) -> list[bytes]:
        # Moves are relative within a line and restart from the page origin on each
        # line: readers compose matrices in single precision, and thousands of chained
        # moves would drift by a pixel.
        height = band.height
        column_major = band.transpose(Image.Transpose.TRANSPOSE).tobytes()  # a column is a byte run
        operators = []
        x_previous = 0
        for x0, x1 in pieces:
            key = (x1 - x0, height, column_major[x0 * height : x1 * height])
            name = self.names.get(key)
            if name is not None:
                page.reused.add(name)
            else:
                name = page.new_symbols.get(key)
            if name is None:
                name = _short_name(len(self.names) + len(page.new_symbols))
                page.new_symbols[key] = name
            operators.append(b"1 0 0 1 %d 0 cm " % (x0 - x_previous) + _draw(key, name))
            x_previous = x0
        return operators

    def commit(self, page: SymbolPage) -> None:
        """Store the page's new symbols in the document."""
        for key, name in page.new_symbols.items():
            self.xobjects[name] = self._stored(key)
            self.names[key] = name
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
        if not self.names:
            return FIRST_PAGE_SHARE
        return max(MIN_SHARE, 1.0 - len(self.reused) / len(self.names))

    def _stored(self, key: SymbolKey) -> pikepdf.Object:
        width, height, column_major = key
        mask = Image.frombytes("L", (height, width), column_major).transpose(Image.Transpose.TRANSPOSE)
        bits = mask.convert("1", dither=Image.Dither.NONE)  # 1 = ink
        if width * height > LARGE_SYMBOL:
            return self._image_mask(bits)
        # Hex-encoded inline data cannot contain a stray "EI" that would end the image early.
        content = b"q %s BI /W %d /H %d /IM true /D [1 0] /F /AHx ID %s> EI Q" % (
            inset_matrix(width, height),
            width,
            height,
            bits.tobytes().hex().encode(),
        )
        return self.output.make_stream(
            content,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=pikepdf.Array([0, 0, width, height]),
        )

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


def _draw(key: SymbolKey, name: str) -> bytes:
    """Operators that draw a stored symbol at the current origin."""
    width, height, _ = key
    if width * height > LARGE_SYMBOL:  # an image mask, stored without a form around it
        return b"q %s %s Do Q\n" % (inset_matrix(width, height), name.encode())
    return b"%s Do\n" % name.encode()


def inset_matrix(width: int, height: int) -> bytes:
    """Scale the unit square to width × height pixels, less the inset on every side."""
    return b"%.2f 0 0 %.2f %.2f %.2f cm" % (width - 2 * INSET, height - 2 * INSET, INSET, INSET)
