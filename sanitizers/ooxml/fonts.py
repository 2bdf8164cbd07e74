"""Word's embedded fonts, rewritten by the OpenType Sanitizer like a PDF's, never copied.

Word obfuscates an embedded font (ECMA-376 Part 1, 17.8.1): the first 32 bytes of the
TrueType or OpenType file are XORed with the GUID in the ``w:fontKey`` attribute of the
font-table element that names the part, its bytes in reverse order.  The rebuild takes the
obfuscation off, has OTS parse and write the font anew (``sanitizers.pdf.fonts``), and puts
the same obfuscation back, so the font table stays as it is.

A font OTS refuses, or a font part no font-table element gives a key for, refuses the
rebuild (``ooxml.embedded_font``, not final) so that the rule's next method takes over.
PowerPoint embeds fonts as Embedded OpenType, which nothing here rewrites: those are
dropped when the package is planned.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

from sanitizers.errors import MalformedError
from sanitizers.ooxml.vocabulary import NS_R, NS_W
from sanitizers.pdf.fonts import sanitized_sfnt

_EMBED_ELEMENTS = frozenset(
    f"{{{NS_W}}}{name}" for name in ("embedRegular", "embedBold", "embedItalic", "embedBoldItalic")
)
_FONT_KEY = f"{{{NS_W}}}fontKey"
_RELATIONSHIP_ID = f"{{{NS_R}}}id"
_GUID = re.compile(
    r"\{?([0-9A-Fa-f]{8})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{12})\}?\Z"
)
_OBFUSCATED_LENGTH = 32
_SFNT_VERSIONS = (b"\x00\x01\x00\x00", b"true", b"OTTO")
_SFNT_HEADER = 12


def font_keys(font_table: ET.Element) -> dict[str, bytes]:
    """Relationship id → de-obfuscation key, for each embedded font the font table names
    with a well-formed key (another key leaves the font without one, which refuses it)."""
    keys: dict[str, bytes] = {}
    for element in font_table.iter():
        if element.tag not in _EMBED_ELEMENTS:
            continue
        match = _GUID.match(element.get(_FONT_KEY, ""))
        relationship_id = element.get(_RELATIONSHIP_ID)
        if match and relationship_id:
            keys[relationship_id] = bytes.fromhex("".join(match.groups()))[::-1]
    return keys


def rebuilt_font(untrusted_data: bytes, key: bytes | None, name: str) -> bytes:
    """The font part ``name`` written anew by OTS, obfuscated with ``key`` as it came."""
    if key is None:
        raise MalformedError("ooxml.embedded_font", f"{name}: no font-table entry gives its key")
    if len(untrusted_data) < _OBFUSCATED_LENGTH:
        raise MalformedError("ooxml.embedded_font", f"{name}: {len(untrusted_data)} bytes, not a font")
    try:
        clean = sanitized_sfnt(toggle_obfuscation(untrusted_data, key))
    except MalformedError as refusal:
        raise MalformedError("ooxml.embedded_font", f"{name}: {refusal.detail}") from None
    return toggle_obfuscation(clean, key)


def toggle_obfuscation(data: bytes, key: bytes) -> bytes:
    """Word's obfuscation with ``key`` put on, or taken off: the XOR is its own inverse."""
    head = bytes(byte ^ key[i % len(key)] for i, byte in enumerate(data[:_OBFUSCATED_LENGTH]))
    return head + data[_OBFUSCATED_LENGTH:]


def is_tight_sfnt(untrusted_font: bytes) -> bool:
    """A TrueType or OpenType file whose every byte belongs to its table directory or a
    table, bar zero padding to four bytes: how OTS writes one, with no room for a payload."""
    if len(untrusted_font) < _SFNT_HEADER or untrusted_font[:4] not in _SFNT_VERSIONS:
        return False
    (count,) = struct.unpack_from(">H", untrusted_font, 4)
    at = _SFNT_HEADER + 16 * count
    if at > len(untrusted_font):
        return False
    spans = sorted(struct.unpack_from(">II", untrusted_font, _SFNT_HEADER + 16 * i + 8) for i in range(count))
    for offset, length in spans:
        padding = untrusted_font[at:offset]
        if offset < at or len(padding) > 3 or padding.strip(b"\0"):
            return False
        at = offset + length
    tail = untrusted_font[at:]
    return at <= len(untrusted_font) and len(tail) <= 3 and not tail.strip(b"\0")
