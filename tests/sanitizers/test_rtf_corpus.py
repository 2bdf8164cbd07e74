"""The RTF folder of the shared corpus gets the verdicts of fixtures/rtf_corpus.toml.

Every released output is re-checked by oletools' rtfobj and the independent reader of
test_rtf.py, and shows the same text as its input; the Japanese files keep every CP932
``\\'hh`` escape byte for byte.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from sanitizers.base import Limits
from sanitizers.pipeline import process_file
from sanitizers.registry import default_registry
from tests.conftest import CORPUS, corpus_manifest, require_corpus
from tests.sanitizers.contract import assert_judged_again_unchanged
from tests.sanitizers.test_rtf import RebuildRtf, assert_released_rtf_is_clean, read_tree, visible_text

require_corpus()
pytestmark = pytest.mark.corpus

REPOSITORY = Path(__file__).parents[2]
RTF = CORPUS / "rtf"
TABLE: dict[str, dict[str, object]] = tomllib.loads(
    (REPOSITORY / "fixtures" / "rtf_corpus.toml").read_text(encoding="utf-8")
)
JAPANESE = ("tika__testRTF-ms932.rtf", "tika__testRTFJapanese.rtf", "tika__testRTFUnicodeGothic.rtf")
_HEX_ESCAPE = re.compile(rb"\\'[0-9A-Fa-f]{2}")


def test_table_covers_the_rtf_folder_and_the_manifest() -> None:
    listed = sorted(
        row["relpath"].removeprefix("rtf/") for row in corpus_manifest() if row["relpath"].startswith("rtf/")
    )
    assert sorted(TABLE) == sorted(p.name for p in RTF.iterdir()) == listed


@pytest.mark.parametrize("name", sorted(TABLE))
def test_corpus_rtf_verdict(name: str, tmp_path: Path) -> None:
    outcome = process_file(RTF / name, name, tmp_path, RebuildRtf(), Limits(), default_registry())

    assert outcome.duration_ms < Limits().timeout_seconds * 1000
    expected = TABLE[name]
    if expected["verdict"] == "rejected":
        assert (outcome.verdict, outcome.reason and outcome.reason.code) == ("rejected", expected["code"])
        assert list(tmp_path.iterdir()) == []
        return
    assert outcome.reason is None and outcome.verdict == "released"
    assert sorted({f.construct for f in outcome.findings if f.action != "kept"}) == expected["removed"]
    assert outcome.output_path is not None
    data, out = (RTF / name).read_bytes(), outcome.output_path.read_bytes()
    assert_released_rtf_is_clean(out)
    assert visible_text(read_tree(out)) == visible_text(read_tree(data))
    assert_judged_again_unchanged(outcome, RebuildRtf(), Limits(), default_registry(), tmp_path / "again")


@pytest.mark.parametrize("name", JAPANESE)
def test_japanese_rtf_keeps_every_cp932_escape(name: str, tmp_path: Path) -> None:
    outcome = process_file(RTF / name, name, tmp_path, RebuildRtf(), Limits(), default_registry())
    assert outcome.verdict == "released" and outcome.output_path is not None
    data, out = (RTF / name).read_bytes(), outcome.output_path.read_bytes()
    assert _HEX_ESCAPE.findall(out) == _HEX_ESCAPE.findall(data)
    assert visible_text(read_tree(out)) == visible_text(read_tree(data))
