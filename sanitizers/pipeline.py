"""Detect → policy → method chain → verify, for one file, in the calling process.

Shared by `mukaika sanitize` and the daemon's worker.  The output is written into a
scratch directory the caller owns; releasing it (atomically, under its final name) is
the caller's job.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Protocol

from sanitizers.base import (
    ContainerSanitizer,
    Finding,
    Limits,
    MemberProcessor,
    MemberResult,
    Options,
    Registry,
    Report,
)
from sanitizers.details import staff_detail
from sanitizers.detect import Detection, detect
from sanitizers.errors import (
    AmbiguousStructureError,
    DetectionError,
    LimitError,
    PolicyError,
    SanitizeError,
    VerifyError,
)
from sanitizers.types import TYPES

#: Refusals no other method may override: the file is hostile or cannot be inspected, so
#: handing it to a converter (LibreOffice for `pdf`, a renderer for `image`) would only
#: expose another parser to it.  An `AmbiguousStructureError` is final too, whatever its
#: code: a package damaged by accident may still be converted, one built so that two
#: readers disagree (duplicate or case-variant names, overlapping entries) may not.
FINAL_REFUSALS = frozenset(
    {"office.encrypted", "archive.encrypted", "archive.bomb", "xml.attack", "ooxml.xml_attack",
     "odf.xml_attack", "pdf.verify_failed", "ooxml.verify_failed", "odf.verify_failed",
     "policy.bad_option"}  # a rule the admin got wrong must be fixed, not fallen back from
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """What a policy asks for one type: a method chain and options for it."""

    methods: tuple[str, ...]
    options: Options = field(default_factory=dict)


class Policy(Protocol):
    def rule_for(self, type_name: str) -> Rule | None: ...


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    sha256: str
    type: str | None

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256, "type": self.type}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Outcome:
    """The verdict on one file. ``output_path`` lies in the caller's scratch directory."""

    verdict: str  # "released" | "rejected"
    input: FileInfo
    reason: Reason | None = None
    output_path: Path | None = None
    output: FileInfo | None = None
    method: str | None = None
    findings: list[Finding] = field(default_factory=list)
    duration_ms: float = 0.0


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def output_name(input_name: str, output_type: str) -> str:
    """The input's name with the extension the output type is known by (docm → .docx)."""
    pure = PurePath(input_name)
    extension = TYPES[output_type].output_extension
    if pure.suffix.lower().lstrip(".") in TYPES[output_type].extensions:
        return pure.name
    stem = PurePath(pure.stem if pure.suffix else pure.name)
    if stem.suffix.lower().lstrip(".") in TYPES[output_type].extensions:
        return stem.name  # a compressed single file comes out as its content: report.pdf.gz → report.pdf
    return f"{stem.name}.{extension}"


def process_file(
    untrusted_src: Path,
    name: str,
    scratch_dir: Path,
    policy: Policy,
    limits: Limits,
    registry: Registry,
    *,
    input_sha256: str | None = None,
) -> Outcome:
    """Sanitise one file; never raises for anything the file itself can cause.

    ``input_sha256`` spares hashing the input again when the caller already did (the daemon
    hashes every file as it stages it).
    """
    started = time.perf_counter()
    size = untrusted_src.stat().st_size
    info = FileInfo(name, size, input_sha256 or sha256_of(untrusted_src), None)
    outcome = Outcome("rejected", info)
    try:
        if size > limits.max_file_size:
            raise LimitError("input.too_large", f"{size} bytes exceeds max_file_size {limits.max_file_size}")
        detection = detect(untrusted_src, name)
        outcome.input = info = FileInfo(name, size, info.sha256, detection.type)
        _run_chain(untrusted_src, detection, scratch_dir, policy, limits, registry, outcome)
    except SanitizeError as exc:
        outcome.reason = Reason(exc.code, exc.detail)
    except MemoryError:
        outcome.reason = Reason("worker.memory", "the sanitiser ran out of its memory limit")
    except Exception as exc:  # fail closed: any bug or parser blow-up rejects the file
        outcome.reason = Reason("sanitizer.crash", f"{type(exc).__name__}: {exc}")
    if outcome.reason is not None:
        outcome.verdict = "rejected"
        if outcome.output_path is not None:
            outcome.output_path.unlink(missing_ok=True)
        outcome.output_path = outcome.output = outcome.method = None
    outcome.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    return outcome


