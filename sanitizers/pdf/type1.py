"""Type 1 font programs (``/FontFile``) converted to bare CFF, for OTS to check.

OTS takes no PostScript, so a Type 1 program is interpreted here instead of copied: its
charstrings are decrypted and run (subroutines, flex and ``seac`` accents included) to
absolute outlines, which are written anew as Type 2 charstrings in a CFF font with the
same glyph names and built-in encoding.  Hints are dropped: they only steer rasterisers
at small sizes.  Nothing of the PostScript program survives but numbers and names, and
the CFF then goes through OTS like any other (``fonts.py``).  A program this reading
cannot follow is refused, and the document falls back to the rule's next method.

LibreOffice writes its subsets of CFF-based OpenType fonts (Noto CJK) as Type 1, so
Japanese documents made with it depend on this conversion.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from sanitizers.errors import MalformedError
from sanitizers.pdf._eexec import decrypt

#: Adobe StandardEncoding from code 32 to 255 ("-": no glyph), PDF 1.7 Annex D.
_STANDARD_NAMES = """
space exclam quotedbl numbersign dollar percent ampersand quoteright parenleft parenright asterisk
plus comma hyphen period slash zero one two three four five six seven eight nine colon semicolon
less equal greater question at A B C D E F G H I J K L M N O P Q R S T U V W X Y Z bracketleft
backslash bracketright asciicircum underscore quoteleft a b c d e f g h i j k l m n o p q r s t u v
w x y z braceleft bar braceright asciitilde - - - - - - - - - - - - - - - - - - - - - - - - - - - -
- - - - - - exclamdown cent sterling fraction yen florin section currency quotesingle quotedblleft
guillemotleft guilsinglleft guilsinglright fi fl - endash dagger daggerdbl periodcentered -
paragraph bullet quotesinglbase quotedblbase quotedblright guillemotright ellipsis perthousand -
questiondown - grave acute circumflex tilde macron breve dotaccent dieresis - ring cedilla -
hungarumlaut ogonek caron emdash - - - - - - - - - - - - - - - - AE - ordfeminine - - - - Lslash
Oslash OE ordmasculine - - - - - ae - - - dotlessi - - lslash oslash oe germandbls - - - -
"""
#: Code → glyph name of Adobe StandardEncoding.
STANDARD_ENCODING = {code: name for code, name in enumerate(_STANDARD_NAMES.split(), start=32) if name != "-"}
#: Most glyphs and subroutines accepted in one program; CJK subsets hold a few thousand.
MAX_GLYPHS = 65_000
#: Deepest subroutine nesting that the Type 1 specification allows.
MAX_SUBR_DEPTH = 10
#: Most operations run for one glyph, accents and subroutines included.
MAX_OPERATIONS = 100_000

_EEXEC_KEY, _CHARSTRING_KEY = 55665, 4330
_FIRST_STRING_ID = 391  # string ids below are CFF's standard strings


def conversion_refusal(detail: str) -> MalformedError:
    return MalformedError(
        "pdf.malformed", f"embedded font: a Type 1 program that cannot be converted: {detail}"
    )


@dataclass
class Type1Font:
    name: bytes
    matrix: list[float]
    bbox: list[float]
    encoding: dict[int, bytes]
    charstrings: dict[bytes, bytes] = field(default_factory=dict)
    subrs: list[bytes] = field(default_factory=list)


def type1_to_cff(untrusted_program: bytes) -> bytes:
    """A bare CFF program (``/Type1C``) drawing the same glyphs as the Type 1 program."""
    font = parse_type1(untrusted_program)
    outlines = {name: _Outline.of(font, name) for name in font.charstrings}
    return _cff(font, outlines)


# -- reading the program ---------------------------------------------------------------


def parse_type1(untrusted_program: bytes) -> Type1Font:
    eexec = re.search(rb"currentfile\s+eexec\s", untrusted_program)
    if eexec is None:
        raise conversion_refusal("no eexec section")
    clear, encrypted = untrusted_program[: eexec.start()], untrusted_program[eexec.end() :]
    if re.fullmatch(rb"[0-9A-Fa-f\s]{8,}", encrypted[:64]):
        hex_digits = re.sub(rb"[^0-9A-Fa-f]", b"", encrypted.split(b"cleartomark")[0])
        encrypted = bytes.fromhex(hex_digits[: len(hex_digits) // 2 * 2].decode())
    private = decrypt(encrypted, _EEXEC_KEY)[4:]
    name = re.search(rb"/FontName\s*/([^\s/\[\]<>(){}%]+)", clear)
    font = Type1Font(
        name=name.group(1) if name else b"Embedded",
        matrix=_numbers(clear, b"FontMatrix", 6) or [0.001, 0, 0, 0.001, 0, 0],
        bbox=_numbers(clear, b"FontBBox", 4) or [0, 0, 0, 0],
        encoding=_encoding(clear),
    )
    length_iv = re.search(rb"/lenIV\s+(-?\d+)", private)
    skip = int(length_iv.group(1)) if length_iv else 4
    font.subrs = _subrs(private, skip)
    font.charstrings = _charstrings(private, skip)
    if b".notdef" not in font.charstrings:
        font.charstrings[b".notdef"] = b"\x8b\x8b\x0d\x0e"  # 0 0 hsbw endchar
    return font


def _numbers(clear: bytes, key: bytes, count: int) -> list[float] | None:
    found = re.search(rb"/%s\s*[\[{]([^\]}]*)[\]}]" % key, clear)
    if found is None:
        return None
    try:
        values = [float(v) for v in found.group(1).split()]
    except ValueError:
        return None
    return values if len(values) == count else None


def _encoding(clear: bytes) -> dict[int, bytes]:
    if re.search(rb"/Encoding\s+StandardEncoding\s+def", clear):
        return {code: name.encode() for code, name in STANDARD_ENCODING.items()}
    return {
        int(code): name
        for code, name in re.findall(rb"dup\s+(\d+)\s*/([^\s/\[\]<>(){}%]+)\s+put", clear)
        if int(code) < 256
    }


_BINARY = rb"\s+(\d+)\s+(?:RD|-\|)\s"
_SUBR_END = re.compile(rb"\s*(?:NP|\||noaccess\s+put)")
_CHARSTRING_END = re.compile(rb"\s*(?:ND|\|-|noaccess\s+def)")


def _subrs(private: bytes, skip: int) -> list[bytes]:
    start = re.search(rb"/Subrs\s+(\d+)\s+array", private)
    if start is None:
        return []
    count = int(start.group(1))
    if count > MAX_GLYPHS:
        raise conversion_refusal(f"{count} subroutines")
    subrs = [b""] * count
    at = start.end()
    pattern = re.compile(rb"\s*dup\s+(\d+)" + _BINARY)
    while (entry := pattern.match(private, at)) is not None:
        index, length = int(entry.group(1)), int(entry.group(2))
        if index >= count or entry.end() + length > len(private):
            raise conversion_refusal("a subroutine out of bounds")
        subrs[index] = _charstring(private[entry.end() : entry.end() + length], skip)
        end = _SUBR_END.match(private, entry.end() + length)
        at = end.end() if end else entry.end() + length
    return subrs


def _charstrings(private: bytes, skip: int) -> dict[bytes, bytes]:
    start = re.search(rb"/CharStrings\s+\d+\s+dict\s+dup\s+begin", private)
    if start is None:
        raise conversion_refusal("no CharStrings")
    charstrings: dict[bytes, bytes] = {}
    at = start.end()
    pattern = re.compile(rb"\s*/([^\s/\[\]<>(){}%]+)" + _BINARY)
    while (entry := pattern.match(private, at)) is not None:
        name, length = entry.group(1), int(entry.group(2))
        if entry.end() + length > len(private) or len(charstrings) >= MAX_GLYPHS:
            raise conversion_refusal("a charstring out of bounds")
        charstrings[name] = _charstring(private[entry.end() : entry.end() + length], skip)
        end = _CHARSTRING_END.match(private, entry.end() + length)
        at = end.end() if end else entry.end() + length
    if not charstrings:
        raise conversion_refusal("no glyph")
    return charstrings


def _charstring(data: bytes, skip: int) -> bytes:
    return data if skip < 0 else decrypt(data, _CHARSTRING_KEY)[skip:]


# -- running the charstrings -------------------------------------------------------------

Point = tuple[float, float]


@dataclass
class _Outline:
    """A glyph as absolute path segments: ("m", p), ("l", p) or ("c", p1, p2, p3)."""

    width: float = 0.0
    segments: list[tuple[str, tuple[Point, ...]]] = field(default_factory=list)

    @classmethod
    def of(cls, font: Type1Font, name: bytes, origin: Point = (0.0, 0.0), depth: int = 0) -> _Outline:
        outline = cls()
        _Interpreter(font, outline, origin, depth).run(font.charstrings[name])
        return outline


class _Interpreter:
    def __init__(self, font: Type1Font, outline: _Outline, origin: Point, depth: int) -> None:
        self.font = font
        self.outline = outline
        self.origin = origin
        self.depth = depth
        self.stack: list[float] = []
        self.results: list[float] = []  # what callothersubr leaves for pop
        self.flex: list[Point] | None = None
        self.x, self.y = origin
        self.sidebearing = 0.0
        self.operations = 0
        self.ended = False

    def run(self, charstring: bytes, nesting: int = 0) -> None:
        if nesting > MAX_SUBR_DEPTH:
            raise conversion_refusal("subroutines nested too deep")
        at = 0
        while at < len(charstring) and not self.ended:
            self.operations += 1
            if self.operations > MAX_OPERATIONS:
                raise conversion_refusal("a glyph that does not end")
            byte = charstring[at]
            if 32 <= byte <= 246:  # most operands: a small integer in one byte
                self.stack.append(byte - 139)
                at += 1
                continue
            if byte > 246:
                at = self._number(charstring, at)
                continue
            at += 1
            if byte == 12:
                if at >= len(charstring):
                    raise conversion_refusal("a truncated operator")
                byte = 100 + charstring[at]
                at += 1
            if byte == 11:  # return
                return
            if byte == 10:  # callsubr
                index = int(self._pop())
                if not 0 <= index < len(self.font.subrs):
                    raise conversion_refusal(f"a call of missing subroutine {index}")
                self.run(self.font.subrs[index], nesting + 1)
                continue
            operation = _OPERATIONS.get(byte)
            if operation is None:
                raise conversion_refusal(f"operator {byte}")
            operation(self)

    def _number(self, data: bytes, at: int) -> int:
        """The operand of two or five bytes at ``at``, pushed; returns where the next starts."""
        byte = data[at]
        if byte == 255:
            if at + 5 > len(data):
                raise conversion_refusal("a truncated number")
            self.stack.append(int.from_bytes(data[at + 1 : at + 5], "big", signed=True))
            return at + 5
        if at + 2 > len(data):
            raise conversion_refusal("a truncated number")
        magnitude = (byte - (247 if byte <= 250 else 251)) * 256 + data[at + 1] + 108
        self.stack.append(magnitude if byte <= 250 else -magnitude)
        return at + 2

    def _pop(self) -> float:
        if not self.stack:
            raise conversion_refusal("an operator without its operands")
        return self.stack.pop()

    def _take(self, count: int) -> list[float]:
        if len(self.stack) < count:
            raise conversion_refusal("an operator without its operands")
        values = self.stack[len(self.stack) - count :]
        del self.stack[len(self.stack) - count :]
        self.stack.clear()
        return values

    # path construction

    def _move(self, dx: float, dy: float) -> None:
        self.x, self.y = self.x + dx, self.y + dy
        if self.flex is not None:
            self.flex.append((self.x, self.y))
        else:
            self.outline.segments.append(("m", ((self.x, self.y),)))

    def _line(self, dx: float, dy: float) -> None:
        self.x, self.y = self.x + dx, self.y + dy
        self.outline.segments.append(("l", ((self.x, self.y),)))

    def _curve(self, dx1: float, dy1: float, dx2: float, dy2: float, dx3: float, dy3: float) -> None:
        first = (self.x + dx1, self.y + dy1)
        second = (first[0] + dx2, first[1] + dy2)
        self.x, self.y = second[0] + dx3, second[1] + dy3
        self.outline.segments.append(("c", (first, second, (self.x, self.y))))

    def hsbw(self) -> None:
        sbx, width = self._take(2)
        self.x, self.y = self.origin[0] + sbx, self.origin[1]
        self.sidebearing = sbx
        self.outline.width = width

    def sbw(self) -> None:
        sbx, sby, width, _ = self._take(4)
        self.x, self.y = self.origin[0] + sbx, self.origin[1] + sby
        self.sidebearing = sbx
        self.outline.width = width

    def rmoveto(self) -> None:
        self._move(*self._take(2))

    def hmoveto(self) -> None:
        self._move(self._take(1)[0], 0)

    def vmoveto(self) -> None:
        self._move(0, self._take(1)[0])

    def rlineto(self) -> None:
        self._line(*self._take(2))

    def hlineto(self) -> None:
        self._line(self._take(1)[0], 0)

    def vlineto(self) -> None:
        self._line(0, self._take(1)[0])

    def rrcurveto(self) -> None:
        self._curve(*self._take(6))

    def vhcurveto(self) -> None:
        dy1, dx2, dy2, dx3 = self._take(4)
        self._curve(0, dy1, dx2, dy2, dx3, 0)

    def hvcurveto(self) -> None:
        dx1, dx2, dy2, dy3 = self._take(4)
        self._curve(dx1, 0, dx2, dy2, 0, dy3)

    def endchar(self) -> None:
        self.stack.clear()
        self.ended = True

    def clear(self) -> None:  # hints, closepath, dotsection: nothing to draw
        self.stack.clear()

    def div(self) -> None:
        numerator, denominator = self._pop(), self._pop()
        if numerator == 0:
            raise conversion_refusal("a division by zero")
        self.stack.append(denominator / numerator)

    def callothersubr(self) -> None:
        number, count = int(self._pop()), int(self._pop())
        if not 0 <= count <= len(self.stack):
            raise conversion_refusal("an othersubr without its operands")
        arguments = self.stack[len(self.stack) - count :]
        del self.stack[len(self.stack) - count :]
        if number == 1:  # flex starts: the next seven moves are its points
            self.flex = []
        elif number == 0:  # flex ends: two curves through the points gathered
            points = self.flex or []
            self.flex = None
            if len(points) != 7:
                raise conversion_refusal("a flex without its seven points")
            for start in (1, 4):
                self.outline.segments.append(("c", tuple(points[start : start + 3])))
            self.x, self.y = points[6]
            self.results = [self.y, self.x]
            return
        self.results = list(reversed(arguments))

    def pop(self) -> None:
        self.stack.append(self.results.pop() if self.results else 0)

    def setcurrentpoint(self) -> None:
        self.x, self.y = self._take(2)

    def seac(self) -> None:
        """An accented glyph: the base glyph, and the accent moved by (adx - asb, ady) from
        the composite's own side bearing, as FreeType places it."""
        accent_sidebearing, dx, dy, base_code, accent_code = self._take(5)
        base, accent = STANDARD_ENCODING.get(int(base_code)), STANDARD_ENCODING.get(int(accent_code))
        if base is None or accent is None or self.depth > 0:
            raise conversion_refusal("an accent of unknown glyphs")
        names = (base.encode(), accent.encode())
        if any(name not in self.font.charstrings for name in names):
            raise conversion_refusal("an accent of missing glyphs")
        self.outline.segments.extend(_Outline.of(self.font, names[0], self.origin, self.depth + 1).segments)
        accent_origin = (self.origin[0] + self.sidebearing + dx - accent_sidebearing, self.origin[1] + dy)
        self.outline.segments.extend(_Outline.of(self.font, names[1], accent_origin, self.depth + 1).segments)
        self.ended = True


