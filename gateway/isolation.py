"""Isolated workers: every file is parsed in its own short-lived process.

The process is forked from a pre-loaded zygote (gateway.zygote: cheap), then confines itself before
touching the file: a new session (so the whole group can be killed), resource limits
(address space, CPU seconds, file size, open files, no core dumps), a private network
namespace where the kernel allows it, and a scratch directory as its only output.

What comes back is untrusted: the result is JSON (never pickle) read with a size bound and
checked field by field, and the output file is re-checked by the parent (plain file, size,
hash recomputed, leading signature of the promised type) before anyone relies on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import json
import math
import os
import re
import resource
import signal
import stat
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.zygote import Worker, Zygote, target_name
from sanitizers.base import METHODS, Finding, Limits, MiB
from sanitizers.errors import REASONS
from sanitizers.pipeline import Outcome, Rule, process_file, sha256_of
from sanitizers.types import TYPES

RESULT_NAME = "result.json"
MAX_RESULT_BYTES = 4 * MiB
MAX_FINDINGS = 2000
KILL_GRACE_SECONDS = 2.0
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
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
    **{t: (b"PK\x03\x04",) for t in ("zip", "docx", "xlsx", "pptx")},
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
    network_isolated: bool = False

    @classmethod
    def refused(cls, code: str, message: str) -> WorkerResult:
        return cls("rejected", code, message)


class _RulesPolicy:
    def __init__(self, rules: Mapping[str, Rule]) -> None:
        self._rules = rules

    def rule_for(self, type_name: str) -> Rule | None:
        return self._rules.get(type_name)


def run_job(job: Job) -> None:
    """Worker process entry point: confine, sanitise, write result.json, exit.

    The zygote has already tied the worker's life to its own (PR_SET_PDEATHSIG)."""
    os.setsid()
    os.umask(0o077)
    os.chdir(job.work_dir)
    _apply_rlimits(job.limits)
    isolated = _enter_private_network()
    from sanitizers.registry import default_registry  # pre-imported by the zygote

    scratch = job.work_dir / "scratch"
    scratch.mkdir(exist_ok=True)
    outcome = process_file(
        job.staged_path, job.name, scratch, _RulesPolicy(job.rules), job.limits, default_registry(),
        input_sha256=job.sha256,
    )  # fmt: skip
    _write_result(job.work_dir, outcome, isolated)


def _apply_rlimits(limits: Limits) -> None:
    cpu = math.ceil(limits.timeout_seconds) + 5
    output_bound = max(limits.max_file_size * 8, limits.archive_total_size + limits.max_file_size)
    for which, value in (
        (resource.RLIMIT_AS, limits.worker_memory),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, output_bound),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))


