"""Encoding a rendered page small, by what the page holds.

Office documents render to two colours or a few dozen (text and vector graphics are
rendered without anti-aliasing, so they stay exact).  Up to 16 colours, a page becomes
repeated symbols drawn in each ink colour (``symbols.py``), unless CCITT G4 (two
colours) or a palette image comes out smaller; up to 32 colours it is a Flate-compressed
palette image; with more than 256 colours (photographs, scans) JPEG; in between,
whichever of the palette and JPEG is smaller.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field

import pikepdf
from PIL import Image, ImageChops

from sanitizers.pdf.group4 import group4
from sanitizers.pdf.symbols import Colour, SymbolBook, SymbolPage

PALETTE_MAX = 256
#: Up to this many colours a page is flat art (text, charts, slides): always a palette.
FLAT_COLOURS = 32
FLATE_LEVEL = 6
#: Up to this many colours a page is drawn as symbols, one layer per ink colour.
SYMBOL_COLOURS = 16
BLACK_AND_WHITE = [(0, 0, 0), (255, 255, 255)]
#: A page that adds symbols worth less than this is kept as symbols without spending
#: time on a G4 comparison (drawing known symbols is always far smaller than G4).
FEW_NEW_SYMBOLS = 1024


@dataclass(frozen=True)
class EncodedImage:
    """Image XObject data, its size, and the dictionary entries that describe it."""

    data: bytes
    kind: str  # "bilevel", "palette", "jpeg"
    width: int
    height: int
    entries: dict[str, object] = field(default_factory=dict)

    @property
    def dictionary(self) -> dict[str, object]:
        return {"/Width": self.width, "/Height": self.height, **self.entries}


def encode_page(
    rendered: Image.Image, quality: int, book: SymbolBook, *, last_page: bool
) -> EncodedImage | SymbolPage:
    """Pick the smallest faithful encoding for an RGB rendering of a page.

    A returned SymbolPage has not been committed to ``book`` yet.
    """
    counted = rendered.getcolors(PALETTE_MAX)
    if counted is None:
        return _jpeg(rendered, quality)
    by_area = sorted(((count, rgb) for count, rgb in counted if isinstance(rgb, tuple)), reverse=True)
    palette = sorted((rgb[0], rgb[1], rgb[2]) for _, rgb in by_area)
    if len(palette) <= SYMBOL_COLOURS:
        paper = by_area[0][1]
        share = book.symbol_share(last_page)
        return _symbols_or_image(rendered, palette, (paper[0], paper[1], paper[2]), book, share)
    indexed = _indexed(rendered, palette)
    if len(palette) <= FLAT_COLOURS:
        return indexed
    # Many colours may be a chart with gradients or a greyscale photograph: whichever
    # encoding is smaller tells which (JPEG loses on flat art, wins on photographs).
    photographic = _jpeg(rendered, quality)
    return photographic if len(photographic.data) < len(indexed.data) else indexed


def _symbols_or_image(
    rendered: Image.Image, palette: list[Colour], paper: Colour, book: SymbolBook, share: float
) -> EncodedImage | SymbolPage:
    """A few flat colours: one layer of symbols per ink colour, unless G4 or a palette
    image (for pages that do not repeat themselves) comes out smaller."""
    symbols = _symbol_layers(rendered, palette, paper, book) if book.worth_trying() else None
    # Later pages reuse new symbols, so this page pays only its share of them.
    if symbols is not None and symbols.new_symbols_size() * share <= FEW_NEW_SYMBOLS:
        book.note_outcome(symbols_won=True)
        return symbols
    image = _bilevel(rendered, palette) if len(palette) <= 2 else _indexed(rendered, palette)
    if symbols is not None and symbols.drawing_size() + symbols.new_symbols_size() * share < len(image.data):
        book.note_outcome(symbols_won=True)
        return symbols
    book.note_outcome(symbols_won=False)
    return image


def _symbol_layers(
    rendered: Image.Image, palette: list[Colour], paper: Colour, book: SymbolBook
) -> SymbolPage | None:
    page = SymbolPage(rendered.width, rendered.height)
    book.draw_paper(page, paper)
    # Palette indices as grey levels: one lookup per colour turns them into its ink mask.
    indices = Image.frombytes("L", rendered.size, _exact_indices(rendered, palette).tobytes())
    for index, colour in enumerate(palette):
        if colour == paper:
            continue
        ink = indices.point([255 if value == index else 0 for value in range(256)])
        if not book.draw_layer(page, ink, colour):
            return None
    return page


def _bilevel(rendered: Image.Image, palette: list[Colour]) -> EncodedImage:
    """Two colours (or one): CCITT Group 4, the fax codec, by far the smallest."""
    if len(palette) == 1:
        palette = palette * 2
    indices = _exact_indices(rendered, palette)
    indices.putpalette([0, 0, 0, 255, 255, 255])
    bits = indices.convert("1", dither=Image.Dither.NONE)  # bit = palette index
    colour_space = pikepdf.Name.DeviceGray if palette == BLACK_AND_WHITE else _indexed_space(palette)
    g4 = group4(bits)
    if g4 is None:
        return _flate_image(bits.tobytes(), rendered.size, colour_space, 1, kind="bilevel")
    width, height = rendered.size
    return EncodedImage(
        g4,
        "bilevel",
        width,
        height,
        {
            "/ColorSpace": colour_space,
            "/BitsPerComponent": 1,
            "/Filter": pikepdf.Name.CCITTFaxDecode,
            "/DecodeParms": pikepdf.Dictionary(K=-1, Columns=width, Rows=height, BlackIs1=True),
        },
    )


def _exact_indices(rendered: Image.Image, palette: list[Colour]) -> Image.Image:
    """A "P" image of palette indices; exact because every colour is in the palette."""
    palette_image = Image.new("P", (1, 1))
    palette_image.putpalette([channel for rgb in palette for channel in rgb])
    return rendered.quantize(colors=len(palette), palette=palette_image, dither=Image.Dither.NONE)


def _indexed_space(palette: list[Colour]) -> pikepdf.Array:
    lookup = bytes(channel for rgb in palette for channel in rgb)
    return pikepdf.Array(
        [pikepdf.Name.Indexed, pikepdf.Name.DeviceRGB, len(palette) - 1, pikepdf.String(lookup)]
    )


def _indexed(rendered: Image.Image, palette: list[Colour]) -> EncodedImage:
    """Up to 256 exact colours: an 8-bit palette image, Flate-compressed."""
    indices = _exact_indices(rendered, palette)
    return _flate_image(indices.tobytes(), rendered.size, _indexed_space(palette), 8, kind="palette")


def _flate_image(
    data: bytes, size: tuple[int, int], colour_space: object, bits: int, *, kind: str
) -> EncodedImage:
    width, height = size
    return EncodedImage(
        zlib.compress(data, FLATE_LEVEL),
        kind,
        width,
        height,
        {
            "/ColorSpace": colour_space,
            "/BitsPerComponent": bits,
            "/Filter": pikepdf.Name.FlateDecode,
        },
    )


def _jpeg(rendered: Image.Image, quality: int) -> EncodedImage:
    """Photographic content: JPEG, in grey when every pixel is grey."""
    red, green, blue = rendered.split()
    grey = (
        ImageChops.difference(red, green).getbbox() is None
        and ImageChops.difference(green, blue).getbbox() is None
    )
    source = red if grey else rendered
    buffer = io.BytesIO()
    source.save(buffer, "JPEG", quality=quality, optimize=True)
    width, height = rendered.size
    return EncodedImage(
        buffer.getvalue(),
        "jpeg",
        width,
        height,
        {
            "/ColorSpace": pikepdf.Name.DeviceGray if grey else pikepdf.Name.DeviceRGB,
            "/BitsPerComponent": 8,
            "/Filter": pikepdf.Name.DCTDecode,
        },
    )
