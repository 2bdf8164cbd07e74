"""The contract every sanitiser passes: subclass ``SanitizerContract`` in its tests.

A subclass provides ``make_sanitizer()`` and ``make_good_input(tmp_path)`` (a valid file
carrying at least one construct the sanitiser removes, when the format has any).
Same-format rebuilds subclass ``RebuildContract``, which adds the idempotence check;
conversions (PDF → text, office → PDF) subclass ``SanitizerContract``.  The corpus tests
apply ``assert_judged_again_unchanged`` to every file they release.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import pytest

from sanitizers.base import Limits, Registry, Report, Sanitizer
from sanitizers.detect import detect
from sanitizers.errors import SanitizeError
from sanitizers.pipeline import Outcome, Policy, Rule, process_file
from sanitizers.registry import default_registry
from sanitizers.types import TYPES

GARBAGE_SAMPLES: dict[str, bytes] = {
    "random": os.urandom(4096),
    "zeros": b"\0" * 1024,
    "truncated_header": b"%PDF-1.7\n1 0 obj\n<<",
    "text": "これは壊れたファイルです\n".encode() * 20,
}


class RebuildElsePdf:
    """The rule an admin writes for office documents: the rebuild, else PDF化."""

    def rule_for(self, type_name: str) -> Rule | None:
        return Rule(("rebuild", "pdf"))


def fell_back_to_pdf(src: Path, scratch: Path) -> list[str]:
    """The pipeline on ``src`` under RebuildElsePdf: the PDF method must have released it;
    returns the constructs of the methods it fell back from."""
    scratch.mkdir(exist_ok=True)
    outcome = process_file(src, src.name, scratch, RebuildElsePdf(), Limits(), default_registry())
    assert outcome.verdict == "released" and outcome.method == "pdf", outcome.reason
    return [f.construct for f in outcome.findings if f.action == "fell_back"]


def removed_counts(report: Report) -> dict[str, int]:
    """Construct → how many were removed, summed over the report's findings."""
    counts: dict[str, int] = {}
    for finding in report.findings:
        if finding.action == "removed":
            counts[finding.construct] = counts.get(finding.construct, 0) + finding.count
    return counts


def assert_judged_again_unchanged(
    outcome: Outcome, policy: Policy, limits: Limits, registry: Registry, scratch: Path
) -> None:
    """Idempotence of a release: its output, judged again like any input, is released as
    the same type with nothing removed, converted or fallen back."""
    assert outcome.output_path is not None and outcome.output is not None
    scratch.mkdir()
    again = process_file(outcome.output_path, outcome.output.name, scratch, policy, limits, registry)
    assert again.verdict == "released", again.reason
    assert again.output is not None and again.output.type == outcome.output.type
    assert [f for f in again.findings if f.action != "kept"] == []


class SanitizerContract:
    options: ClassVar[dict[str, str | int | float | bool]] = {}

    def make_sanitizer(self) -> Sanitizer:
        raise NotImplementedError

    def make_good_input(self, tmp_path: Path) -> Path:
        raise NotImplementedError

    @pytest.fixture
    def sanitizer(self) -> Sanitizer:
        return self.make_sanitizer()

    #: names of GARBAGE_SAMPLES that are not valid input for this sanitiser
    garbage: tuple[str, ...] = tuple(sorted(GARBAGE_SAMPLES))

    def test_garbage_raises_sanitize_error_and_writes_nothing(
        self, sanitizer: Sanitizer, tmp_path: Path
    ) -> None:
        assert self.garbage, "a sanitiser must refuse some garbage"
        for sample in self.garbage:
            src = tmp_path / "garbage.bin"
            src.write_bytes(GARBAGE_SAMPLES[sample])
            dst = tmp_path / "out"
            with pytest.raises(SanitizeError):
                sanitizer.sanitize(src, dst, self.options, Limits())
            assert not dst.exists(), sample
            assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.bin"], sample

    def test_output_redetects_as_promised_type(self, sanitizer: Sanitizer, tmp_path: Path) -> None:
        src = self.make_good_input(tmp_path)
        dst = tmp_path / "out"
        report = sanitizer.sanitize(src, dst, self.options, Limits())
        assert report.output_type in TYPES
        assert detect(dst, f"out.{TYPES[report.output_type].output_extension}").type == report.output_type


class RebuildContract(SanitizerContract):
    """For sanitisers whose output is of a type they accept themselves (same-format CDR)."""

    def test_sanitizing_the_output_again_finds_nothing_to_remove(
        self, sanitizer: Sanitizer, tmp_path: Path
    ) -> None:
        src = self.make_good_input(tmp_path)
        first = tmp_path / "first"
        report = sanitizer.sanitize(src, first, self.options, Limits())
        assert report.output_type in sanitizer.types
        again = sanitizer.sanitize(first, tmp_path / "second", self.options, Limits())
        assert [f for f in again.findings if f.action != "kept"] == []
