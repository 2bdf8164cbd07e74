from __future__ import annotations

import pytest

from gateway.names import MAX_NAME_BYTES, clean_name, clean_relative_dir, is_temporary


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("請求書.pdf", "請求書.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # RTLO would show "invoiceexe.pdf"
        ("a\u200fb\u2066c.txt", "abc.txt"),  # other bidi controls
        ("tab\tand\nnewline.txt", "tab_and_newline.txt"),
        ("..\\..\\evil.txt", "_.._evil.txt"),
        ("a/b.txt", "a_b.txt"),
        ('what?<>:"|*.txt', "what_______.txt"),
        ("CON.txt", "_CON.txt"),
        ("lpt1", "_lpt1"),
        ("com3.tar.gz", "_com3.tar.gz"),
        ("trailing dot. ", "trailing dot"),
        (".hidden.pdf", "hidden.pdf"),
        ("..", "unnamed"),
        ("", "unnamed"),
        ("ｶﾞ.txt", "ｶﾞ.txt"),  # half-width kana is legitimate
        ("e\u0301.txt", "é.txt"),  # NFC: one code point, as Windows writes it
        ("請求書\u202e\u202a\u202b\u202c\u202dfdp.exe", "請求書fdp.exe"),  # embeddings and overrides
        ("a\u2067b\u2068c\u2069d\u200ee\u061cf.txt", "abcdef.txt"),  # isolates, LRM, Arabic mark
        ("in\u200bvo\u200cic\u200de\u2060.p\ufeffdf", "invoice.pdf"),  # zero-width characters
        ("re\u00adport.docx", "report.docx"),  # soft hyphen
        ("memo\u3164\u115f\u1160\uffa0\u034f.txt", "memo.txt"),  # fillers that show as blank
        ("line\u2028break\u2029.txt", "line_break_.txt"),  # line and paragraph separators
        ("\U000e0041\U000e007fname.txt", "name.txt"),  # tag characters
    ],
)
def test_clean_name(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


@pytest.mark.parametrize(
    "raw", ["\u202e", "\u200b\u200c\u200d\u2060\ufeff", "\u00ad\u061c", "\u3164", "\u202e . "]
)
def test_a_name_of_invisible_characters_still_gets_a_usable_name(raw: str) -> None:
    assert clean_name(raw) == "unnamed"


@pytest.mark.parametrize(
    "name",
    [
        "令和６年度　予算（案）.xlsx",  # ideographic space and full-width parentheses
        "住民票の写し～①.pdf",
        "ｶﾞｲﾄﾞﾌﾞｯｸ.docx",  # half-width kana with voiced marks
        "葛\U000e0100城市.txt",  # an ideographic variation sequence (a kanji variant)
        "報告書ー最終版・確認済み.pptx",
    ],
)
def test_japanese_names_are_unchanged(name: str) -> None:
    assert clean_name(name) == name


def test_every_cleaned_name_is_free_of_what_zip_members_may_not_carry() -> None:
    hidden = "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]))
    assert not set(clean_name(f"a{hidden}b.txt")) & set(hidden)


def test_over_long_names_are_shortened_keeping_the_extension() -> None:
    name = clean_name("長" * 200 + ".pdf")
    assert name.endswith("….pdf")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES


def test_relative_folders_cannot_escape() -> None:
    assert clean_relative_dir(("..", "sub\u202e", ".", "CON")) == ("sub", "_CON")


@pytest.mark.parametrize(
    "name",
    [
        "~$報告書.docx",
        "x.tmp",
        ".~lock.a.odt#",
        "dl.part",
        "Thumbs.db",
        "desktop.ini",
        ".hidden",
        ".mukaika-tmp-1",
    ],
)
def test_temporary_names_wait(name: str) -> None:
    assert is_temporary(name)


@pytest.mark.parametrize("name", ["report.pdf", "tmp.pdf", "partial.docx", "my~$.txt"])
def test_ordinary_names_do_not_wait(name: str) -> None:
    assert not is_temporary(name)
