"""Charsets as Japanese mail uses them: the label a message gives, read the way mailers mean it.

A message's ``charset=Shift_JIS`` comes from Windows, which means CP932 (NEC and IBM
extensions, FULLWIDTH TILDE for 〜); ``ISO-2022-JP`` from Outlook may carry the same
extensions (CP50220: ①, ㈱, Roman numerals), which Python's ``iso2022_jp`` refuses. Each label
is read by the superset mailers write, and a part that still does not decode falls back on
the strict ladder of ``sanitizers.text``: a Japanese text is never turned into 文字化け by a
codec that is almost right.
"""

from __future__ import annotations

import codecs

from sanitizers.text import decode_ladder

#: Labels (lower case) → the codec that reads what mailers write under them.
_JAPANESE_LABELS: dict[str, str] = {
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932",
    "csshiftjis": "cp932", "windows-31j": "cp932", "cp932": "cp932", "ms932": "cp932", "x-ms-cp932": "cp932",
    "euc-jp": "euc_jp", "x-euc-jp": "euc_jp", "eucjp": "euc_jp", "cseucpkdfmtjapanese": "euc_jp",
    "cp51932": "euc_jp", "euc-jp-ms": "euc_jp",
    "iso-2022-jp": "iso2022_jp", "csiso2022jp": "iso2022_jp", "iso-2022-jp-ms": "iso2022_jp",
    "cp50220": "iso2022_jp", "cp50221": "iso2022_jp", "cp50222": "iso2022_jp",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
}  # fmt: skip
#: Codec families a label may name; anything else (``unicode_escape``, ``idna``, ``rot13``)
#: is not a character set a sender can honestly mean.
_TEXT_CODEC_PREFIXES = (
    "utf", "ascii", "latin", "iso8859", "cp", "koi8", "gb", "big5", "euc", "iso2022", "shift_jis",
    "mac", "tis", "hz", "johab", "kz1048", "ptcp154",
)  # fmt: skip
#: What the fallbacks try for EUC-JP text with NEC special characters (① is row 13).
_EUC_FALLBACK = "euc_jis_2004"

_ESC = 0x1B


def codec_for(label: str | None) -> str | None:
    """The codec that reads text labelled ``label``, or None when the label names none we accept."""
    if not label:
        return None
    key = label.strip().strip('"').lower()
    if key in _JAPANESE_LABELS:
        return _JAPANESE_LABELS[key]
    try:
        name = codecs.lookup(key).name
    except LookupError:
        return None
    return name if name.startswith(_TEXT_CODEC_PREFIXES) else None


def decode_labelled(raw: bytes, label: str | None) -> tuple[str, str] | None:
    """(text, codec) of bytes labelled ``label``: the label's codec strictly, its Japanese
    supersets, then the ladder; None when nothing reads them strictly."""
    codec = codec_for(label)
    if codec == "iso2022_jp" or (codec is None and _ESC in raw and raw.isascii()):
        text = decode_iso2022_jp(raw)
        if text is not None:
            return text, "iso2022_jp"
    elif codec is not None:
        for candidate in (codec, _EUC_FALLBACK) if codec == "euc_jp" else (codec,):
            try:
                return raw.decode(candidate), codec
            except UnicodeDecodeError:
                continue
    found = decode_ladder(raw)
    if found is None or found[2]:
        return None
    return found[0], found[1]


# ── ISO-2022-JP as Windows writes it (CP50220) ───────────────────────────────────────

_ASCII_SETS = (b"\x1b(B", b"\x1b(J")
_KANJI_SETS = (b"\x1b$B", b"\x1b$@")
_KANA_SET = b"\x1b(I"
_SUPPLEMENT_SET = b"\x1b$(D"


def decode_iso2022_jp(raw: bytes) -> str | None:
    """ISO-2022-JP, with the NEC and IBM extensions Windows puts in it: each JIS X 0208
    pair goes to its Shift_JIS code and is read as CP932, as Windows reads it (0x2141 is
    ～ FULLWIDTH TILDE, as the sender typed it), half-width katakana (ESC ( I) and JIS X 0212
    too. None when the bytes are not that."""
    pieces: list[str] = []
    pending = bytearray()
    mode = "ascii"
    pos = 0

    def flush() -> bool:
        try:
            pieces.append(bytes(pending).decode("cp932"))
        except UnicodeDecodeError:
            return False
        pending.clear()
        return True

    while pos < len(raw):
        if raw[pos] == _ESC:
            for sequence, new_mode in (
                *((s, "ascii") for s in _ASCII_SETS),
                *((s, "kanji") for s in _KANJI_SETS),
                (_KANA_SET, "kana"),
                (_SUPPLEMENT_SET, "supplement"),
            ):
                if raw.startswith(sequence, pos):
                    mode, pos = new_mode, pos + len(sequence)
                    break
            else:
                return None
            continue
        byte = raw[pos]
        if byte >= 0x80:
            return None
        if mode == "ascii" or byte in b"\r\n":
            pending.append(byte)
            pos += 1
        elif mode == "kana":
            if not 0x21 <= byte <= 0x5F:
                return None
            pending.append(byte + 0x80)
            pos += 1
        else:
            if pos + 1 >= len(raw) or not (0x21 <= byte <= 0x7E and 0x21 <= raw[pos + 1] <= 0x7E):
                return None
            if mode == "kanji":
                pending += _jis_to_shift_jis(byte, raw[pos + 1])
            else:
                if not flush():
                    return None
                try:
                    pieces.append(bytes((0x8F, byte | 0x80, raw[pos + 1] | 0x80)).decode("euc_jp"))
                except UnicodeDecodeError:
                    return None
            pos += 2
    return "".join(pieces) if flush() else None


def _jis_to_shift_jis(first: int, second: int) -> bytes:
    lead = (first + 1) // 2 + 0x70
    if lead >= 0xA0:
        lead += 0x40
    trail = second + 0x1F + (second >= 0x60) if first % 2 else second + 0x7E
    return bytes((lead, trail))


def encode_iso2022_jp(text: str) -> bytes | None:
    """The text as ISO-2022-JP, NEC and IBM extensions included (what Windows writes and
    what WHATWG decoders read), the exact inverse of ``decode_iso2022_jp``; None when a
    character has no place in it (half-width katakana, characters outside CP932)."""
    out = bytearray()
    kanji = False
    for ch in text:
        if ch.isascii():
            if kanji:
                out += b"\x1b(B"
                kanji = False
            out += ch.encode("ascii")
            continue
        try:
            sjis = ch.encode("cp932")
        except UnicodeEncodeError:
            return None
        if len(sjis) != 2:
            return None  # half-width katakana: ISO-2022-JP has no place for it
        if not kanji:
            out += b"\x1b$B"
            kanji = True
        out += _shift_jis_to_jis(sjis[0], sjis[1])
    if kanji:
        out += b"\x1b(B"
    encoded = bytes(out)
    return encoded if decode_iso2022_jp(encoded) == text else None


def _shift_jis_to_jis(lead: int, trail: int) -> bytes:
    lead -= 0xB0 if lead >= 0xE0 else 0x70
    if trail >= 0x9F:
        return bytes((lead * 2, trail - 0x7E))
    return bytes((lead * 2 - 1, trail - (0x20 if trail >= 0x80 else 0x1F)))
