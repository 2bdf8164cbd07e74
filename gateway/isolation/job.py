"""What the daemon asks of a worker, and its checked reading of what came back.

Jobs travel to the zygote as JSON (the daemon's own data). What comes back is untrusted: a
result is JSON read with a size bound and checked field by field, and an output file is
re-checked by the daemon (plain file, size, hash recomputed, leading signature of the promised
type) before it is handed to the verifier, whose verdict is read the same way.
"""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sanitizers.base import METHODS, Finding, Limits, MiB
from sanitizers.errors import REASONS
from sanitizers.pipeline import Rule, sha256_of
from sanitizers.types import TYPES

RESULT_NAME = "result.json"
MAX_RESULT_BYTES = 4 * MiB
MAX_FINDINGS = 2000
VERIFY_NAME = "verified.json"
_CODE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

#: The first bytes an output of each type must start with (checked by the parent).
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "tiff": (b"II*\x00", b"MM\x00*"),
    "bmp": (b"BM",),
    "webp": (b"RIFF",),
    **{t: (b"PK\x03\x04",) for t in ("zip", "docx", "xlsx", "pptx", "odt", "ods", "odp")},
    **{t: (b"<?xml",) for t in ("fodt", "fods", "fodp")},
    **{t: (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",) for t in ("doc", "xls", "ppt")},
    "rtf": (b"{\\rtf",),
}


@dataclass(frozen=True)
class Job:
    transfer_id: str
    staged_path: Path
    name: str  # the cleaned name the file is judged by
    work_dir: Path
    rules: Mapping[str, Rule]
    limits: Limits
    sha256: str | None = None  # of the staged input, hashed when it was staged


def job_to_message(job: Job) -> dict[str, Any]:
    """The job as JSON-able data, for the zygote (the daemon's own data: no pickle needed)."""
    return {
        "transfer_id": job.transfer_id,
        "staged_path": str(job.staged_path),
        "name": job.name,
        "work_dir": str(job.work_dir),
        "rules": {t: {"methods": list(r.methods), "options": dict(r.options)} for t, r in job.rules.items()},
        "limits": dataclasses.asdict(job.limits),
        "sha256": job.sha256,
    }


def job_from_message(message: dict[str, Any]) -> Job:
    rules = {t: Rule(tuple(r["methods"]), dict(r["options"])) for t, r in message["rules"].items()}
    return Job(
        message["transfer_id"], Path(message["staged_path"]), message["name"], Path(message["work_dir"]),
        rules, Limits(**message["limits"]), message["sha256"],
    )  # fmt: skip


@dataclass(frozen=True)
class VerifyJob:
    """A released output, for a verifier that sees nothing else. ``options`` and
    ``member_options`` come from the daemon's rules, never from the worker that wrote it."""

    output: Path
    work_dir: Path
    output_type: str
    method: str
    options: Mapping[str, object]
    member_options: Mapping[str, Mapping[str, object]]
    limits: Limits

    def as_message(self) -> dict[str, Any]:
        return {
            "output": str(self.output), "work_dir": str(self.work_dir), "output_type": self.output_type,
            "method": self.method, "options": dict(self.options),
            "member_options": {t: dict(o) for t, o in self.member_options.items()},
            "limits": dataclasses.asdict(self.limits),
        }  # fmt: skip


@dataclass
class WorkerResult:
    """The parent's checked view of what a worker did."""

    verdict: str
    reason_code: str | None = None
    reason_message: str | None = None
    file_type: str | None = None
    method: str | None = None
    findings: list[Finding] = field(default_factory=list)
    output_path: Path | None = None
    output_type: str | None = None
    output_size: int | None = None
    output_sha256: str | None = None

    @classmethod
    def refused(cls, code: str, message: str) -> WorkerResult:
        return cls("rejected", code, message)


def read_result(job: Job, exitcode: int | None) -> WorkerResult:
    """Parse and bound-check what the worker left behind; anything odd is a crash."""
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
        return WorkerResult.refused("worker.timeout", f"worker stopped by signal {-exitcode}")
    if exitcode != 0:
        return WorkerResult.refused("worker.crash", f"worker exited with status {exitcode}")
    result_path = job.work_dir / RESULT_NAME
    try:
        info = result_path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RESULT_BYTES:
            raise ValueError("result is not a bounded plain file")
        untrusted = json.loads(result_path.read_bytes())
        return _checked_result(job, untrusted)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return WorkerResult.refused("worker.crash", f"unusable worker result: {exc}")


def _checked_result(job: Job, untrusted: Any) -> WorkerResult:
    if not isinstance(untrusted, dict):
        raise ValueError("result is not an object")
    verdict = untrusted["verdict"]
    file_type = _optional(untrusted["type"], lambda v: v in TYPES)
    if verdict == "rejected":
        reason = untrusted["reason"]
        if not isinstance(reason, dict):
            raise ValueError("rejected without a reason")
        code = reason["code"]
        if not (isinstance(code, str) and _CODE.match(code) and code in REASONS):
            raise ValueError(f"unknown reason code {str(code)[:64]!r}")
        message = _bounded_str(reason["message"], 2000)
        return WorkerResult("rejected", code, message, file_type=file_type)
    if verdict != "released" or file_type is None:
        raise ValueError("verdict is neither released nor rejected")
    method = untrusted["method"]
    output_type = untrusted["output_type"]
    output_name = untrusted["output"]
    if method not in METHODS or output_type not in TYPES or output_name != f"output-{method}":
        raise ValueError("released without a valid method, output type or output name")
    output = job.work_dir / "scratch" / output_name
    size, sha256 = _check_output_file(output, output_type, job.limits)
    return WorkerResult(
        "released",
        file_type=file_type,
        method=method,
        findings=_checked_findings(untrusted["findings"]),
        output_path=output,
        output_type=output_type,
        output_size=size,
        output_sha256=sha256,
    )


def _check_output_file(path: Path, output_type: str, limits: Limits) -> tuple[int, str]:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        raise ValueError("output is not a plain file")
    if info.st_size == 0 or info.st_size > max(limits.max_file_size * 8, limits.archive_total_size):
        raise ValueError(f"output size {info.st_size} is implausible")
    signatures = _SIGNATURES.get(output_type)
    if signatures is not None:
        with path.open("rb") as f:
            head = f.read(16)
        if not head.startswith(signatures):
            raise ValueError(f"output does not start like a {output_type} file")
    return info.st_size, sha256_of(path)


def _checked_findings(untrusted: Any) -> list[Finding]:
    if not isinstance(untrusted, list) or len(untrusted) > MAX_FINDINGS:
        raise ValueError("findings must be a bounded list")
    findings = []
    for item in untrusted:
        count = item["count"]
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 10**9:
            raise ValueError("finding count out of range")
        findings.append(
            Finding(
                _bounded_str(item["construct"], 100),
                _bounded_str(item["action"], 32),
                count,
                _optional(item["location"], lambda v: isinstance(v, str) and len(v) <= 500),
            )
        )
    return findings


def _bounded_str(value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError("string field missing or too long")
    return value


def _optional(value: Any, valid: Any) -> Any:
    if value is None:
        return None
    if not valid(value):
        raise ValueError(f"invalid field value {str(value)[:64]!r}")
    return value


def read_verification(job: VerifyJob, exitcode: int | None, output_sha256: str) -> str | None:
    """None when the verifier vouched for exactly ``output_sha256``; otherwise what went wrong."""
    if exitcode != 0:
        return f"the verifier ended with status {exitcode}"
    path = job.work_dir / VERIFY_NAME
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RESULT_BYTES:
            return "the verifier left no bounded plain verdict"
        untrusted = json.loads(path.read_bytes())
        if not isinstance(untrusted, dict):
            return "the verifier's verdict is not an object"
        if untrusted.get("verdict") != "verified":
            return "the output failed verification: " + _bounded_str(untrusted.get("detail", ""), 2000)
        if untrusted.get("sha256") != output_sha256:
            return "the verifier checked other bytes than the ones to be released"
    except (OSError, ValueError) as exc:
        return f"unusable verifier verdict: {exc}"
    return None
