"""Plain text and CSV: decode strictly, drop control characters, defuse spreadsheet formulas.

The encoding is found with a strict decode ladder (BOM, ISO-2022-JP, UTF-16 without BOM,
UTF-8, CP932 and EUC-JP, and windows-1252 when no Japanese encoding fits) and kept in the
output: parts of the file that need no change are copied as the original bytes, so a
Shift_JIS CSV stays byte-identical except where a cell was defused.

The ladder is exact rules, not a statistical guess: charset-normalizer calls a Shift_JIS
file "shift_jis_2004", an EUC-JP one "euc_jis_2004" and a windows-1252 one "cp1250", and a
Japanese file must never lose to a guess.  Each rung is a strict decode, and what it
decoded must encode back to the same bytes (``verify_reencoded``).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sanitizers.base import Finding, Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.errors import MalformedError, VerifyError
from sanitizers.output import write_atomically

UTF8_BOM = codecs.BOM_UTF8
#: BOMs in the order they must be tested (none is a prefix of a later one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: ISO-2022-JP designations of a double-byte set; plain ASCII never contains them.
_ISO2022_JP_DESIGNATIONS = (b"\x1b$B", b"\x1b$@", b"\x1b$(D")
#: The legacy Japanese encodings the ladder tries once UTF-8 has failed.
_LEGACY_CODECS = ("cp932", "euc_jp")
#: Tried when neither UTF-8 nor a Japanese encoding fits: Western European Windows text.
#: It reads all but five byte values, so it goes last, and only with no control character.
_WESTERN_CODEC = "cp1252"
#: Codecs whose byte sequence for a character does not depend on what came before, so a
#: piece of decoded text can be mapped back to its own slice of the original bytes.
_STATELESS_CODECS = frozenset({"utf-8", "cp932", "euc_jp", "utf-16-le", "utf-16-be", "cp1252"})
#: Names staff know the encodings by (reports, HTML meta charset).
ENCODING_LABELS: dict[str, str] = {
    "utf-8": "UTF-8",
    "cp932": "Shift_JIS",
    "euc_jp": "EUC-JP",
    "iso2022_jp": "ISO-2022-JP",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
    "cp1252": "windows-1252",
}
#: Control characters that text legitimately carries.
_KEPT_CONTROLS = frozenset("\t\r\n\f")
#: More removed control characters than this share of the text means it is not text at all
#: (binary data, or UTF-16 without a BOM read as bytes).
MAX_CONTROL_SHARE = 0.3

ENCODING_OPTION = OptionSpec(
    "keep",
    "文字コード: keep=元の文字コードのまま / utf-8=UTF-8に変換. "
    "Output encoding: keep the source's (Shift_JIS stays Shift_JIS) or convert to UTF-8.",
    choices=("keep", "utf-8"),
)


@dataclass(frozen=True)
class DecodedText:
    """Text decoded from ``bom + body`` with ``codec``."""

    text: str
    codec: str
    bom: bytes
    body: bytes

    @property
    def label(self) -> str:
        return ENCODING_LABELS.get(self.codec, self.codec)


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` with ``replacement``."""

    start: int
    end: int
    replacement: str


def _strict(raw: bytes, codec: str) -> str | None:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return None


def japanese_plausibility(text: str) -> int:
    """Higher for real Japanese: EUC-JP bytes read as CP932 come out as half-width kana."""
    score = 0
    for ch in text:
        code = ord(ch)
        if 0x3040 <= code <= 0x30FF or 0x4E00 <= code <= 0x9FFF or 0x3000 <= code <= 0x303F:
            score += 1
        elif 0xFF61 <= code <= 0xFF9F or 0xE000 <= code <= 0xF8FF or 0x80 <= code <= 0x9F:
            score -= 1
    return score


