"""Every OLE file of the shared corpus gets the verdict recorded in fixtures/ole_corpus.toml.

Runs the real pipeline (detection, policy, method chain) with the rule
doc, xls, ppt = ["rebuild"]; every released output is re-checked with oletools and an
olefile walk, and its document stream compared with the input's.  Real documents with
VBA projects and embedded objects grafted on (by the project's CFB writer) show that
what olevba and oleobj find in the input is gone from the output.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import olefile
import pytest

from gateway.config import ChannelPolicy
from sanitizers.base import Limits, Registry
from sanitizers.ole import OleRebuild
from sanitizers.ole.cfb_writer import write_compound_file
from sanitizers.ole.excel import NEUTRAL_RECORD, OBPROJ, records
from sanitizers.ole.word import document_text, read_fib
from sanitizers.pipeline import Outcome, Rule
from tests.conftest import CORPUS, corpus_names, corpus_table, process_timed, require_corpus
from tests.sanitizers.contract import assert_judged_again_unchanged
from tests.sanitizers.test_ole import (
    assert_independently_clean,
    embedded_package_found,
    streams_of,
    vba_detected,
)
from tests.sanitizers.test_ole_packages import without_packages
from tests.sanitizers.test_ole_pictures import assert_pictures_rebuilt_in_place
from tests.sanitizers.test_ole_xls_pictures import drawing_group, outside

require_corpus()

pytestmark = pytest.mark.corpus

OLE = CORPUS / "ole"
EXPECTED = corpus_table("ole")
REGISTRY = Registry([OleRebuild()])
LIMITS = Limits()
POLICY = ChannelPolicy(dict.fromkeys(("doc", "xls", "ppt"), Rule(("rebuild",))))
MAIN_STREAMS = {"doc": "WordDocument", "xls": "Workbook", "ppt": "PowerPoint Document"}
ALLOWED = {
    "doc": {"WordDocument", "0Table", "1Table", "Data", "\x01CompObj"},
    "xls": {"Workbook", "\x01CompObj"},
    "ppt": {"PowerPoint Document", "Current User", "Pictures"},
}
JAPANESE_DOCS = {"poi__TestShiftJIS.doc": "見出し", "tika__testWORD_phonetic.doc": "東京"}


def run(src: Path, name: str, scratch: Path) -> tuple[Outcome, float]:
    return process_timed(src, name, scratch, POLICY, LIMITS, REGISTRY)


def assert_document_stream_unchanged(src: Path, dst: Path, type_name: str) -> None:
    """The main stream is byte-identical, except xls OBPROJ record types neutralised in place,
    packages removed and pictures rebuilt in place; so are the other streams."""
    before, after = without_packages(type_name, streams_of(src)), streams_of(dst)
    main = MAIN_STREAMS[type_name]
    if type_name == "xls":
        obproj = [r.offset for r in records(before[main]) if r.type == OBPROJ]
        expected = bytearray(before[main])
        for offset in obproj:
            expected[offset : offset + 2] = NEUTRAL_RECORD.to_bytes(2, "little")
        drawing, pieces = drawing_group(before[main])
        assert drawing_group(after[main])[1] == pieces
        assert outside(after[main], pieces) == outside(bytes(expected), pieces)
        assert_pictures_rebuilt_in_place(drawing, drawing_group(after[main])[0])
    for name, data in after.items():
        if type_name != "xls" or name != main:
            assert_pictures_rebuilt_in_place(before[name], data)


def test_the_table_covers_the_corpus_exactly() -> None:
    assert sorted(EXPECTED) == corpus_names("ole")


@pytest.mark.parametrize("name", corpus_names("ole"))
def test_verdict_matches_the_table(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    outcome, seconds = run(OLE / name, name, tmp_path)
    assert seconds < LIMITS.timeout_seconds
    assert outcome.verdict == expected["expect"], outcome.reason
    if outcome.verdict == "rejected":
        assert outcome.reason is not None and outcome.reason.code == expected["code"]
        return
    assert outcome.output_path is not None and outcome.output is not None and outcome.output.type
    type_name = outcome.output.type
    assert_independently_clean(outcome.output_path, ALLOWED[type_name])
    assert_document_stream_unchanged(OLE / name, outcome.output_path, type_name)
    assert_judged_again_unchanged(outcome, POLICY, LIMITS, REGISTRY, tmp_path / "again")


@pytest.mark.parametrize("name", sorted(JAPANESE_DOCS))
def test_japanese_documents_are_released_with_their_text_intact(name: str, tmp_path: Path) -> None:
    outcome, _ = run(OLE / name, name, tmp_path)
    assert outcome.verdict == "released" and outcome.output_path is not None
    before, after = without_packages("doc", streams_of(OLE / name)), streams_of(outcome.output_path)
    for stream in ("WordDocument", "1Table", "Data"):
        assert_pictures_rebuilt_in_place(before[stream], after[stream])
    fib = read_fib(after["WordDocument"])
    text = document_text(after["WordDocument"], after[fib.table_stream], fib)
    assert JAPANESE_DOCS[name] in text


def graft(base: str, donors: dict[str, str], tmp_path: Path, extension: str) -> Path:
    """``base``'s streams plus the named storages copied from donor files, by our writer."""
    tree = streams_of(OLE / base)
    for donor, storage in donors.items():
        tree |= {k: v for k, v in streams_of(OLE / donor).items() if k.startswith(storage + "/")}
    with olefile.OleFileIO(str(OLE / base)) as ole:
        clsid = uuid.UUID(ole.root.clsid)
    path = tmp_path / f"grafted.{extension}"
    write_compound_file(path, clsid, tree)
    return path


@pytest.mark.parametrize(
    ("base", "donors", "extension"),
    [
        (
            "tika__testWORD.doc",
            {"tika__testWORD_macros.doc": "Macros", "oletools__embedded-simple-2007.xls": "MBD0009CF7B"},
            "doc",
        ),
        (
            "tika__testEXCEL.xls",
            {
                "tika__testEXCEL_macro.xls": "_VBA_PROJECT_CUR",
                "oletools__embedded-simple-2007.xls": "MBD0009CF7B",
            },
            "xls",
        ),
    ],
)
def test_grafted_macros_and_objects_found_by_oletools_are_gone(
    tmp_path: Path, base: str, donors: dict[str, str], extension: str
) -> None:
    src = graft(base, donors, tmp_path, extension)
    assert vba_detected(src) and embedded_package_found(src)
    outcome, _ = run(src, src.name, tmp_path)
    assert outcome.verdict == "released" and outcome.output_path is not None
    constructs = {f.construct: f.action for f in outcome.findings}
    assert constructs["ole.vba_macros"] == "removed" and constructs["ole.embedded_object"] == "removed"
    assert not embedded_package_found(outcome.output_path)
    assert_independently_clean(outcome.output_path, ALLOWED[extension])
    assert_document_stream_unchanged(src, outcome.output_path, extension)
