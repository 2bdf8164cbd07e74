"""Symbols as the glyphs of Type 3 fonts, so that a line of them is one text operator.

A symbol drawn as a form XObject would cost a move and a draw, some twenty bytes, for
every letter on a page.  As a glyph, a letter costs one byte of a string: the font's
advance widths move the pen, and moves that differ from the usual advance are blank
glyphs of the difference, or TJ numbers.  Each glyph is a CharProc holding nothing but
its bitmap as an inline image mask, which takes the fill colour (``d1``).

Glyph space is the pixel grid: FontMatrix 0.001 with a font size of 1000 makes one
glyph unit one pixel, and one unit of a TJ number one pixel too.  Widths and moves are
whole pixels, so every glyph lands on a whole pixel however long the line.

Text extraction must not find letters in pixels: every code maps to U+FFFD, the
replacement character, through the one ToUnicode CMap below, which the verifier
requires byte for byte.
"""

from __future__ import annotations

from decimal import Decimal

import pikepdf
from PIL import Image

GLYPHS_PER_FONT = 256
#: With FontMatrix FONT_UNIT, one glyph unit is one unit of the page's pixel space.
FONT_SIZE = 1000
FONT_UNIT = Decimal("0.001")

#: Every one-byte code is the replacement character: the glyphs are pixels, not letters.
REPLACEMENT_CMAP = (
    b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
    b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
    b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
    b"1 begincodespacerange <00> <FF> endcodespacerange\n"
    b"1 beginbfrange <00> <FF> [" + b" ".join([b"<FFFD>"] * GLYPHS_PER_FONT) + b"] endbfrange\n"
    b"endcmap CMapName currentdict /CMap defineresource pop end end\n"
)

_INVERTED = bytes(255 - byte for byte in range(256))
#: Each code as it is written inside a literal string: a CR would be read as a LF.
_ESCAPED = [
    {ord("("): b"\\(", ord(")"): b"\\)", ord("\\"): b"\\\\", ord("\r"): b"\\r"}.get(code, bytes([code]))
    for code in range(GLYPHS_PER_FONT)
]


def font_name(font: int) -> bytes:
    """/fa, /fb, …: resource names of the fonts, numbered from 0."""
    letters = b"abcdefghijklmnopqrstuvwxyz"
    name = b""
    while True:
        font, digit = divmod(font, len(letters))
        name = letters[digit : digit + 1] + name
        if font == 0:
            return b"/f" + name


class GlyphText:
    """Glyphs shown along lines, as the operators of one text object (without BT/ET)."""

    def __init__(self) -> None:
        self.operators: list[bytes] = []
        self.font = -1
        self.shown: list[bytes] = []  # the TJ array being written
        self.run = bytearray()  # the string being written

    def next_line(self, dx: int, dy: int) -> None:
        """Start a line ``dx``, ``dy`` pixels from the start of the previous one."""
        self._show()
        self.operators.append(b"%d %d Td" % (dx, dy))

    def glyph(self, glyph: int) -> None:
        font, code = divmod(glyph, GLYPHS_PER_FONT)
        if font != self.font:
            self._show()
            self.operators.append(b"%s %d Tf " % (font_name(font), FONT_SIZE))
            self.font = font
        self.run += _ESCAPED[code]

    def move(self, pixels: int) -> None:
        """Move the pen right (or left, when negative) without showing anything."""
        self._end_string()
        self.shown.append(b"%d" % -pixels)  # a TJ number moves the pen back by that much

    def operators_bytes(self) -> bytes:
        self._show()
        return b"".join(self.operators)

    def _end_string(self) -> None:
        if self.run:
            self.shown.append(b"(%s)" % self.run)
            self.run = bytearray()

    def _show(self) -> None:
        self._end_string()
        if len(self.shown) == 1 and self.shown[0].startswith(b"("):
            self.operators.append(b"%sTj\n" % self.shown[0])
        elif self.shown:
            self.operators.append(b"[%s]TJ\n" % b"".join(self.shown))
        self.shown = []


class Type3Fonts:
    """The glyph fonts of one output document, filled 256 glyphs at a time."""

    def __init__(self, output: pikepdf.Pdf, resources: pikepdf.Object) -> None:
        """``resources``: the resources the pages share; they get a /Font entry with the
        first glyph, so that pages without glyphs name no font at all."""
        self.output = output
        self.resources = resources
        self.fonts = pikepdf.Dictionary()
        self.widths: list[int] = []  # advance width of every glyph, by glyph number
        self.to_unicode: pikepdf.Object | None = None

    def add(self, bits: Image.Image | None, advance: int) -> None:
        """Store the next glyph: a "1" image (1 = ink) that moves the pen by ``advance``,
        or no image, a blank that only moves it."""
        glyph = len(self.widths)
        font, code = divmod(glyph, GLYPHS_PER_FONT)
        if code == 0:
            self._new_font(font)
        width, height = (0, 0) if bits is None else bits.size
        ink = None if bits is None else bits.getbbox()  # lines are cut with blank rows above and below
        procedure = b"%d 0 0 0 %d %d d1" % (advance, width, height)
        if bits is not None and ink is not None:
            _, top, _, bottom = ink
            rows = bits.crop((0, top, width, bottom))
            # Hex-encoded inline data cannot contain a stray "EI" that would end the image
            # early.  No inset, unlike image XObjects: PDFium's glyph cache would shave a column.
            # An image mask paints its 0 bits: inverted, the bits need no /Decode.
            procedure += b" %d 0 0 %d 0 %d cm BI /W %d /H %d /IM true /F /AHx ID %s> EI" % (
                width,
                bottom - top,
                height - bottom,
                width,
                bottom - top,
                rows.tobytes().translate(_INVERTED).hex().encode(),
            )
        name = pikepdf.Name(f"/g{code}")
        entry = self.fonts[font_name(font).decode()]
        entry.CharProcs[name] = self.output.make_stream(procedure)
        entry.Encoding.Differences.append(name)
        entry.Widths.append(advance)
        entry.LastChar = code
        box = entry.FontBBox
        entry.FontBBox = pikepdf.Array([0, 0, max(int(box[2]), width), max(int(box[3]), height)])
        self.widths.append(advance)

    def _new_font(self, font: int) -> None:
        if self.to_unicode is None:
            self.to_unicode = self.output.make_stream(REPLACEMENT_CMAP)
            self.resources.Font = self.fonts
        self.fonts[font_name(font).decode()] = self.output.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type3,
                FontBBox=pikepdf.Array([0, 0, 0, 0]),
                FontMatrix=pikepdf.Array([FONT_UNIT, 0, 0, FONT_UNIT, 0, 0]),
                CharProcs=pikepdf.Dictionary(),
                Encoding=pikepdf.Dictionary(Type=pikepdf.Name.Encoding, Differences=pikepdf.Array([0])),
                FirstChar=0,
                LastChar=0,
                Widths=pikepdf.Array(),
                ToUnicode=self.to_unicode,
            )
        )