def decode_ladder(raw: bytes, declared: str | None = None) -> tuple[str, str, bytes] | None:
    """(text, codec, bom) by the first strict decoding that fits, or None.

    ``declared``: a codec the content names for itself (an HTML meta charset), tried
    after a BOM and before any guess.
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            text = _strict(raw[len(bom) :], codec)
            return None if text is None else (text, codec, bom)
    if declared is not None and (text := _strict(raw, declared)) is not None:
        return text, declared, b""
    # ISO-2022-JP is 7-bit and so always valid UTF-8: its escapes must be looked for first.
    if _may_be_iso2022_jp(raw):
        text = _strict(raw, "iso2022_jp")
        if text is not None:
            return text, "iso2022_jp", b""
    # UTF-16's NULs are valid UTF-8 too (and would be removed as control characters).
    if (utf16 := _utf16_without_bom(raw)) is not None:
        return utf16[0], utf16[1], b""
    text = _strict(raw, "utf-8")
    if text is not None:
        return text, "utf-8", b""
    candidates = [(t, c) for c in _LEGACY_CODECS if (t := _strict(raw, c)) is not None]
    if not candidates:
        text = _strict(raw, _WESTERN_CODEC)
        return None if text is None or _has_removed_control(text) else (text, _WESTERN_CODEC, b"")
    # Ties go to CP932, the encoding Windows writes.
    text, codec = max(candidates, key=lambda tc: japanese_plausibility(tc[0]))
    return text, codec, b""


def _utf16_without_bom(raw: bytes) -> tuple[str, str] | None:
    """(text, codec) when ``raw`` is UTF-16 without a BOM, as Excel's "Unicode text" and
    some exports write it: the NULs of its ASCII characters (digits, delimiters, line ends)
    all fall on the high byte of a code unit, and the whole decodes strictly, without a
    control character.  Text in any other encoding here has no NUL at all."""
    if len(raw) < 2 or len(raw) % 2 or b"\0" not in raw:
        return None
    nuls_high_le, nuls_high_be = raw[1::2].count(0), raw[0::2].count(0)
    if nuls_high_le == nuls_high_be:
        return None
    codec = "utf-16-le" if nuls_high_le > nuls_high_be else "utf-16-be"
    text = _strict(raw, codec)
    return None if text is None or "\0" in text or _has_removed_control(text) else (text, codec)


def _has_removed_control(text: str) -> bool:
    return any(map(is_removed_control, text))


def strict_decodings(raw: bytes, declared: str | None = None) -> Iterator[tuple[str, str]]:
    """Every (text, codec) the ladder could read ``raw`` as, in its order: the BOM's codec
    alone when there is a BOM, else ``declared``, ISO-2022-JP, UTF-8, CP932 and EUC-JP.

    ``decode_ladder`` picks one of them; a reader of the file may pick another, and the
    output verifier, which never saw the input, cannot know which one the sanitiser used.
    UTF-16 without BOM and windows-1252 are readings only where the ladder would take them.
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            text = _strict(raw[len(bom) :], codec)
            if text is not None:
                yield text, codec
            return
    guesses = ((declared,) if declared else ()) + (("iso2022_jp",) if _may_be_iso2022_jp(raw) else ())
    if (utf16 := _utf16_without_bom(raw)) is not None:
        guesses += (utf16[1],)
    found = False
    for codec in dict.fromkeys((*guesses, "utf-8", *_LEGACY_CODECS)):  # declared may be one of them
        text = _strict(raw, codec)
        if text is not None:
            found = True
            yield text, codec
    if not found and (text := _strict(raw, _WESTERN_CODEC)) is not None and not _has_removed_control(text):
        yield text, _WESTERN_CODEC


def _may_be_iso2022_jp(raw: bytes) -> bool:
    return any(d in raw for d in _ISO2022_JP_DESIGNATIONS) and raw.isascii()


def is_removed_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" and ch not in _KEPT_CONTROLS


def decode_text(raw: bytes, declared: str | None = None) -> DecodedText:
    """Decode untrusted bytes as text or raise ``text.encoding``."""
    found = decode_ladder(raw, declared)
    if found is None:
        raise MalformedError(
            "text.encoding",
            "not valid UTF-8, UTF-16, Shift_JIS, EUC-JP, ISO-2022-JP or windows-1252 (without control characters)",
        )
    text, codec, bom = found
    controls = sum(1 for ch in text if is_removed_control(ch))
    if controls > len(text) * MAX_CONTROL_SHARE:
        raise MalformedError(
            "text.encoding", f"{controls} of {len(text)} characters are control characters: not text"
        )
    return DecodedText(text, codec, bom, raw[len(bom) :])


def control_character_edits(text: str) -> list[Edit]:
    return [Edit(i, i + 1, "") for i, ch in enumerate(text) if is_removed_control(ch)]


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    pieces: list[str] = []
    cursor = 0
    for edit in edits:
        pieces.append(text[cursor : edit.start])
        pieces.append(edit.replacement)
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _reuse_original_bytes(decoded: DecodedText, edits: list[Edit]) -> bytes | None:
    """The body with ``edits`` applied, unchanged spans copied from the original bytes.

    None when a span does not map back to its own bytes (a character with two encodings,
    such as CP932's NEC and IBM duplicates, re-encoded to the other one).
    """
    codec = decoded.codec
    out = bytearray()
    char_pos = byte_pos = 0

    def take(span: str) -> bytes | None:
        nonlocal byte_pos
        size = len(span.encode(codec))
        original = decoded.body[byte_pos : byte_pos + size]
        byte_pos += size
        return original if _strict(original, codec) == span else None

    for edit in edits:
        kept = take(decoded.text[char_pos : edit.start])
        replaced = take(decoded.text[edit.start : edit.end])
        if kept is None or replaced is None:
            return None
        out += kept + edit.replacement.encode(codec)
        char_pos = edit.end
    tail = take(decoded.text[char_pos:])
    if tail is None or byte_pos != len(decoded.body):
        return None
    return bytes(out + tail)


