"""Run one input through one sanitiser entry point in a confined child, and judge what came out.

The child is forked per input, like the gateway's workers: its own session (a hang is
killed with its whole group), an address-space cap equal to the worker's memory limit, a
CPU-time cap, no core dumps.  It calls the entry point the way the pipeline does, then
checks a release itself: the output re-detects as the promised type, and sanitising it
again finds nothing to remove.  Anything else than such a release or a catalogued refusal
comes back as a bug.  Inputs that detection would never route to the entry point are fed
to it all the same (a parser must survive anything); for them only the crash, hang and
memory outcomes count, since the pipeline verifies what it routed, not what it refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import resource
import select
import signal
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from sanitizers.base import ContainerSanitizer, Limits, MemberProcessor, MemberResult, Report, Sanitizer
from sanitizers.detect import detect
from sanitizers.errors import REASONS, SanitizeError, VerifyError
from sanitizers.pipeline import Rule, _member_processor
from sanitizers.registry import default_registry
from sanitizers.types import TYPES

REGISTRY = default_registry()
#: Smaller than the shipped limits where that only saves time (pixels, archive sizes);
#: a release or a refusal under them is judged the same way.
FUZZ_LIMITS = Limits(
    timeout_seconds=60.0,
    max_pixels=40_000_000,
    max_stream_size=64 * 2**20,
    archive_total_size=128 * 2**20,
    archive_member_size=64 * 2**20,
)
MEMORY_CAP = Limits().worker_memory
#: Member outcomes that stand for a crash the pipeline turned into a refusal.
_HIDDEN_CRASHES = frozenset({"sanitizer.crash", "worker.memory"})
REPRODUCERS = Path(tempfile.gettempdir()) / "mukaika-fuzz"


@dataclass(frozen=True)
class EntryPoint:
    type_name: str
    method: str

    def __str__(self) -> str:
        return f"{self.type_name}-{self.method}"


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "released", "refused" or "bug"
    detail: str
    code: str | None = None


class RebuildWhatCanBeRebuilt:
    """Archive members: every type with a rebuild sanitiser is rebuilt, the rest refused."""

    def rule_for(self, type_name: str) -> Rule | None:
        return Rule(("rebuild",)) if REGISTRY.get(type_name, "rebuild") else None


def judge(entry: EntryPoint, data: bytes, limits: Limits = FUZZ_LIMITS) -> Verdict:
    """Fork, sanitise ``data`` in the child, and return its verdict (or the child's fate)."""
    with tempfile.TemporaryDirectory(prefix="mukaika-fuzz-") as work:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: it never returns into pytest
            os.close(read_end)
            _child(entry, data, Path(work), limits, write_end)
        os.close(write_end)
        try:
            payload, finished = _read_until(read_end, time.monotonic() + limits.timeout_seconds)
        finally:
            os.close(read_end)
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
    if not finished:
        return Verdict("bug", f"hang: no verdict within {limits.timeout_seconds:g} s")
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return Verdict("bug", f"the child died of {name} (peak {usage.ru_maxrss // 1024} MiB)")
    if not payload:
        return Verdict("bug", f"the child exited with status {os.waitstatus_to_exitcode(status)}, no verdict")
    return Verdict(**json.loads(payload))


def save_reproducer(entry: EntryPoint, data: bytes) -> Path:
    REPRODUCERS.mkdir(exist_ok=True)
    path = REPRODUCERS / f"{entry}-{hashlib.sha256(data).hexdigest()[:16]}.bin"
    path.write_bytes(data)
    return path


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
    return b"".join(chunks), False


def _child(entry: EntryPoint, data: bytes, work: Path, limits: Limits, write_end: int) -> None:
    """Confine, judge, write the verdict; never return (pytest lives on in the parent)."""
    try:
        os.setsid()
        cpu = math.ceil(limits.timeout_seconds) + 5
        for which, value in (
            (resource.RLIMIT_AS, MEMORY_CAP),
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(which, (value, value))
        # as in production, where warnings are not errors (the test suite makes them so)
        warnings.resetwarnings()
        warnings.simplefilter("ignore")
        try:
            verdict = _judge_here(entry, data, work, limits)
        except MemoryError:
            verdict = Verdict("bug", f"memory: the entry point exceeded {MEMORY_CAP // 2**20} MiB")
        except BaseException:
            verdict = Verdict("bug", "uncaught:\n" + traceback.format_exc(limit=-12))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(json.dumps(asdict(verdict)).encode())
    finally:
        os._exit(0)


def _judge_here(entry: EntryPoint, data: bytes, work: Path, limits: Limits) -> Verdict:
    sanitizer = REGISTRY.get(entry.type_name, entry.method)
    assert sanitizer is not None, entry
    src = work / f"input.{TYPES[entry.type_name].output_extension}"
    src.write_bytes(data)
    dst = work / "output"
    crashes: list[str] = []
    try:
        report = _sanitize(sanitizer, src, dst, limits, crashes)
    except SanitizeError as exc:
        return _refusal(exc, dst, crashes)
    if crashes:
        return Verdict("bug", f"a member crashed: {crashes[0]}")
    if not _routed_here(src, entry, sanitizer):
        return Verdict("released", "input the pipeline would not route here: only crashes count")
    problem = _released_output_problem(dst, report)
    if problem:
        return Verdict("bug", problem)
    return _second_pass(dst, report, work, limits)


def _routed_here(src: Path, entry: EntryPoint, sanitizer: Sanitizer) -> bool:
    """Whether detection types the input so that the pipeline calls this sanitiser with it."""
    try:
        detected = detect(src, src.name).type
    except SanitizeError:
        return False
    return REGISTRY.get(detected, entry.method) is sanitizer


def _sanitize(sanitizer: Sanitizer, src: Path, dst: Path, limits: Limits, crashes: list[str]) -> Report:
    if isinstance(sanitizer, ContainerSanitizer):
        members = _recording_crashes(_member_processor(RebuildWhatCanBeRebuilt(), limits, REGISTRY), crashes)
        return sanitizer.sanitize_container(src, dst, {}, limits, members)
    return sanitizer.sanitize(src, dst, {}, limits)


def _recording_crashes(process: MemberProcessor, crashes: list[str]) -> MemberProcessor:
    """The pipeline turns a member's crash into a refusal of that member; we want to see it."""

    def process_member(untrusted_member: Path, name: str, scratch_dir: Path) -> MemberResult:
        result = process(untrusted_member, name, scratch_dir)
        if result.reason_code in _HIDDEN_CRASHES:
            crashes.append(f"{name}: {result.reason_message}")
        return result

    return process_member


def _refusal(exc: SanitizeError, dst: Path, crashes: list[str]) -> Verdict:
    if exc.code not in REASONS:
        return Verdict("bug", f"uncatalogued code {exc.code}")
    if isinstance(exc, VerifyError):
        return Verdict("bug", f"the output failed its own verification: {exc}", exc.code)
    if dst.exists():
        return Verdict("bug", f"refused ({exc.code}) but left the output behind", exc.code)
    if crashes:
        return Verdict("bug", f"a member crashed: {crashes[0]}", exc.code)
    return Verdict("refused", exc.detail[:500], exc.code)


def _released_output_problem(dst: Path, report: Report) -> str | None:
    if report.output_type not in TYPES:
        return f"unknown output type {report.output_type!r}"
    if dst.is_symlink() or not dst.is_file() or dst.stat().st_size == 0:
        return "released without a usable output file"
    try:
        redetected = detect(dst, f"output.{TYPES[report.output_type].output_extension}").type
    except SanitizeError as exc:
        return f"the output does not re-detect: {exc}"
    if redetected != report.output_type:
        return f"the output re-detects as {redetected}, promised {report.output_type}"
    return None


def _second_pass(first: Path, report: Report, work: Path, limits: Limits) -> Verdict:
    """Idempotence: the output's own rebuild takes nothing more away and keeps the type."""
    rebuild = REGISTRY.get(report.output_type, "rebuild")
    if rebuild is None:
        return Verdict("bug", f"no rebuild sanitiser for the output type {report.output_type}")
    extension = TYPES[report.output_type].output_extension
    src = first.rename(work / f"first.{extension}")
    crashes: list[str] = []
    try:
        second = _sanitize(rebuild, src, work / f"again.{extension}", limits, crashes)
    except SanitizeError as exc:
        return Verdict("bug", f"the released output is refused when sanitised again: {exc}", exc.code)
    removed = [f"{f.construct} {f.action}" for f in second.findings if f.action != "kept"]
    if removed or crashes:
        return Verdict("bug", f"sanitising the output again still finds: {removed or crashes}")
    if second.output_type != report.output_type:
        return Verdict("bug", f"sanitised again it becomes {second.output_type}, not {report.output_type}")
    return Verdict("released", report.output_type)
