"""Rebuilt Office files still open: LibreOffice converts every released legacy output and
the Japanese OOXML outputs to PDF, and their text is still there."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pypdfium2
import pytest

from sanitizers.base import Limits
from sanitizers.convert import convert_to_pdf
from sanitizers.ole import OleRebuild
from sanitizers.ooxml import OoxmlRebuild
from tests.conftest import CORPUS, require_corpus

require_corpus()
pytestmark = [pytest.mark.corpus, pytest.mark.slow]

FIXTURES = Path(__file__).parents[2] / "fixtures"
OLE_RELEASED = sorted(
    entry["file"]
    for entry in tomllib.loads((FIXTURES / "ole_corpus.toml").read_text(encoding="utf-8"))["ole"]
    if entry["expect"] == "released"
)
JAPANESE_OOXML = {
    "tika__testWORD_phonetic.docx": "東京",
    "poi__stress019.docx": "農業",
    "poi__with_japanese.pptx": "ゾルゲと尾崎",
}


def converted_text(document: Path, work: Path) -> str:
    work.mkdir()
    pdf = pypdfium2.PdfDocument(convert_to_pdf(document, work, Limits()))
    try:
        assert len(pdf) >= 1
        return "".join("".join(page.get_textpage().get_text_range().split()) for page in pdf)
    finally:
        pdf.close()


def is_subsequence(short: str, long: str) -> bool:
    remaining = iter(long)
    return all(char in remaining for char in short)


@pytest.mark.parametrize("name", OLE_RELEASED)
def test_rebuilt_legacy_office_file_converts(name: str, tmp_path: Path) -> None:
    rebuilt = tmp_path / "rebuilt"
    report = OleRebuild().sanitize(CORPUS / "ole" / name, rebuilt, {}, Limits())
    original = converted_text(CORPUS / "ole" / name, tmp_path / "before")
    after = converted_text(rebuilt, tmp_path / "after")
    if any(f.construct == "ole.embedded_object" for f in report.findings):
        assert is_subsequence(original, after)  # only the removed objects' fallback labels are new
    else:
        assert after == original


@pytest.mark.parametrize("name", sorted(JAPANESE_OOXML))
def test_rebuilt_japanese_ooxml_converts_with_its_text(name: str, tmp_path: Path) -> None:
    rebuilt = tmp_path / "rebuilt"
    OoxmlRebuild().sanitize(CORPUS / "ooxml" / name, rebuilt, {}, Limits())
    text = converted_text(rebuilt, tmp_path / "convert")
    assert JAPANESE_OOXML[name] in text
