"""Every OOXML file of the shared corpus gets the verdict recorded in fixtures/ooxml_corpus.toml.

Runs the real pipeline (detection, policy, method chain) with the rule
docx/docm/xlsx/xlsm/pptx/pptm/xlsb = ["rebuild"]; each released output is then re-checked
by oletools and by an independent zipfile walk, its text compared with the input's, and
sanitised again to show that nothing is left to remove.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import ChannelPolicy
from sanitizers.base import Limits, Registry
from sanitizers.ooxml import OoxmlRebuild, XlsbRefusal
from sanitizers.pipeline import Outcome, Rule
from tests.conftest import (
    CORPUS,
    corpus_names,
    corpus_table,
    process_timed,
    released_as_the_table_says,
    require_corpus,
)
from tests.sanitizers import ooxml_builders as b
from tests.sanitizers.contract import assert_judged_again_unchanged

require_corpus()

pytestmark = pytest.mark.corpus

EXPECTED = corpus_table("ooxml")
REGISTRY = Registry([OoxmlRebuild(), XlsbRefusal()])
LIMITS = Limits()
OFFICE_TYPES = frozenset({"docx", "docm", "xlsx", "xlsm", "pptx", "pptm", "xlsb"})
POLICY = ChannelPolicy(dict.fromkeys(OFFICE_TYPES, Rule(("rebuild",))))
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def run(name: str, scratch: Path) -> tuple[Outcome, float]:
    return process_timed(CORPUS / "ooxml" / name, name, scratch, POLICY, LIMITS, REGISTRY)


def test_the_table_covers_the_corpus_exactly() -> None:
    assert sorted(EXPECTED) == corpus_names("ooxml")


@pytest.mark.parametrize("name", corpus_names("ooxml"))
def test_verdict_matches_the_table(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    outcome, seconds = run(name, tmp_path)
    assert seconds < LIMITS.timeout_seconds
    output = released_as_the_table_says(outcome, expected)
    if output is None:
        return
    assert outcome.output is not None and outcome.output.type in ("docx", "xlsx", "pptx")
    b.assert_package_clean(output)
    b.assert_oletools_clean(output)
    assert b.dangling_references(output) == []
    assert b.texts_in(output) == b.texts_in(CORPUS / "ooxml" / name)
    assert_judged_again_unchanged(outcome, POLICY, LIMITS, REGISTRY, tmp_path / "again")


@pytest.mark.parametrize(
    "name",
    [
        "tika__testWORD_phonetic.docx",
        "poi__stress019.docx",
        "poi__with_japanese.pptx",
        "tika__testEXCEL.xlsx",
    ],
)
def test_japanese_documents_keep_their_text(name: str, tmp_path: Path) -> None:
    outcome, _ = run(name, tmp_path)
    assert outcome.verdict == "released" and outcome.output_path is not None
    before = b.texts_in(CORPUS / "ooxml" / name)
    assert b.texts_in(outcome.output_path) == before
    text = "".join(t for texts in before.values() for t in texts)
    assert text.strip()
    if name != "tika__testEXCEL.xlsx":  # listed with them, but its text is English
        assert JAPANESE.search(text)


def test_macro_enabled_outputs_are_named_as_plain_files(tmp_path: Path) -> None:
    outcome, _ = run("poi__SimpleMacro.docm", tmp_path)
    assert outcome.output is not None and outcome.output.name == "poi__SimpleMacro.docx"
