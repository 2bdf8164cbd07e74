"""Plain text and CSV: strict decoding, encodings kept byte for byte, formulas defused."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from sanitizers.base import Limits, Sanitizer
from sanitizers.errors import MalformedError, SanitizeError, VerifyError
from sanitizers.text import (
    CsvRebuild,
    DecodedText,
    Encoded,
    TextRebuild,
    decode_text,
    iter_cells,
    verify_reencoded,
)
from tests.sanitizers.contract import RebuildContract

#: Characters every Japanese encoding here has; CP932 also gets its own (～ ① are Windows').
COMMON_JAPANESE = "無害化ゲートウェイ：住民票の写し、令和６年度予算（案）。"
JAPANESE = COMMON_JAPANESE + "～①"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run(sanitizer: Sanitizer, src: Path, **options: str | bool) -> tuple[bytes, dict[str, str]]:
    """Output bytes and {construct: action}."""
    dst = src.with_name(src.name + ".out")
    report = sanitizer.sanitize(src, dst, options, Limits())
    return dst.read_bytes(), {f.construct: f.action for f in report.findings}


class TestTextContract(RebuildContract):
    garbage = ("random", "zeros")

    def make_sanitizer(self) -> Sanitizer:
        return TextRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        return write(tmp_path, "in.txt", f"{JAPANESE}\x00\x07\r\n".encode("cp932"))


class TestCsvContract(RebuildContract):
    garbage = ("random", "zeros")

    def make_sanitizer(self) -> Sanitizer:
        return CsvRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        return write(tmp_path, "in.csv", "名前,式\r\n山田,=cmd|' /C calc'!A0\r\n".encode("cp932"))


# ── encodings ───────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (JAPANESE.encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF8 + JAPANESE.encode("utf-8"), "UTF-8"),
        (JAPANESE.encode("cp932"), "Shift_JIS"),
        (COMMON_JAPANESE.encode("euc_jp"), "EUC-JP"),
        (COMMON_JAPANESE.encode("iso2022_jp"), "ISO-2022-JP"),
        (codecs.BOM_UTF16_LE + JAPANESE.encode("utf-16-le"), "UTF-16LE"),
        (codecs.BOM_UTF16_BE + JAPANESE.encode("utf-16-be"), "UTF-16BE"),
    ],
)
def test_every_supported_encoding_is_kept_byte_for_byte(tmp_path: Path, raw: bytes, label: str) -> None:
    src = write(tmp_path, "in.txt", raw + b"\r\n")
    dst = tmp_path / "out.txt"
    report = TextRebuild().sanitize(src, dst, {}, Limits())
    assert dst.read_bytes() == raw + b"\r\n"
    assert [(f.construct, f.action, f.location) for f in report.findings] == [
        ("text.encoding", "kept", label)
    ]


def test_euc_jp_that_also_decodes_as_cp932_is_read_as_euc_jp() -> None:
    raw = "ひらがなとカタカナ".encode("euc_jp")
    assert raw.decode("cp932")  # valid CP932 too, but as half-width katakana nonsense
    assert decode_text(raw).codec == "euc_jp"


def test_iso_2022_jp_is_recognised_although_it_is_valid_ascii() -> None:
    raw = "お知らせ".encode("iso2022_jp")
    assert raw.isascii()
    decoded = decode_text(raw)
    assert (decoded.codec, decoded.text) == ("iso2022_jp", "お知らせ")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("Привет, мир".encode("cp866"), "no encoding fits (0x8F is not windows-1252)"),
        ("Résumé\x07".encode("cp1252"), "windows-1252 only without control characters"),
        ("\x01\x02".encode("utf-16-le") * 20, "UTF-16 without BOM, but control characters"),
        (b"\x00" * 64, "nothing but control characters"),
        (b"\xef\xbb\xbf\xff\xfe", "a UTF-8 BOM before invalid UTF-8"),
    ],
)
def test_undecodable_or_binary_input_is_refused_as_text_encoding(
    tmp_path: Path, raw: bytes, why: str
) -> None:
    src = write(tmp_path, "in.txt", raw)
    with pytest.raises(MalformedError) as caught:
        TextRebuild().sanitize(src, tmp_path / "out.txt", {}, Limits())
    assert caught.value.code == "text.encoding", why
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


WESTERN = "Café “crème brûlée” für Müller’s Büro – 12,50 € • naïve\r\n"


@pytest.mark.parametrize(
    ("text", "codec", "label"),
    [
        ("名前,式\r\nplain ASCII as well\r\n", "utf-16-le", "UTF-16LE"),
        ("名前,式\r\nplain ASCII as well\r\n", "utf-16-be", "UTF-16BE"),
        (WESTERN, "cp1252", "windows-1252"),
    ],
)
def test_utf16_without_bom_and_windows_1252_are_kept_byte_for_byte(
    tmp_path: Path, text: str, codec: str, label: str
) -> None:
    src = write(tmp_path, "in.txt", text.encode(codec))
    dst = tmp_path / "out.txt"
    report = TextRebuild().sanitize(src, dst, {}, Limits())
    assert dst.read_bytes().decode(codec) == text
    assert [(f.construct, f.action, f.location) for f in report.findings] == [
        ("text.encoding", "kept", label)
    ]


def test_windows_1252_loses_to_every_japanese_encoding() -> None:
    # bytes that windows-1252 reads too: the ladder still takes them for Japanese
    for raw, codec in [
        ("令和予算東京".encode("cp932"), "cp932"),
        ("ひらがなとカタカナ".encode("euc_jp"), "euc_jp"),
        ("無害化".encode(), "utf-8"),
    ]:
        assert raw.decode("cp1252", errors="strict")
        assert decode_text(raw).codec == codec


def test_western_text_that_is_valid_shift_jis_keeps_its_bytes(tmp_path: Path) -> None:
    """Which label wins does not change a byte: the output is the input."""
    raw = "Ôç".encode("cp1252")  # 0xD4 0xE7: a kanji in EUC-JP, two half-width kana in CP932
    assert decode_text(raw).codec in ("cp932", "euc_jp")
    assert run(TextRebuild(), write(tmp_path, "in.txt", raw))[0] == raw


def test_windows_1252_converted_to_utf8(tmp_path: Path) -> None:
    out, findings = run(TextRebuild(), write(tmp_path, "in.txt", WESTERN.encode("cp1252")), encoding="utf-8")
    assert out == WESTERN.encode("utf-8")
    assert findings["text.encoding"] == "converted"


def test_control_characters_go_and_everything_else_stays_byte_identical(tmp_path: Path) -> None:
    clean = f"{JAPANESE}\tタブ\fページ\r\n次の行\n"
    dirty = clean[:5] + "\x00" + clean[5:12] + "\x1b\x07\x7f" + clean[12:]
    src = write(tmp_path, "in.txt", dirty.encode("cp932"))
    out, findings = run(TextRebuild(), src)
    assert out == clean.encode("cp932")
    assert findings["text.control_characters"] == "removed"


def test_c1_controls_in_utf8_are_removed(tmp_path: Path) -> None:
    src = write(tmp_path, "in.txt", "a\u0085b\u009bc and some more text".encode())
    assert run(TextRebuild(), src)[0] == b"abc and some more text"


def test_cp932_characters_with_two_encodings_keep_their_original_bytes(tmp_path: Path) -> None:
    # 0x8790 (≒ in NEC row 13) decodes to U+2252, which re-encodes as JIS row 1's 0x81E0;
    # a rebuild that re-encoded everything would silently change these bytes.
    nec_row13 = b"\x87\x90"
    assert nec_row13.decode("cp932").encode("cp932") != nec_row13
    raw = "前".encode("cp932") + nec_row13 + b"\x00" + "後の文章".encode("cp932")
    out, _ = run(TextRebuild(), write(tmp_path, "in.txt", raw))
    assert out == raw.replace(b"\x00", b"")


def test_encoding_option_converts_to_utf8(tmp_path: Path) -> None:
    src = write(tmp_path, "in.txt", JAPANESE.encode("cp932"))
    out, findings = run(TextRebuild(), src, encoding="utf-8")
    assert out == JAPANESE.encode("utf-8")
    assert findings["text.encoding"] == "converted"


def test_oversized_input_is_refused_before_it_is_read(tmp_path: Path) -> None:
    src = write(tmp_path, "in.txt", b"x" * 100)
    with pytest.raises(SanitizeError) as caught:
        TextRebuild().sanitize(src, tmp_path / "out", {}, Limits(max_file_size=10))
    assert caught.value.code == "input.too_large"


def test_verification_refuses_bytes_that_do_not_decode_back() -> None:
    decoded = DecodedText("あ", "cp932", b"", "あ".encode("cp932"))
    with pytest.raises(VerifyError) as caught:
        verify_reencoded(Encoded("い".encode("cp932"), decoded.codec, b""), "あ", "text")
    assert caught.value.code == "text.verify_failed"


# ── CSV ──────────────────────────────────────────────────────────────────────────────


def test_shift_jis_csv_is_byte_identical_except_the_defused_cells(tmp_path: Path) -> None:
    rows = [
        ("氏名,住所,金額,備考\r\n", "氏名,住所,金額,備考\r\n"),
        ("山田太郎,東京都千代田区,-1200,=1+2\r\n", "山田太郎,東京都千代田区,-1200,'=1+2\r\n"),
        (
            '"鈴木, 花子","=HYPERLINK(""http://x"")",1e3,-\r\n',
            '"鈴木, 花子","\'=HYPERLINK(""http://x"")",1e3,-\r\n',
        ),
        (
            "佐藤,＝ＳＵＭ（Ａ１）,+81-3-1234-5678,@SUM(1)\r\n",
            "佐藤,'＝ＳＵＭ（Ａ１）,'+81-3-1234-5678,'@SUM(1)\r\n",
        ),
        # a reader splitting on ";" sees the quote as plain text and "=続き" opening a row
        ('高橋,"複数行\r\n=続き",－,＋\r\n', '高橋,"複数行\r\n\'=続き",－,＋\r\n'),
    ]
    src = write(tmp_path, "in.csv", "".join(before for before, _ in rows).encode("cp932"))
    out, findings = run(CsvRebuild(), src)
    assert out == "".join(after for _, after in rows).encode("cp932")
    assert findings == {"text.encoding": "kept", "csv.formula": "neutralised"}


@pytest.mark.parametrize(
    ("line", "defused"),
    [
        ("a,\t=cmd|'/c calc'!A0", "a,'\t'=cmd|'/c calc'!A0"),  # tab before the formula
        ('a,"\r=1+1"', "a,\"'\r'=1+1\""),  # CR in a quoted cell (and a new row for ";" readers)
        ("a, =1+1", "a,' =1+1"),  # a reader may trim the space
        ("a;=1+1", "a;'=1+1"),  # semicolon-separated (European Excel)
        ("a\t=1+1", "a\t'=1+1"),  # tab-separated
        ("=1+1", "'=1+1"),  # first cell of the file
        ('"=1+1"', '"\'=1+1"'),  # quoted first cell
        ("a,-1.5e3,+2,-,.5,1,234", "a,-1.5e3,+2,-,.5,1,234"),  # numbers are never formulas
        ("a,-2+3", "a,'-2+3"),  # arithmetic is
    ],
)
def test_formula_cells_get_an_apostrophe(tmp_path: Path, line: str, defused: str) -> None:
    out, _ = run(CsvRebuild(), write(tmp_path, "in.csv", (line + "\n").encode()))
    assert out.decode() == defused + "\n"


def test_dde_is_reported_and_neutralised_even_when_formulas_are_kept(tmp_path: Path) -> None:
    src = write(tmp_path, "in.csv", b"a,=1+1\r\nb,=cmd|' /C calc'!A0\r\nc,=DDEAUTO(x)\r\n")
    out, findings = run(CsvRebuild(), src, neutralise_formulas=False)
    assert out == b"a,=1+1\r\nb,'=cmd|' /C calc'!A0\r\nc,'=DDEAUTO(x)\r\n"
    assert findings == {"text.encoding": "kept", "csv.dde": "neutralised", "csv.formula": "kept"}


def test_a_nul_cannot_hide_a_formula(tmp_path: Path) -> None:
    out, findings = run(CsvRebuild(), write(tmp_path, "in.csv", b"a,\x00=cmd|'/c calc'!A0\n"))
    assert out == b"a,'=cmd|'/c calc'!A0\n"
    assert findings["csv.dde"] == "neutralised"


def test_line_endings_and_quoting_are_preserved(tmp_path: Path) -> None:
    raw = b'"a","b"\r\n"c ""q""",d\nlast,"x\r\ny"\r'
    assert run(CsvRebuild(), write(tmp_path, "in.csv", raw))[0] == raw


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_csv_without_bom_keeps_its_encoding_and_loses_its_formulas(tmp_path: Path, codec: str) -> None:
    before = "氏名,金額,備考\r\n山田,-1200,=1+2\r\n鈴木,@SUM(1),=cmd|' /C calc'!A0\r\n"
    after = "氏名,金額,備考\r\n山田,-1200,'=1+2\r\n鈴木,'@SUM(1),'=cmd|' /C calc'!A0\r\n"
    out, findings = run(CsvRebuild(), write(tmp_path, "in.csv", before.encode(codec)))
    assert out == after.encode(codec)
    assert findings == {"text.encoding": "kept", "csv.dde": "neutralised", "csv.formula": "neutralised"}


def test_windows_1252_csv_keeps_its_encoding_and_loses_its_formulas(tmp_path: Path) -> None:
    before = "Name;Betrag\r\nMüller;=1+2 €\r\n“Zitat”;-5\r\n"
    out, _ = run(CsvRebuild(), write(tmp_path, "in.csv", before.encode("cp1252")))
    assert out.decode("cp1252") == before.replace(";=", ";'=")


def test_csv_converted_to_utf8_gets_a_bom_for_excel(tmp_path: Path) -> None:
    src = write(tmp_path, "in.csv", "名前,=1+2\r\n".encode("cp932"))
    out, findings = run(CsvRebuild(), src, encoding="utf-8")
    assert out == codecs.BOM_UTF8 + "名前,'=1+2\r\n".encode()
    assert findings["text.encoding"] == "converted"


def test_cells_are_split_like_a_spreadsheet_does() -> None:
    text = 'a,"b,""c""\r\nd",e\r\n,f'
    assert [(c.value, c.row) for c in iter_cells(text, ",")] == [
        ("a", 1),
        ('b,"c"\r\nd', 1),
        ("e", 2),
        ("", 3),
        ("f", 3),
    ]
