"""Isolation providers: the one interface through which the daemon has files parsed.

The daemon never parses a file itself. It asks a provider to sanitise a staged input in a
confined worker, then to have a fresh confined verifier check the output that worker left,
and it believes nothing that either says without a check of its own (bounded JSON, sizes,
the output's hash). ``ZygoteProvider`` is production: workers forked from a warm zygote on
this machine. Tests use a ZygoteProvider with entry points of their own, or a provider of
their own; remote workers (several nodes) would be another provider.

Cancelling the task that awaits ``sanitise`` or ``verify`` stops that worker and its group.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.isolation import worker
from gateway.isolation.confinement import FULL, Walls
from gateway.isolation.job import (
    RESULT_NAME,
    Job,
    VerifyJob,
    WorkerResult,
    job_to_message,
    read_result,
    read_verification,
)
from gateway.isolation.zygote import Worker, Zygote, entry_point_name
from sanitizers.pipeline import Rule
from sanitizers.verification import expectation_for

log = structlog.get_logger("mukaika.isolation")

KILL_GRACE_SECONDS = 2.0
#: What production workers run; a provider is started with these and nothing else.
PRODUCTION_ENTRY_POINTS = (entry_point_name(worker.sanitise), entry_point_name(worker.verify))


@dataclass
class ProviderStats:
    workers: int = 0
    verifications: int = 0
    verify_failures: int = 0
    crashes: int = 0


class IsolationProvider(abc.ABC):
    """Runs jobs in confined workers, ``size`` at a time."""

    size: int
    confinement: str
    stats: ProviderStats

    def __init__(self, size: int, confinement: str) -> None:
        self.size = size
        self.confinement = confinement
        self.stats = ProviderStats()
        self.busy = 0
        self._slots = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``size`` worker places (callers may prepare the job inside it)."""
        async with self._slots:
            self.busy += 1
            try:
                yield
            finally:
                self.busy -= 1

    @abc.abstractmethod
    async def start(self) -> None:
        """Get ready now rather than with the first file."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop every worker; the provider may be started again."""

    @abc.abstractmethod
    async def sanitise(self, job: Job) -> WorkerResult:
        """Sanitise ``job`` in a fresh worker; the caller holds a ``slot()``."""

    @abc.abstractmethod
    async def verify(self, job: Job, result: WorkerResult) -> WorkerResult:
        """``result`` if a fresh verifier vouches for its output, else a ``verify.failed`` refusal."""

    async def run(self, job: Job) -> WorkerResult:
        """Sanitise and verify, in one slot."""
        async with self.slot():
            result = await self.sanitise(job)
            return await self.verify(job, result) if result.verdict == "released" else result


