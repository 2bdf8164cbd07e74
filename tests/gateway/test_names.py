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
    ],
)
def test_clean_name(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


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
