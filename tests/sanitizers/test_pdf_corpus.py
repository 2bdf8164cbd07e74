"""Every PDF of the shared corpus gets the verdict recorded in fixtures/pdf_corpus.toml.

Runs the real pipeline (detection, policy, method chain) with the rule
pdf = ["rebuild", "image"], then re-checks each released output independently and judges it
again (nothing more may be removed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ChannelPolicy
from sanitizers.base import Limits, Registry
from sanitizers.pdf import PdfImage, PdfRebuild, PdfText
from sanitizers.pipeline import Outcome, Rule
from tests.conftest import (
    CORPUS,
    corpus_names,
    corpus_table,
    process_timed,
    released_as_the_table_says,
    require_corpus,
)
from tests.sanitizers import pdf_builders as b
from tests.sanitizers.contract import assert_judged_again_unchanged

require_corpus()

pytestmark = pytest.mark.corpus

EXPECTED = corpus_table("pdf")
REGISTRY = Registry([PdfRebuild(), PdfImage(), PdfText()])
LIMITS = Limits()
POLICY = ChannelPolicy({"pdf": Rule(("rebuild", "image"))})


def run(name: str, scratch: Path) -> tuple[Outcome, float]:
    return process_timed(CORPUS / "pdf" / name, name, scratch, POLICY, LIMITS, REGISTRY)


def test_the_table_covers_the_corpus_exactly() -> None:
    assert sorted(EXPECTED) == corpus_names("pdf")


@pytest.mark.parametrize("name", corpus_names("pdf"))
def test_verdict_matches_the_table(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    outcome, seconds = run(name, tmp_path)
    assert seconds < LIMITS.timeout_seconds
    output = released_as_the_table_says(outcome, expected)
    if output is None:
        return
    assert b.constructs_in(output) & b.FORBIDDEN_CONSTRUCTS == set()
    assert_judged_again_unchanged(outcome, POLICY, LIMITS, REGISTRY, tmp_path / "again")
    if outcome.method == "image":
        # glyphs of our own Type 3 fonts are pixels: no real font, and no text of the original
        found = b.constructs_in(output)
        assert found.isdisjoint({"/BaseFont", "/FontDescriptor", "/Annots", "/AcroForm", "/Names", "/URI"})
        assert set("".join(b.pdfium_texts(output))) <= {"\ufffd", "\r", "\n"}
    else:
        assert b.pdfium_texts(output) == b.pdfium_texts(CORPUS / "pdf" / name)
