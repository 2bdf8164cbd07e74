"""The pipeline around sanitisers: policy, method chains, fail-closed handling, verification."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from sanitizers.archives import ZipRebuild
from sanitizers.base import Limits, Options, Registry, Report, Sanitizer
from sanitizers.errors import EncryptedError, MalformedError
from sanitizers.ole import OleRebuild
from sanitizers.ooxml import OoxmlRebuild
from sanitizers.pipeline import Outcome, Rule, output_name, process_file
from tests.sanitizers import ooxml_builders
from tests.sanitizers.test_detect import damaged_xls


class Rules:
    def __init__(self, rules: Mapping[str, Rule]) -> None:
        self.rules = rules

    def rule_for(self, type_name: str) -> Rule | None:
        return self.rules.get(type_name)


class CopyText(Sanitizer):
    """Writes the input back unchanged, as text."""

    types: ClassVar[frozenset[str]] = frozenset({"txt"})
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        dst.write_bytes(untrusted_src.read_bytes())
        report = Report("txt")
        report.add("txt.example", "removed", 2, "line 1")
        return report


class AlwaysMalformed(CopyText):
    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        dst.write_bytes(b"partial")
        raise MalformedError("type.malformed", "cannot parse")


class Crashes(CopyText):
    method: ClassVar[str] = "text"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        dst.write_bytes(b"partial")
        raise RuntimeError("parser bug")


class LiesAboutType(CopyText):
    method: ClassVar[str] = "image"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        dst.write_bytes(untrusted_src.read_bytes())
        return Report("pdf")


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "note.txt"
    path.parent.mkdir()
    path.write_text("hello\n")
    return path


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def run(
    path: Path, scratch: Path, rules: dict[str, Rule], *sanitizers: Sanitizer, limits: Limits | None = None
) -> Outcome:
    return process_file(path, path.name, scratch, Rules(rules), limits or Limits(), Registry(sanitizers))


def test_released_output_carries_findings_hashes_and_method(text_file: Path, scratch: Path) -> None:
    outcome = run(text_file, scratch, {"txt": Rule(("rebuild",))}, CopyText())
    assert outcome.verdict == "released" and outcome.method == "rebuild"
    assert outcome.output_path is not None and outcome.output_path.parent == scratch
    assert outcome.output is not None and outcome.output.sha256 == outcome.input.sha256
    assert [(f.construct, f.count) for f in outcome.findings] == [("txt.example", 2)]


def test_no_rule_rejects_with_type_no_rule(text_file: Path, scratch: Path) -> None:
    outcome = run(text_file, scratch, {}, CopyText())
    assert outcome.reason is not None and outcome.reason.code == "type.no_rule"


def test_reject_method_rejects_with_policy_reject(text_file: Path, scratch: Path) -> None:
    outcome = run(text_file, scratch, {"txt": Rule(("reject",))}, CopyText())
    assert outcome.reason is not None and outcome.reason.code == "policy.reject"


def test_missing_sanitiser_rejects_as_unsupported(text_file: Path, scratch: Path) -> None:
    outcome = run(text_file, scratch, {"txt": Rule(("rebuild",))})
    assert outcome.reason is not None and outcome.reason.code == "type.unsupported"


def test_chain_falls_back_after_a_sanitize_error_and_cleans_the_partial_output(
    text_file: Path, scratch: Path
) -> None:
    class Fallback(CopyText):
        method: ClassVar[str] = "text"

    outcome = run(text_file, scratch, {"txt": Rule(("rebuild", "text"))}, AlwaysMalformed(), Fallback())
    assert outcome.verdict == "released" and outcome.method == "text"
    assert (outcome.findings[0].construct, outcome.findings[0].action) == (
        "method.type.malformed",
        "fell_back",
    )
    assert sorted(p.name for p in scratch.iterdir()) == ["output-text"]


def test_first_failure_is_the_reason_when_every_method_fails(text_file: Path, scratch: Path) -> None:
    outcome = run(text_file, scratch, {"txt": Rule(("rebuild", "reject"))}, AlwaysMalformed())
    assert outcome.reason is not None and outcome.reason.code == "policy.reject"
    outcome = run(text_file, scratch, {"txt": Rule(("rebuild",))}, AlwaysMalformed())
    assert outcome.reason is not None and outcome.reason.code == "type.malformed"
    assert list(scratch.iterdir()) == []


def test_unexpected_exception_rejects_at_once_without_trying_fallbacks(
    text_file: Path, scratch: Path
) -> None:
    outcome = run(text_file, scratch, {"txt": Rule(("text", "rebuild"))}, Crashes(), CopyText())
    assert outcome.verdict == "rejected"
    assert outcome.reason is not None and outcome.reason.code == "sanitizer.crash"
    assert "parser bug" in outcome.reason.message
    assert list(scratch.iterdir()) == []


def test_output_that_does_not_redetect_as_promised_is_stopped(text_file: Path, scratch: Path) -> None:
    outcome = run(text_file, scratch, {"txt": Rule(("image",))}, LiesAboutType())
    assert outcome.reason is not None and outcome.reason.code == "verify.type_changed"
    assert list(scratch.iterdir()) == []


def test_size_limit_is_checked_before_detection(text_file: Path, scratch: Path) -> None:
    outcome = run(text_file, scratch, {"txt": Rule(("rebuild",))}, CopyText(), limits=Limits(max_file_size=3))
    assert outcome.reason is not None and outcome.reason.code == "input.too_large"
    assert outcome.input.type is None


@pytest.mark.parametrize(
    ("name", "output_type", "expected"),
    [("report.docm", "docx", "report.docx"), ("a.b.pdf", "txt", "a.b.txt"), ("scan.PDF", "pdf", "scan.PDF"),
     ("noext", "pdf", "noext.pdf")],
)  # fmt: skip
def test_output_name_takes_the_extension_of_the_output_type(
    name: str, output_type: str, expected: str
) -> None:
    assert output_name(name, output_type) == expected


def test_a_hostile_or_encrypted_verdict_is_final_and_no_fallback_runs(text_file: Path, scratch: Path) -> None:
    class Encrypted(CopyText):
        def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
            raise EncryptedError("office.encrypted", "password protected")

    class MustNotRun(CopyText):
        method: ClassVar[str] = "text"

        def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
            raise AssertionError("a fallback ran after a final refusal")

    outcome = run(text_file, scratch, {"txt": Rule(("rebuild", "text"))}, Encrypted(), MustNotRun())
    assert outcome.reason is not None and outcome.reason.code == "office.encrypted"


class RecordsConversion(Sanitizer):
    """Stands in for LibreOffice: records that a `pdf` fallback was handed the file."""

    types: ClassVar[frozenset[str]] = frozenset({"docx"})
    method: ClassVar[str] = "pdf"

    def __init__(self) -> None:
        self.converted: list[Path] = []

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        self.converted.append(untrusted_src)
        raise MalformedError("type.malformed", "stand-in converter")


def _docx_with_member(tmp_path: Path, name: str, data: bytes) -> Path:
    package = ooxml_builders.word()
    package.raw_members.append((name, data))
    return package.write(tmp_path / "in.docx")


@pytest.mark.parametrize(
    "member",
    ["WORD/document.xml", "word/Document.XML", "[content_types].xml"],
    ids=["upper", "mixed", "types"],
)
def test_a_case_variant_duplicate_part_is_final_and_never_reaches_libreoffice(
    tmp_path: Path, scratch: Path, member: str
) -> None:
    src = _docx_with_member(tmp_path, member, b"<w:document/>")
    outcome, converter = _rebuild_else_pdf(src, scratch)
    assert outcome.verdict == "rejected" and outcome.reason is not None
    assert outcome.reason.code == "ooxml.malformed" and "duplicate name" in outcome.reason.message
    assert converter.converted == []
    assert outcome.method is None and not any(f.construct == "office.converted" for f in outcome.findings)


def _rebuild_else_pdf(src: Path, scratch: Path) -> tuple[Outcome, RecordsConversion]:
    """``src`` under the rule ["rebuild", "pdf"], with a stand-in converter that records its inputs."""
    converter = RecordsConversion()
    rules = Rules({"docx": Rule(("rebuild", "pdf"))})
    return process_file(
        src, src.name, scratch, rules, Limits(), Registry([OoxmlRebuild(), converter])
    ), converter


def test_a_package_damaged_by_accident_still_falls_back(tmp_path: Path, scratch: Path) -> None:
    package = ooxml_builders.word()
    package.add("word/document.xml", b"<w:document><unclosed>", package.parts["word/document.xml"][0])
    src = package.write(tmp_path / "in.docx")
    outcome, converter = _rebuild_else_pdf(src, scratch)
    assert converter.converted == [src]
    assert outcome.reason is not None and outcome.reason.code == "ooxml.malformed"


def test_ambiguous_zip_archives_are_final(tmp_path: Path, scratch: Path) -> None:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")
        archive.writestr("a.txt", "one")
        archive.writestr("A.TXT", "two")
    src = tmp_path / "in.zip"
    src.write_bytes(buffer.getvalue())

    class MustNotRun(Sanitizer):
        types: ClassVar[frozenset[str]] = frozenset({"zip"})
        method: ClassVar[str] = "text"

        def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
            raise AssertionError("a fallback ran after an ambiguous archive")

    outcome = process_file(
        src,
        src.name,
        scratch,
        Rules({"zip": Rule(("rebuild", "text"))}),
        Limits(),
        Registry([ZipRebuild(), MustNotRun()]),
    )
    assert outcome.reason is not None and outcome.reason.code == "archive.malformed"


def test_an_office_file_olefile_cannot_read_gets_its_pdf_fallback(tmp_path: Path, scratch: Path) -> None:
    """Detection names it (libmagic and the name agree), the strict rebuild refuses it, and
    the rule's next method, LibreOffice for `pdf`, gets its chance."""

    class RecordsXlsConversion(RecordsConversion):
        types: ClassVar[frozenset[str]] = frozenset({"xls"})

    src = damaged_xls(tmp_path)
    converter = RecordsXlsConversion()
    outcome = process_file(
        src,
        src.name,
        scratch,
        Rules({"xls": Rule(("rebuild", "pdf"))}),
        Limits(),
        Registry([OleRebuild(), converter]),
    )
    assert outcome.input.type == "xls"
    assert converter.converted == [src]
    assert outcome.reason is not None and outcome.reason.code.startswith("ole.")