@dataclass(frozen=True)
class Encoded:
    data: bytes
    codec: str
    bom: bytes


def encode_edited(decoded: DecodedText, edits: list[Edit], target: str, bom_for_utf8: bool) -> Encoded:
    """The edited text in the source's encoding (``keep``) or in UTF-8 (``utf-8``).

    ``bom_for_utf8``: converted output starts with a UTF-8 BOM (Excel needs it for CSV).
    """
    edits = sorted(edits, key=lambda e: (e.start, e.end))
    new_text = apply_edits(decoded.text, edits)
    if target == "utf-8" and decoded.codec != "utf-8":
        bom = UTF8_BOM if bom_for_utf8 else b""
        return Encoded(bom + new_text.encode("utf-8"), "utf-8", bom)
    body = _reuse_original_bytes(decoded, edits) if decoded.codec in _STATELESS_CODECS else None
    if body is None:
        body = new_text.encode(decoded.codec)
    return Encoded(decoded.bom + body, decoded.codec, decoded.bom)


def verify_reencoded(encoded: Encoded, expected: str, family: str) -> None:
    """The written bytes decode back to exactly the intended text, with no control left."""
    body = encoded.data[len(encoded.bom) :]
    if not encoded.data.startswith(encoded.bom) or _strict(body, encoded.codec) != expected:
        raise VerifyError(f"{family}.verify_failed", f"output does not decode back as {encoded.codec}")
    if any(is_removed_control(ch) for ch in expected):
        raise VerifyError(f"{family}.verify_failed", "a control character survived")


def encoding_finding(decoded: DecodedText, target: str, family: str = "text") -> Finding:
    if target == "utf-8" and decoded.codec != "utf-8":
        return Finding(f"{family}.encoding", "converted", 1, f"{decoded.label} → UTF-8")
    return Finding(f"{family}.encoding", "kept", 1, decoded.label)