def _enter_private_network() -> bool:
    """A network namespace with no interfaces; as non-root, inside a user namespace.

    Under the systemd unit (PrivateNetwork=yes, RestrictNamespaces=yes) unshare is refused
    but the whole service already sits in a namespace with only loopback: that counts too.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if any(libc.unshare(flags) == 0 for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET)):
        return True
    try:
        return {p.name for p in Path("/sys/class/net").iterdir()} <= {"lo"}
    except OSError:
        return False


def _write_result(work_dir: Path, outcome: Outcome, isolated: bool) -> None:
    result = {
        "verdict": outcome.verdict,
        "reason": outcome.reason.as_dict() if outcome.reason else None,
        "type": outcome.input.type,
        "method": outcome.method,
        "findings": [f.as_dict() for f in outcome.findings],
        "output": outcome.output_path.name if outcome.output_path else None,
        "output_type": outcome.output.type if outcome.output else None,
        "network_isolated": isolated,
    }
    tmp = work_dir / f"{RESULT_NAME}.tmp"
    tmp.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    tmp.replace(work_dir / RESULT_NAME)


class WorkerPool:
    """At most ``size`` workers at a time; each job gets a fresh confined process."""

    def __init__(self, size: int, target: Callable[[Job], None] | None = None) -> None:
        self.size = size
        self._target = target_name(target or run_job)  # tests substitute misbehaving workers
        self._slots = asyncio.Semaphore(size)
        self._zygote: Zygote | None = None
        self._starting: asyncio.Task[Zygote] | None = None
        self.busy = 0

    async def warm_up(self) -> None:
        """Start the zygote now, not with the first file: it imports every parser."""
        await self._running_zygote()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``size`` worker places (callers may prepare the job inside it)."""
        async with self._slots:
            self.busy += 1
            try:
                yield
            finally:
                self.busy -= 1

    async def run(self, job: Job) -> WorkerResult:
        async with self.slot():
            return await self.run_in_slot(job)

    async def run_in_slot(self, job: Job) -> WorkerResult:
        """Run ``job`` in a fresh worker; the caller holds a ``slot()``."""
        job.work_dir.mkdir(parents=True, exist_ok=True)
        (job.work_dir / RESULT_NAME).unlink(missing_ok=True)
        worker = (await self._running_zygote()).spawn(self._target, job_to_message(job))
        pid = await _started(worker)
        if pid is None:
            return WorkerResult.refused("worker.crash", f"worker did not start: {worker.problem}")
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(worker.ended), job.limits.timeout_seconds)
            if not worker.ended.done():
                await _stop_group(worker, pid)
                return WorkerResult.refused(
                    "worker.timeout", f"no result within {job.limits.timeout_seconds:g}s"
                )
        finally:
            if not worker.ended.done():  # cancelled while waiting: never leave a worker behind
                await _stop_group(worker, pid)
        exitcode = worker.ended.result()
        if exitcode is None:  # the zygote died, and the worker with it; its group may linger
            _signal_group(pid, signal.SIGKILL, reaped=True)
            return WorkerResult.refused("worker.crash", f"worker lost: {worker.problem}")
        return await asyncio.to_thread(read_result, job, exitcode)  # hashes the output

    async def _running_zygote(self) -> Zygote:
        """The zygote serving this event loop, (re)started if it died or serves another loop."""
        loop = asyncio.get_running_loop()
        if self._zygote is not None and self._zygote.serves(loop):
            return self._zygote
        if self._starting is None or self._starting.get_loop() is not loop:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None
            self._starting = loop.create_task(Zygote.start())
            self._starting.add_done_callback(self._started_zygote)
        return await asyncio.shield(self._starting)

    def _started_zygote(self, starting: asyncio.Task[Zygote]) -> None:
        if self._starting is starting:
            self._starting = None
            if not starting.cancelled() and starting.exception() is None:
                self._zygote = starting.result()


async def _started(worker: Worker) -> int | None:
    """The worker's pid, once the zygote has forked it.  Cancelled meanwhile, it still waits
    for the fork and stops the worker, so that none is left running unseen."""
    try:
        return await asyncio.shield(worker.started)
    except asyncio.CancelledError:
        pid = await worker.started
        if pid is not None:
            await _stop_group(worker, pid)
        raise


async def _stop_group(worker: Worker, pid: int) -> None:
    """SIGTERM the worker's process group, give it a grace period, then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_group(pid, sig, reaped=worker.ended.done())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(worker.ended), KILL_GRACE_SECONDS)


def _signal_group(pid: int, sig: signal.Signals, *, reaped: bool) -> None:
    """Signal the worker's process group, and the worker itself while it may not have called
    setsid yet (its pid cannot be reused before the zygote has reaped it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    if not reaped:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def read_result(job: Job, exitcode: int | None) -> WorkerResult:
    """Parse and bound-check what the worker left behind; anything odd is a crash."""
    if exitcode == -signal.SIGXCPU or exitcode == -signal.SIGKILL:
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
    isolated = untrusted.get("network_isolated") is True
    if verdict == "rejected":
        reason = untrusted["reason"]
        if not isinstance(reason, dict):
            raise ValueError("rejected without a reason")
        code = reason["code"]
        if not (isinstance(code, str) and _CODE.match(code) and code in REASONS):
            raise ValueError(f"unknown reason code {str(code)[:64]!r}")
        message = _bounded_str(reason["message"], 2000)
        return WorkerResult("rejected", code, message, file_type=file_type, network_isolated=isolated)
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
        network_isolated=isolated,
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