_OPERATIONS: dict[int, Callable[[_Interpreter], None]] = {
    1: _Interpreter.clear,  # hstem
    3: _Interpreter.clear,  # vstem
    4: _Interpreter.vmoveto,
    5: _Interpreter.rlineto,
    6: _Interpreter.hlineto,
    7: _Interpreter.vlineto,
    8: _Interpreter.rrcurveto,
    9: _Interpreter.clear,  # closepath: Type 2 paths close themselves
    13: _Interpreter.hsbw,
    14: _Interpreter.endchar,
    21: _Interpreter.rmoveto,
    22: _Interpreter.hmoveto,
    30: _Interpreter.vhcurveto,
    31: _Interpreter.hvcurveto,
    100: _Interpreter.clear,  # dotsection
    101: _Interpreter.clear,  # vstem3
    102: _Interpreter.clear,  # hstem3
    106: _Interpreter.seac,
    107: _Interpreter.sbw,
    112: _Interpreter.div,
    116: _Interpreter.callothersubr,
    117: _Interpreter.pop,
    133: _Interpreter.setcurrentpoint,
}


# -- writing the CFF ---------------------------------------------------------------------


def _cff(font: Type1Font, outlines: dict[bytes, _Outline]) -> bytes:
    """A CFF font (Adobe TN 5176) of ``outlines`` with Type 2 charstrings (TN 5177)."""
    first_codes: dict[bytes, int] = {}
    for code, name in sorted(font.encoding.items()):
        if name in outlines and name != b".notdef":
            first_codes.setdefault(name, code)
    encoded = sorted(first_codes, key=first_codes.__getitem__)
    order = [b".notdef", *encoded, *(n for n in outlines if n != b".notdef" and n not in first_codes)]
    string_id = {name: _FIRST_STRING_ID + index for index, name in enumerate(order[1:])}
    supplements = [
        (code, name)
        for code, name in sorted(font.encoding.items())
        if name in first_codes and first_codes[name] != code
    ]
    charset = b"\x00" + b"".join(struct.pack(">H", string_id[name]) for name in order[1:])
    encoding = bytes([0x80 if supplements else 0, len(encoded)]) + bytes(first_codes[n] for n in encoded)
    if supplements:
        encoding += bytes([len(supplements)]) + b"".join(
            struct.pack(">BH", code, string_id[name]) for code, name in supplements[:255]
        )
    charstrings = _index([_type2(outlines[name]) for name in order])
    private = _dict_number(0) + b"\x14" + _dict_number(0) + b"\x15"  # default and nominal width 0
    head = b"\x01\x00\x04\x04" + _index([font.name[:127]])
    tail = _index(order[1:]) + _index([])

    def top(charset_at: int, encoding_at: int, charstrings_at: int, private_at: int) -> bytes:
        entries = b"".join(_dict_number(round(v)) for v in font.bbox) + b"\x05"
        if font.matrix != [0.001, 0, 0, 0.001, 0, 0]:
            entries += b"".join(_dict_real(v) for v in font.matrix) + b"\x0c\x07"
        entries += _offset(charset_at) + b"\x0f" + _offset(encoding_at) + b"\x10"
        entries += _offset(charstrings_at) + b"\x11" + _offset(len(private)) + _offset(private_at) + b"\x12"
        return _index([entries])

    charset_at = len(head) + len(top(0, 0, 0, 0)) + len(tail)
    encoding_at = charset_at + len(charset)
    charstrings_at = encoding_at + len(encoding)
    private_at = charstrings_at + len(charstrings)
    top_dict = top(charset_at, encoding_at, charstrings_at, private_at)
    return head + top_dict + tail + charset + encoding + charstrings + private