class ZygoteProvider(IsolationProvider):
    """Workers forked from a warm zygote, confined before they run an entry point."""

    def __init__(
        self, size: int, confinement: str = FULL, entry_points: tuple[str, ...] = PRODUCTION_ENTRY_POINTS,
        sanitise_entry: str = PRODUCTION_ENTRY_POINTS[0], verify_entry: str = PRODUCTION_ENTRY_POINTS[1],
    ) -> None:  # fmt: skip
        super().__init__(size, confinement)
        self.entry_points = entry_points
        self.sanitise_entry = sanitise_entry
        self.verify_entry = verify_entry
        self._zygote: Zygote | None = None
        self._starting: asyncio.Task[Zygote] | None = None

    async def start(self) -> None:
        await self._running_zygote()

    async def close(self) -> None:
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None

    async def sanitise(self, job: Job) -> WorkerResult:
        job.work_dir.mkdir(parents=True, exist_ok=True)
        (job.work_dir / RESULT_NAME).unlink(missing_ok=True)
        walls = Walls((job.staged_path,), job.work_dir)
        exitcode, problem = await self.run_entry(self.sanitise_entry, job_to_message(job), walls, job)
        self.stats.workers += 1
        if problem is not None:
            self.stats.crashes += 1
            return problem
        result = await asyncio.to_thread(read_result, job, exitcode)  # hashes the output
        if result.reason_code in ("worker.crash", "worker.timeout"):
            self.stats.crashes += 1
        return result

    async def verify(self, job: Job, result: WorkerResult) -> WorkerResult:
        assert result.output_path and result.output_type and result.method and result.output_sha256
        rule = job.rules.get(result.file_type or "")
        if rule is None or result.method not in rule.methods:
            claim = f"the worker claims {result.file_type}/{result.method}, which no rule asks for"
            return self._verify_failed(job, claim, result.file_type)
        # the verifier's own directory lies beside the worker's, where that worker could write nothing
        verify_dir = job.work_dir.with_name(f"{job.work_dir.name}-verify")
        rules = job.rules
        expected = expectation_for(result.file_type or "", result.output_type, result.method, rule.options,
                                   lambda type_name: rules[type_name].options if type_name in rules else {})  # fmt: skip
        check = VerifyJob(result.output_path, verify_dir, expected.output_type, expected.method,
                          expected.options, _member_options(rules), job.limits)  # fmt: skip
        if check.work_dir.exists():
            shutil.rmtree(check.work_dir)
        check.work_dir.mkdir()
        walls = Walls((result.output_path,), check.work_dir)
        exitcode, problem = await self.run_entry(self.verify_entry, check.as_message(), walls, job)
        self.stats.verifications += 1
        why = (
            problem.reason_message
            if problem is not None
            else read_verification(check, exitcode, result.output_sha256)
        )
        return result if why is None else self._verify_failed(job, why, result.file_type)

    def _verify_failed(self, job: Job, why: str, file_type: str | None) -> WorkerResult:
        self.stats.verify_failures += 1
        log.error(
            "output refused by its verification (a bug or an attack)", transfer_id=job.transfer_id, why=why
        )
        return WorkerResult("rejected", "verify.failed", why, file_type=file_type)

    async def run_entry(
        self, entry: str, message: dict[str, Any], walls: Walls, job: Job
    ) -> tuple[int | None, WorkerResult | None]:
        """Run ``entry(message)`` in a fresh confined worker; its exit status, or the refusal
        that replaces a result (it did not start, timed out or was lost)."""
        spawned = (await self._running_zygote()).spawn(entry, message, walls, job.limits)
        pid = await _started(spawned)
        if pid is None:
            return None, WorkerResult.refused("worker.crash", f"worker did not start: {spawned.problem}")
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(spawned.ended), job.limits.timeout_seconds)
            if not spawned.ended.done():
                await _stop_group(spawned, pid)
                return None, WorkerResult.refused(
                    "worker.timeout", f"no result within {job.limits.timeout_seconds:g}s"
                )
        finally:
            if not spawned.ended.done():  # cancelled while waiting: never leave a worker behind
                await _stop_group(spawned, pid)
        exitcode = spawned.ended.result()
        if exitcode is None:  # the zygote died, and the worker with it; its group may linger
            _signal_group(pid, signal.SIGKILL, reaped=True)
            return None, WorkerResult.refused("worker.crash", f"worker lost: {spawned.problem}")
        return exitcode, None

    async def _running_zygote(self) -> Zygote:
        """The zygote serving this event loop, (re)started if it died or serves another loop."""
        loop = asyncio.get_running_loop()
        if self._zygote is not None and self._zygote.serves(loop):
            return self._zygote
        if self._starting is None or self._starting.get_loop() is not loop:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None
            self._starting = loop.create_task(Zygote.start(self.entry_points, self.confinement))
            self._starting.add_done_callback(self._started_zygote)
        return await asyncio.shield(self._starting)

    def _started_zygote(self, starting: asyncio.Task[Zygote]) -> None:
        if self._starting is starting:
            self._starting = None
            if not starting.cancelled() and starting.exception() is None:
                self._zygote = starting.result()


def _member_options(rules: Mapping[str, Rule]) -> dict[str, Mapping[str, object]]:
    return {type_name: rule.options for type_name, rule in rules.items()}


async def _started(spawned: Worker) -> int | None:
    """The worker's pid, once the zygote has forked it.  Cancelled meanwhile, it still waits
    for the fork and stops the worker, so that none is left running unseen."""
    try:
        return await asyncio.shield(spawned.started)
    except asyncio.CancelledError:
        pid = await spawned.started
        if pid is not None:
            await _stop_group(spawned, pid)
        raise


async def _stop_group(spawned: Worker, pid: int) -> None:
    """SIGTERM the worker's process group, give it a grace period, then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_group(pid, sig, reaped=spawned.ended.done())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(spawned.ended), KILL_GRACE_SECONDS)


def _signal_group(pid: int, sig: signal.Signals, *, reaped: bool) -> None:
    """Signal the worker's process group, and the worker itself while it may not have called
    setsid yet (its pid cannot be reused before the zygote has reaped it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    if not reaped:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
