"""テキスト化: UTF-8 text, a form feed between pages, correct Japanese."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest

from sanitizers.base import Limits, Report, Sanitizer
from sanitizers.errors import EncryptedError, SanitizeError
from sanitizers.pdf import PdfText
from tests.sanitizers import pdf_builders as b
from tests.sanitizers.contract import SanitizerContract

TEXT = PdfText()


def extract(src: Path, tmp_path: Path) -> tuple[str, Report]:
    dst = tmp_path / "out.txt"
    report = TEXT.sanitize(src, dst, {}, Limits())
    return dst.read_bytes().decode("utf-8"), report


class TestContract(SanitizerContract):
    def make_sanitizer(self) -> Sanitizer:
        return PdfText()

    def make_good_input(self, tmp_path: Path) -> Path:
        return b.build(tmp_path / "in.pdf", b.open_action_js)


def test_pages_are_separated_by_form_feeds(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", b.open_action_js, b.embedded_file_names)
    text, report = extract(src, tmp_path)
    assert text == "\f".join(b.PAGE_TEXTS)
    assert report.output_type == "txt"
    assert (report.findings[0].construct, report.findings[0].count) == ("pdf.page", 2)


def test_japanese_comes_out_as_unicode(tmp_path: Path) -> None:
    lines = ["無害化されたお知らせ", "令和六年度　住民税のご案内", "ｶﾀｶﾅと①②③"]
    src = b.save(b.japanese_document(lines), tmp_path / "ja.pdf")
    text, _ = extract(src, tmp_path)
    assert text.split("\n") == lines


def test_japanese_through_a_predefined_cmap_without_tounicode(tmp_path: Path) -> None:
    lines = ["市役所からのお知らせ", "申請書の提出期限"]
    src = b.save(b.japanese_document(lines, predefined_cmap=True), tmp_path / "ja.pdf")
    text, _ = extract(src, tmp_path)
    assert text.split("\n") == lines


def test_line_breaks_are_newlines_and_controls_are_dropped(tmp_path: Path) -> None:
    pdf = b.new_document(["x"])
    pdf.pages[0].obj.Contents = pdf.make_stream(
        b"BT /F1 12 Tf 72 700 Td (first\\007line) Tj 0 -20 Td (second line) Tj ET"
    )
    text, _ = extract(b.save(pdf, tmp_path / "in.pdf"), tmp_path)
    assert text == "firstline\nsecond line"


def test_a_document_without_text_is_refused(tmp_path: Path) -> None:
    pdf = b.new_document(["x"])
    pdf.pages[0].obj.Contents = pdf.make_stream(b"0 0 1 rg 72 72 200 200 re f")
    with pytest.raises(SanitizeError) as caught:
        extract(b.save(pdf, tmp_path / "scan.pdf"), tmp_path)
    assert caught.value.code == "pdf.no_text"
    assert not (tmp_path / "out.txt").exists()


def test_user_password_is_refused(tmp_path: Path) -> None:
    src = b.save(b.new_document(), tmp_path / "u.pdf", encryption=pikepdf.Encryption(owner="x", user="y"))
    with pytest.raises(EncryptedError):
        extract(src, tmp_path)


def test_owner_password_only_is_read(tmp_path: Path) -> None:
    src = b.save(b.new_document(), tmp_path / "o.pdf", encryption=pikepdf.Encryption(owner="x", user=""))
    text, report = extract(src, tmp_path)
    assert text == "\f".join(b.PAGE_TEXTS)
    assert report.findings[0].construct == "pdf.decrypted"