def _index(items: list[bytes]) -> bytes:
    if not items:
        return b"\x00\x00"
    offsets = [1]
    for item in items:
        offsets.append(offsets[-1] + len(item))
    size = next(n for n in (1, 2, 3, 4) if offsets[-1] < 1 << (8 * n))
    return (
        struct.pack(">HB", len(items), size)
        + b"".join(o.to_bytes(size, "big") for o in offsets)
        + b"".join(items)
    )


def _offset(value: int) -> bytes:
    return b"\x1d" + struct.pack(">i", value)


def _dict_number(value: int) -> bytes:
    if -107 <= value <= 107:
        return bytes([value + 139])
    return b"\x1d" + struct.pack(">i", value)


def _dict_real(value: float) -> bytes:
    text = f"{value:.8g}".replace("e-", "c").replace("e+", "b").replace("e", "b")
    nibbles = [
        {".": 0xA, "b": 0xB, "c": 0xC, "-": 0xE}.get(c, 0) if not c.isdigit() else int(c) for c in text
    ]
    nibbles.append(0xF)
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return b"\x1e" + bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _type2(outline: _Outline) -> bytes:
    out = bytearray(_t2_number(outline.width))
    x, y = 0, 0
    short = _T2_SHORT
    for kind, points in outline.segments:
        for px, py in points:
            fx, fy = round(px * 65536), round(py * 65536)
            out += short.get(fx - x) or _t2_fixed(fx - x)
            out += short.get(fy - y) or _t2_fixed(fy - y)
            x, y = fx, fy
        out.append(_T2_OPERATORS[kind])
    out.append(14)
    return bytes(out)


def _t2_fixed(value: int) -> bytes:
    """A delta in 1/65536 units as a Type 2 operand: an integer where it is one."""
    if value % 65536 == 0:
        return _t2_number(value // 65536)
    return b"\xff" + struct.pack(">i", value)


def _t2_number(value: float) -> bytes:
    if value != int(value):
        return b"\xff" + struct.pack(">i", round(value * 65536))
    number = int(value)
    if -107 <= number <= 107:
        return bytes([number + 139])
    if 108 <= number <= 1131:
        return struct.pack(">BB", 247 + (number - 108) // 256, (number - 108) % 256)
    if -1131 <= number <= -108:
        return struct.pack(">BB", 251 + (-number - 108) // 256, (-number - 108) % 256)
    if -32768 <= number <= 32767:
        return b"\x1c" + struct.pack(">h", number)
    raise conversion_refusal(f"a coordinate of {number}")


#: The Type 2 encoding of whole deltas (in 1/65536 units) of one or two bytes, most of an
#: outline's: looked up, not encoded again for every point.
_T2_SHORT = {number * 65536: _t2_number(number) for number in range(-1131, 1132)}
_T2_OPERATORS = {"m": 21, "l": 5, "c": 8}  # rmoveto, rlineto, rrcurveto
