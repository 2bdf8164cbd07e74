"""The pieces of the mail rebuild one at a time: charsets, header fields, links in text."""

from __future__ import annotations

import base64

import pytest

from sanitizers.mail.charsets import codec_for, decode_iso2022_jp, decode_labelled, encode_iso2022_jp
from sanitizers.mail.headers import (
    HeaderValues,
    decode_words,
    header_text,
    mailboxes,
    read_headers,
    structured,
)
from sanitizers.mail.urls import CHOICES, treat_links, untreated_links

# ── charsets ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("text", ["①②③㈱№≒", "ＡＢＣ　全角～", "JIS X 0208 だけ", "Ⅰ Ⅱ Ⅲ"])
def test_iso_2022_jp_with_windows_extensions_round_trips(text: str) -> None:
    encoded = encode_iso2022_jp(text)
    assert encoded is not None and encoded.isascii()
    assert decode_iso2022_jp(encoded) == text


def test_what_iso_2022_jp_cannot_hold_is_not_forced_into_it() -> None:
    assert encode_iso2022_jp("ｶﾀｶﾅ") is None  # half-width katakana
    assert encode_iso2022_jp("😀") is None


def test_labels_are_read_as_the_supersets_mailers_mean() -> None:
    assert codec_for("Shift_JIS") == "cp932" and codec_for("x-sjis") == "cp932"
    assert codec_for("EUC-JP") == "euc_jp" and codec_for("ISO-2022-JP") == "iso2022_jp"
    assert decode_labelled("①～".encode("cp932"), "Shift_JIS") == ("①～", "cp932")
    assert decode_labelled("①".encode("euc_jis_2004"), "EUC-JP") == ("①", "euc_jp")


@pytest.mark.parametrize("label", ["unicode_escape", "raw_unicode_escape", "idna", "rot13", "base64", "zlib"])
def test_labels_that_are_not_charsets_are_not_used(label: str) -> None:
    assert codec_for(label) is None
    assert decode_labelled(b"\\u202e", label) == ("\\u202e", "utf-8")  # read by the ladder instead


# ── header fields ────────────────────────────────────────────────────────────────────


def _word(text: str, charset: str, codec: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode()}?="


def test_a_character_split_across_two_encoded_words_is_joined() -> None:
    raw = "ソフト表示".encode("cp932")
    words = " ".join(f"=?Shift_JIS?B?{base64.b64encode(p).decode()}?=" for p in (raw[:3], raw[3:]))
    assert header_text(words) == ("ソフト表示", False)


def test_encoded_words_are_read_in_quotes_and_mixed_charsets() -> None:
    value = f'"{_word("山田", "ISO-2022-JP", "iso2022_jp")}" <a@b.jp>'
    assert mailboxes(value)[0] == [("山田", "a@b.jp")]
    mixed = f"{_word('前半', 'UTF-8', 'utf-8')} {_word('後半', 'EUC-JP', 'euc_jp')} tail"
    assert decode_words(mixed) == "前半後半 tail"


def test_a_decoded_comma_or_bracket_cannot_make_a_second_address() -> None:
    value = f"{_word('evil, other <x@evil.example>', 'UTF-8', 'utf-8')} <real@city.lg.jp>"
    assert mailboxes(value)[0] == [("evil, other <x@evil.example>", "real@city.lg.jp")]


def test_controls_and_direction_overrides_leave_header_text() -> None:
    assert header_text(_word("請求\u202eexe.pdf\x07", "UTF-8", "utf-8"))[0] == "請求exe.pdf"


def test_rfc_2231_continuations_and_raw_bytes_in_parameters() -> None:
    continued = structured(
        "attachment; filename*0*=Shift_JIS''%97%5C%8EZ; filename*1*=%95%5C; filename*2=.xlsm"
    )
    assert continued.filename_param("filename") == "予算表.xlsm"
    raw = 'attachment; filename="' + "表.xls".encode("cp932").decode("ascii", "surrogateescape") + '"'
    assert structured(raw).filename_param("filename") == "表.xls"
    jis = "attachment; filename=" + "\x1b$B%F%9%H\x1b(B.doc"
    assert structured(jis).filename_param("filename") == "テスト.doc"


def test_only_allow_listed_fields_are_kept_and_ours_is_replaced_silently() -> None:
    read = read_headers(
        [
            ("From", "a@b.jp"),
            ("X-Mukaika-Sanitized", "forged"),
            ("Content-Type", "text/plain"),
            ("DKIM-Signature", "v=1"),
            ("Received", "from x"),
            ("Subject", "s"),
            ("Subject", "second"),
            ("Date", "not a date"),
        ],
        keep_received=False,
    )
    assert read.removed == ["DKIM-Signature", "Subject", "Date"]
    assert read.received == 1 and read.values.received == []
    assert read.values.subject == "s"


def test_written_fields_are_ascii_and_folded() -> None:
    values = HeaderValues(
        addresses={"To": [(f"宛先{i}", f"u{i}@city.lg.jp") for i in range(6)]},
        subject="件名" * 40,
        message_id="<a@b>",
    )
    for line in values.lines():
        assert line.isascii()
        assert all(len(physical) <= 76 for physical in line.split("\r\n"))


# ── links in text ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("option", CHOICES)
def test_treating_links_leaves_none_the_option_does_not_keep_and_is_idempotent(option: str) -> None:
    text = (
        "https://a.example.jp/?next=javascript:alert(1) HTTP://B.EXAMPLE.JP www.c.jp "
        "ms-msdt:/id vbscript :x file:///C:/x \\\\srv\\s ftp://f.jp http:\\\\evil "
        "https://city.lg.jp@evil.example/ mailto:a@b.jp?attach=C:\\x"
    )
    treated, _counts = treat_links(text, option)
    assert untreated_links(treated, option) == []
    again, counts = treat_links(treated, option)
    assert again == treated
    assert counts.get("neutralised", 0) == counts.get("removed", 0) == 0


def test_keep_web_keeps_only_what_the_link_rule_keeps() -> None:
    treated, counts = treat_links(
        "https://city.lg.jp/ https://city.lg.jp@evil.example/ javascript:x", "keep-web"
    )
    assert treated == "https://city.lg.jp/ hxxps://city.lg.jp@evil.example/ javascript[:]x"
    assert counts == {"kept": 1, "neutralised": 2}
