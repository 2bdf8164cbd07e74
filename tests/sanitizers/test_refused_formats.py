"""一太郎 and DocuWorks: recognised by their content where it has a mark, refused by name
otherwise, and the reason tells staff which format it is and what to send instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from sanitizers.base import Limits, Registry
from sanitizers.detect import detect
from sanitizers.errors import REASONS, DetectionError
from sanitizers.ole.cfb_writer import compound_file_bytes
from sanitizers.pipeline import Rule, process_file

#: Ichitaro 8 and later: a compound file with the text stream and JustSystems' segment header.
ICHITARO = compound_file_bytes(
    None, {"DocumentText": b"SsmgV.01" + "住民票".encode("utf-16-be"), "JSRV_SegmentHeader": bytes(64)}
)
#: The compressed form (.jtdc, .jttc) keeps its document in one stream.
ICHITARO_COMPRESSED = compound_file_bytes(None, {"JSCompDocument": b"JustCompressedDocument" + bytes(64)})
#: Ichitaro 4 to 6 (before OLE): "DOC", then the version byte at offset 43 (libmagic's rule).
ICHITARO_5 = b"DOC" + bytes(40) + b"\x15" + bytes(200)


class RejectEverything:
    def rule_for(self, type_name: str) -> Rule | None:
        return Rule(("reject",))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("文書.jtd", ICHITARO),
        ("no-extension", ICHITARO),
        ("template.jtt", ICHITARO),
        ("compressed.jtdc", ICHITARO_COMPRESSED),
        ("no-extension", ICHITARO_COMPRESSED),
        ("old.jbw", ICHITARO_5),
        ("no-extension", ICHITARO_5),
    ],
)
def test_ichitaro_is_recognised_by_its_content(name: str, data: bytes, tmp_path: Path) -> None:
    assert detect(write(tmp_path, name, data)).type == "jtd"


def test_ichitaro_content_under_another_name_is_a_disguise_named_as_ichitaro(tmp_path: Path) -> None:
    with pytest.raises(DetectionError) as caught:
        detect(write(tmp_path, "report.doc", ICHITARO))
    assert caught.value.code == "type.mismatch"
    assert "Ichitaro" in caught.value.detail


@pytest.mark.parametrize("name", ["paper.xdw", "binder.xbd", "PAPER.XDW"])
def test_docuworks_is_refused_by_its_name_whatever_it_holds(name: str, tmp_path: Path) -> None:
    """DocuWorks has no signature that libmagic or any public format registry knows, so the
    name decides; no parser touches the bytes."""
    assert detect(write(tmp_path, name, b"%PDF-1.4 not really")).type == "xdw"


@pytest.mark.parametrize(
    ("name", "data", "code", "format_ja", "format_en"),
    [
        ("議事録.jtd", ICHITARO, "policy.ichitaro", "一太郎", "Ichitaro"),
        ("no-extension", ICHITARO_5, "policy.ichitaro", "一太郎", "Ichitaro"),
        ("資料.xdw", b"anything", "policy.docuworks", "DocuWorks", "DocuWorks"),
        ("綴り.xbd", b"anything", "policy.docuworks", "DocuWorks", "DocuWorks"),
    ],
)
def test_the_reason_names_the_format_and_says_what_to_send_instead(
    name: str, data: bytes, code: str, format_ja: str, format_en: str, tmp_path: Path
) -> None:
    src = write(tmp_path, name, data)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = process_file(src, name, scratch, RejectEverything(), Limits(), Registry())
    assert outcome.verdict == "rejected"
    assert outcome.reason is not None and outcome.reason.code == code
    text = REASONS[code]
    assert format_ja in text.ja and format_en in text.en
    assert "PDF" in text.advice_ja and "PDF" in text.advice_en


def test_ichitaro_advice_offers_word_too() -> None:
    text = REASONS["policy.ichitaro"]
    assert ".docx" in text.advice_ja and ".docx" in text.advice_en


def test_other_rejected_types_keep_the_general_reason(tmp_path: Path) -> None:
    src = write(tmp_path, "setup.exe", b"MZ" + bytes(200))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = process_file(src, src.name, scratch, RejectEverything(), Limits(), Registry())
    assert outcome.reason is not None and outcome.reason.code == "policy.reject"
