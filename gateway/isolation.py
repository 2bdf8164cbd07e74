"""Isolated workers: every file is parsed in its own short-lived process.

The process is forked from a pre-loaded fork server (cheap), then confines itself before
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
import json
import math
import multiprocessing
import multiprocessing.forkserver
import os
import re
import resource
import signal
import stat
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
_PR_SET_PDEATHSIG = 1
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
    """Worker process entry point: confine, sanitise, write result.json, exit."""
    os.setsid()
    _die_with_parent()
    os.umask(0o077)
    os.chdir(job.work_dir)
    _apply_rlimits(job.limits)
    isolated = _enter_private_network()
    from sanitizers.registry import default_registry  # pre-imported by the fork server

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


def _die_with_parent() -> None:
    """If the fork server goes (the daemon was killed), the worker goes too: no orphans
    writing into a spool that a restarted daemon is already recovering."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


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
        self._target = target or run_job  # tests substitute misbehaving workers
        self._slots = asyncio.Semaphore(size)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["gateway.preload"])
        self.busy = 0

    async def warm_up(self) -> None:
        """Start the fork server now, not with the first file: it imports every parser."""
        await asyncio.to_thread(multiprocessing.forkserver.ensure_running)

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
        process = self._context.Process(
            target=self._target, args=(job,), name=f"mukaika-worker-{job.transfer_id}"
        )
        await _start(process)
        try:
            finished = await _wait_for_exit(process.sentinel, job.limits.timeout_seconds)
            if not finished:
                await _stop_group(process)
                return WorkerResult.refused(
                    "worker.timeout", f"no result within {job.limits.timeout_seconds:g}s"
                )
            process.join()
            exitcode = process.exitcode
        finally:
            if process.is_alive():  # cancelled while waiting: never leave a worker behind
                await _stop_group(process)
            process.close()
        return await asyncio.to_thread(read_result, job, exitcode)  # hashes the output


async def _start(process: multiprocessing.process.BaseProcess) -> None:
    """Start the worker in a thread: it waits for the fork server to fork and report the pid,
    which must not hold up the event loop.  Cancelled meanwhile, it still lets the start
    finish and stops the worker, so that none is left running unseen."""
    starting = asyncio.ensure_future(asyncio.to_thread(process.start))
    try:
        await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await starting
            if process.is_alive():
                await _stop_group(process)
        raise


async def _wait_for_exit(sentinel: int, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(sentinel, on_exit)
    try:
        await asyncio.wait_for(ended, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(sentinel)


async def _stop_group(process: multiprocessing.process.BaseProcess) -> None:
    """SIGTERM the worker's process group, give it a grace period, then SIGKILL."""
    assert process.pid is not None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        if await _wait_for_exit(process.sentinel, KILL_GRACE_SECONDS):
            break
    process.join(KILL_GRACE_SECONDS)


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