class TextRebuild(Sanitizer):
    """Plain text: control characters removed, encoding kept (or converted to UTF-8)."""

    types: ClassVar[frozenset[str]] = frozenset({"txt"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {"encoding": ENCODING_OPTION}

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        target = str(self.resolved_options(options)["encoding"])
        decoded = decode_text(limits.read_file(untrusted_src))
        edits = control_character_edits(decoded.text)
        encoded = encode_edited(decoded, edits, target, bom_for_utf8=False)
        verify_reencoded(encoded, apply_edits(decoded.text, edits), "text")
        write_atomically(dst, encoded.data)
        report = Report("txt")
        report.findings.append(encoding_finding(decoded, target))
        report.add("text.control_characters", "removed", len(edits))
        return report


# ── CSV ─────────────────────────────────────────────────────────────────────────────

#: Characters that make a spreadsheet read a cell as a formula (OWASP CSV injection),
#: with the full-width forms Japanese input methods produce.
FORMULA_TRIGGERS = frozenset("=+-@＝＋－＠")
#: Leading white space some readers trim before they look for a formula (OWASP lists tab
#: and CR as triggers for that reason); the apostrophe goes before it.
_TRIMMED = "\t\r\n \u3000"
#: Delimiters a spreadsheet may split on; the file does not say which one the reader uses,
#: so cells are found under each and the neutralisations are united.  This is sound: an
#: apostrophe lands just before a trigger character, which no reading takes for structure.
_DELIMITERS = (",", "\t", ";")
_NEWLINE = re.compile(r"\r\n|\r|\n")
#: A number (or a lone sign, as statistics tables write for "none") is never a formula.
_INERT_VALUE = re.compile(r"[+\-＋－]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+\-]?\d+)?%?|[+\-＋－]")
#: Dynamic Data Exchange: "=cmd|' /C calc'!A0", "=DDE(...)", "=DDEAUTO ...".
_DDE = re.compile(r"\|[^!]*!|\bDDE(?:AUTO)?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Cell:
    """A cell's value: where it starts in the text and what it reads as."""

    start: int  # index of the value's first character (after an opening quote)
    value: str
    row: int


def iter_cells(text: str, delimiter: str) -> Iterator[Cell]:
    """Cells as a spreadsheet splits them with ``delimiter`` (RFC 4180 quoting)."""
    rest_of_cell = re.compile(f"[^{re.escape(delimiter)}\r\n]*")
    pos, row, end = 0, 1, len(text)
    while True:
        if text.startswith('"', pos):
            close = pos + 1
            while (close := text.find('"', close)) != -1 and text.startswith('""', close):
                close += 2
            close = end if close == -1 else close
            value = text[pos + 1 : close].replace('""', '"')
            yield Cell(pos + 1, value, row)
            row += len(_NEWLINE.findall(value))
            # text after the closing quote joins the value; it cannot start a formula
            pos = close + 1
            match = rest_of_cell.match(text, min(pos, end))
        else:
            match = rest_of_cell.match(text, pos)
            yield Cell(pos, match.group() if match else "", row)
        pos = match.end() if match else end
        if pos >= end:
            return
        newline = _NEWLINE.match(text, pos)
        if newline:
            row += 1
            pos = newline.end()
        else:
            pos += 1  # past the delimiter
        if pos >= end:
            return


def is_formula(value: str) -> bool:
    stripped = value.lstrip(_TRIMMED)
    return bool(stripped) and stripped[0] in FORMULA_TRIGGERS and not _INERT_VALUE.fullmatch(stripped)


def formula_cells(text: str) -> list[Cell]:
    """Cells read as formulas under any of the usual delimiters (a start may repeat)."""
    return [cell for d in _DELIMITERS for cell in iter_cells(text, d) if is_formula(cell.value)]


class CsvRebuild(Sanitizer):
    """CSV: like text, and cells a spreadsheet would evaluate get a leading apostrophe."""

    types: ClassVar[frozenset[str]] = frozenset({"csv"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "encoding": OptionSpec(
            "keep",
            ENCODING_OPTION.help + " A CSV converted to UTF-8 gets a BOM so that Excel reads it.",
            choices=("keep", "utf-8"),
        ),
        "neutralise_formulas": OptionSpec(
            True,
            "数式として解釈されるセル（= + - @ 等で始まる）の先頭に ' を付ける（DDEは常に無害化）。 "
            "Prefix cells a spreadsheet would evaluate (starting with = + - @, full-width too, "
            "possibly after tab/CR/space) with an apostrophe; numbers are left alone and DDE "
            "payloads are neutralised even when this is false.",
        ),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        resolved = self.resolved_options(options)
        target = str(resolved["encoding"])
        neutralise_all = bool(resolved["neutralise_formulas"])
        decoded = decode_text(limits.read_file(untrusted_src))
        controls = control_character_edits(decoded.text)
        # Cells are judged on the text as it will be written: a NUL removed by us must not
        # have hidden a trigger character from the check.
        text = apply_edits(decoded.text, controls)
        formulas = formula_cells(text)
        dde = {cell.start for cell in formulas if _DDE.search(cell.value)}
        defused = sorted({cell.start for cell in formulas} if neutralise_all else dde)
        cleaned = apply_edits(text, [Edit(start, start, "'") for start in defused])
        edits = controls + _in_original_coordinates(controls, defused)
        encoded = encode_edited(decoded, edits, target, bom_for_utf8=True)
        verify_reencoded(encoded, cleaned, "text")
        verify_no_formulas(cleaned, neutralise_all)
        write_atomically(dst, encoded.data)
        report = Report("csv")
        report.findings.append(encoding_finding(decoded, target))
        report.add("text.control_characters", "removed", len(controls))
        first_by_start = {cell.start: cell for cell in reversed(formulas)}
        dde_cells = [first_by_start[s] for s in sorted(dde)]
        other_cells = [first_by_start[s] for s in sorted(first_by_start) if s not in dde]
        _report_cells(report, "csv.dde", dde_cells, "neutralised")
        _report_cells(report, "csv.formula", other_cells, "neutralised" if neutralise_all else "kept")
        return report


def verify_no_formulas(text: str, neutralise_all: bool) -> None:
    """No cell a spreadsheet would evaluate is left: none at all when ``neutralise_all``
    (``neutralise_formulas`` = true), else no DDE payload, which is always defused."""
    if any(neutralise_all or _DDE.search(cell.value) for cell in formula_cells(text)):
        raise VerifyError("text.verify_failed", "a formula cell survived neutralisation")


def _in_original_coordinates(controls: list[Edit], insertions: list[int]) -> list[Edit]:
    """Apostrophe insertions, given in the text without control characters, as edits of
    the original text: each position moves past the control characters removed before it."""
    edits: list[Edit] = []
    removed_before = 0
    for position in insertions:
        while removed_before < len(controls) and controls[removed_before].start <= position + removed_before:
            removed_before += 1
        edits.append(Edit(position + removed_before, position + removed_before, "'"))
    return edits


def _report_cells(report: Report, construct: str, cells: list[Cell], action: str) -> None:
    if cells:
        report.add(construct, action, len(cells), f"row {cells[0].row}")