def _run_chain(
    untrusted_src: Path,
    detection: Detection,
    scratch_dir: Path,
    policy: Policy,
    limits: Limits,
    registry: Registry,
    outcome: Outcome,
) -> None:
    rule = policy.rule_for(detection.type)
    if rule is None:
        raise PolicyError("type.no_rule", f"no rule for type {detection.type}")
    failures: list[SanitizeError] = []
    for method in rule.methods:
        if method == "reject":
            raise PolicyError(TYPES[detection.type].refusal, f"the rule for {detection.type} is reject")
        sanitizer = registry.get(detection.type, method)
        if sanitizer is None:
            failures.append(PolicyError("type.unsupported", f"no {method} sanitiser for {detection.type}"))
            continue
        dst = scratch_dir / f"output-{method}"
        try:
            if isinstance(sanitizer, ContainerSanitizer):
                members = _member_processor(policy, limits, registry)
                report = sanitizer.sanitize_container(
                    untrusted_src, dst, rule.options, limits, members, outcome.input.name
                )
            else:
                report = sanitizer.sanitize(untrusted_src, dst, rule.options, limits)
            _verify_output(dst, report)
        except SanitizeError as exc:
            dst.unlink(missing_ok=True)
            if exc.code in FINAL_REFUSALS or isinstance(exc, AmbiguousStructureError):
                raise
            failures.append(exc)
            continue
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
        outcome.verdict = "released"
        outcome.method = method
        # a method that failed before the one that worked stays on record (a verify_failed is a bug)
        outcome.findings = [Finding(f"method.{f.code}", "fell_back", 1, f.detail[:200]) for f in failures]
        outcome.findings += report.findings
        outcome.output_path = dst
        outcome.output = FileInfo(
            output_name(outcome.input.name, report.output_type),
            dst.stat().st_size,
            sha256_of(dst),
            report.output_type,
        )
        return
    if not failures:
        raise PolicyError("type.no_rule", f"the rule for {detection.type} names no method")
    first = failures[0]
    if len(failures) > 1:
        tried = "; ".join(f"{f.code}: {f.detail}" for f in failures[1:])
        raise type(first)(first.code, f"{first.detail} (fallbacks also failed: {tried})")
    raise first


def _member_processor(policy: Policy, limits: Limits, registry: Registry) -> MemberProcessor:
    """Members are judged like top-level files, one archive level deeper."""
    if limits.archive_depth <= 0:

        def too_deep(untrusted_member: Path, name: str, scratch_dir: Path) -> MemberResult:
            raise LimitError("archive.bomb", f"{name}: archives nested deeper than archive_depth")

        return too_deep
    inner = replace(limits, archive_depth=limits.archive_depth - 1)

    def process_member(untrusted_member: Path, name: str, scratch_dir: Path) -> MemberResult:
        outcome = process_file(untrusted_member, name, scratch_dir, policy, inner, registry)
        if outcome.verdict == "released" and outcome.output is not None:
            return MemberResult(
                name,
                True,
                outcome.output_path,
                outcome.output.name,
                outcome.output.type,
                findings=tuple(outcome.findings),
            )
        code, message = (outcome.reason.code, outcome.reason.message) if outcome.reason else (None, None)
        # the container writes this detail where staff read it (the list of removed members, a
        # mail's note where its attachment was, the archive's own refusal)
        return MemberResult(name, False, reason_code=code, reason_message=staff_detail(message))

    return process_member


def _verify_output(dst: Path, report: Report) -> None:
    """The output exists, is a plain non-empty file, and re-detects as the promised type."""
    if dst.is_symlink() or not dst.is_file() or dst.stat().st_size == 0:
        raise VerifyError("verify.type_changed", "the sanitiser wrote no usable output")
    try:
        redetected = detect(dst, f"output.{TYPES[report.output_type].output_extension}").type
    except DetectionError as exc:
        raise VerifyError("verify.type_changed", f"output does not re-detect: {exc.detail}") from None
    if redetected != report.output_type:
        raise VerifyError(
            "verify.type_changed", f"output detected as {redetected}, promised {report.output_type}"
        )
