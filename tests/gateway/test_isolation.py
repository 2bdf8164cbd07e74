"""Workers are real processes: crashes, hangs, memory blow-ups and forged results are contained."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from gateway.isolation.confinement import FULL, Walls
from gateway.isolation.job import Job, WorkerResult, job_to_message
from gateway.isolation.provider import PRODUCTION_ENTRY_POINTS, ZygoteProvider
from gateway.isolation.zygote import Zygote, entry_point_name
from sanitizers.base import GiB, Limits
from sanitizers.pipeline import Rule
from tests.gateway import worker_doubles
from tests.gateway.daemon_harness import process_alive

RULES = {"txt": Rule(("rebuild",)), "exe": Rule(("reject",))}


def make_job(tmp_path: Path, content: bytes = b"MZ\0\0", name: str = "x.exe", **limits: float) -> Job:
    staged = tmp_path / "input"
    staged.write_bytes(content)
    return Job("t1", staged, name, tmp_path / "work", RULES, Limits(**limits))  # type: ignore[arg-type]


def provider(target: Callable[..., None] | None = None, size: int = 1) -> ZygoteProvider:
    """The production provider, or one whose workers run ``target`` (a double) instead of sanitising."""
    if target is None:
        return ZygoteProvider(size)
    name = entry_point_name(target)
    return ZygoteProvider(
        size, FULL, PRODUCTION_ENTRY_POINTS + worker_doubles.ENTRY_POINTS, sanitise_entry=name
    )


def run(job: Job, target: Callable[..., None] | None = None):  # type: ignore[no-untyped-def]
    return asyncio.run(provider(target).run(job))


def start_zygote() -> Coroutine[Any, Any, Zygote]:
    return Zygote.start(worker_doubles.ENTRY_POINTS, FULL)


def spawn(zygote: Zygote, target: str, job: Job):  # type: ignore[no-untyped-def]
    return zygote.spawn(target, job_to_message(job), Walls((job.staged_path,), job.work_dir), job.limits)


def test_real_worker_applies_the_rule_and_reports_json(tmp_path: Path) -> None:
    result = run(make_job(tmp_path))
    assert (result.verdict, result.reason_code, result.file_type) == ("rejected", "policy.reject", "exe")


def test_hanging_worker_and_its_children_are_killed_at_the_timeout(tmp_path: Path) -> None:
    job = make_job(tmp_path, timeout_seconds=1.0)
    result = run(job, worker_doubles.hangs)
    assert result.reason_code == "worker.timeout"
    pids = [int(p) for p in (job.work_dir / "pids.txt").read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5  # SIGKILL is asynchronous: allow the kernel a moment
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        assert not process_alive(pid), f"process {pid} survived the timeout"


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01])
def test_a_worker_cancelled_while_it_starts_is_not_left_running(tmp_path: Path, delay: float) -> None:
    """Shutdown may cancel a transfer while its worker is being forked: none may survive."""
    job = make_job(tmp_path)

    async def cancel_during_start() -> None:
        pool = provider(worker_doubles.hangs)
        await pool.start()
        task = asyncio.create_task(pool.run(job))
        await asyncio.sleep(delay)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(cancel_during_start())
    time.sleep(1.0)  # a surviving worker records its pids within milliseconds
    pids_file = job.work_dir / "pids.txt"
    pids = [int(p) for p in pids_file.read_text().split()] if pids_file.exists() else []
    assert not [pid for pid in pids if process_alive(pid)]


def test_segfaulting_worker_is_a_crash(tmp_path: Path) -> None:
    result = run(make_job(tmp_path), worker_doubles.segfaults)
    assert result.reason_code == "worker.crash" and "status -11" in (result.reason_message or "")


def test_memory_limit_stops_a_runaway_worker(tmp_path: Path) -> None:
    result = run(make_job(tmp_path, worker_memory=GiB), worker_doubles.eats_memory)
    assert result.verdict == "rejected" and result.reason_code == "worker.crash"


@pytest.mark.parametrize("target", ["forges_release", "symlinks_output", "invents_reason", "huge_result"])
def test_untrusted_results_are_checked_not_believed(tmp_path: Path, target: str) -> None:
    result = run(make_job(tmp_path), getattr(worker_doubles, target))
    assert result.verdict == "rejected"
    assert result.reason_code == "worker.crash"
    assert result.output_path is None


def test_pool_bounds_concurrency(tmp_path: Path) -> None:
    async def main() -> int:
        pool = provider(size=2)
        peak = 0

        async def one(i: int) -> None:
            nonlocal peak
            directory = tmp_path / str(i)
            directory.mkdir()
            task = asyncio.create_task(pool.run(make_job(directory)))
            while not task.done():
                peak = max(peak, pool.busy)
                await asyncio.sleep(0.005)
            await task

        await asyncio.gather(*(one(i) for i in range(6)))
        return peak

    assert asyncio.run(main()) == 2


# ── the zygote the workers are forked from ───────────────────────────────────────────────
def test_the_zygote_reports_each_pid_then_its_exit_status(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    job.work_dir.mkdir()

    async def main() -> list[int | None]:
        zygote = await start_zygote()
        try:
            workers = [
                spawn(zygote, entry_point_name(t), job)
                for t in (worker_doubles.does_nothing, worker_doubles.segfaults)
            ]
            return [await w.started for w in workers] + [await w.ended for w in workers]
        finally:
            zygote.close()

    first, second, *statuses = asyncio.run(main())
    assert isinstance(first, int) and isinstance(second, int) and first != second
    assert statuses == [0, -signal.SIGSEGV]


def test_only_the_entry_points_given_at_start_run_as_workers(tmp_path: Path) -> None:
    async def ask_for_anything() -> tuple[int | None, str]:
        zygote = await Zygote.start(PRODUCTION_ENTRY_POINTS, FULL)
        try:
            worker = spawn(zygote, entry_point_name(worker_doubles.does_nothing), make_job(tmp_path))
            return await worker.started, worker.problem
        finally:
            zygote.close()

    pid, problem = asyncio.run(ask_for_anything())
    assert pid is None and "not a worker entry point" in problem


def test_a_dead_zygote_is_reaped_and_replaced(tmp_path: Path) -> None:
    async def main() -> tuple[int, int]:
        pool = provider(worker_doubles.records_parent)
        first = await _zygote_pid(pool, tmp_path / "a")
        os.kill(first, signal.SIGKILL)
        await asyncio.sleep(0.5)
        return first, await _zygote_pid(pool, tmp_path / "b")

    first, second = asyncio.run(main())
    assert second != first
    assert not Path(f"/proc/{first}").exists(), "the dead zygote was left a zombie"


def test_workers_die_with_the_zygote_and_their_group_is_killed(tmp_path: Path) -> None:
    job = make_job(tmp_path)

    async def main() -> WorkerResult:
        pool = provider(worker_doubles.hangs)
        task = asyncio.create_task(pool.run(job))
        pids = await _recorded_pids(job)
        os.kill(_parent_of(pids[0]), signal.SIGKILL)
        return await task

    result = asyncio.run(main())
    assert (result.reason_code, result.reason_message) == (
        "worker.crash",
        "worker lost: the worker zygote died",
    )
    _assert_all_die(_pids_of(job))


def test_a_worker_cancelled_while_it_runs_is_stopped_with_its_group(tmp_path: Path) -> None:
    job = make_job(tmp_path)

    async def main() -> None:
        task = asyncio.create_task(provider(worker_doubles.hangs).run(job))
        await _recorded_pids(job)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    _assert_all_die(_pids_of(job))


def test_no_zombies_are_left_and_the_zygote_goes_with_its_pool(tmp_path: Path) -> None:
    async def main() -> int:
        pool = provider(worker_doubles.records_parent, size=2)
        zygote = await _zygote_pid(pool, tmp_path / "first")
        jobs = [make_job(_mkdir(tmp_path / str(i)), timeout_seconds=1.0) for i in range(3)]
        doubles = [
            provider(t, size=2)
            for t in (worker_doubles.segfaults, worker_doubles.hangs, worker_doubles.does_nothing)
        ]
        await asyncio.gather(*(p.run(j) for p, j in zip(doubles, jobs, strict=True)))
        await asyncio.gather(*(pool.run(make_job(_mkdir(tmp_path / f"more{i}"))) for i in range(6)))
        assert not _zombie_children(zygote) and not _zombie_children(os.getpid())
        return zygote

    zygote = asyncio.run(main())
    gc.collect()
    assert not Path(f"/proc/{zygote}").exists(), "the zygote outlived its pool"
    assert not _zombie_children(os.getpid())


KILLED_DAEMON = """
import asyncio, sys
from pathlib import Path
from gateway.isolation.job import Job
from gateway.isolation.provider import PRODUCTION_ENTRY_POINTS, ZygoteProvider
from sanitizers.base import Limits
from tests.gateway import hostile_workers, worker_doubles
root, entry = Path(sys.argv[1]), sys.argv[2]
(root / "input").write_bytes(b"x")
entries = PRODUCTION_ENTRY_POINTS + worker_doubles.ENTRY_POINTS + hostile_workers.ENTRY_POINTS
provider = ZygoteProvider(1, "full", entries, sanitise_entry=entry)
asyncio.run(provider.run(Job("t1", root / "input", "x.txt", root / "work", {}, Limits())))
"""


def test_a_daemon_killed_with_sigkill_takes_its_zygote_and_workers_along(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    repository = Path(__file__).resolve().parents[2]
    hangs = entry_point_name(worker_doubles.hangs)
    daemon = subprocess.Popen([sys.executable, "-c", KILLED_DAEMON, str(tmp_path), hangs], cwd=repository)
    try:
        pids = asyncio.run(_recorded_pids(job, 30))
        zygote = _parent_of(pids[0])
        assert _parent_of(zygote) == daemon.pid
    finally:
        daemon.kill()
        daemon.wait()
    try:
        _assert_all_die([zygote, pids[0]])  # the grandchild is nobody's to kill once all above it are gone
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pids[0], signal.SIGKILL)


async def _zygote_pid(pool: ZygoteProvider, directory: Path) -> int:
    job = make_job(_mkdir(directory))
    await pool.run(job)
    return int((job.work_dir / "parent.txt").read_text())


async def _recorded_pids(job: Job, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while not _pids_of(job):
        assert time.monotonic() < deadline, "the worker never recorded its pids"
        await asyncio.sleep(0.02)
    return _pids_of(job)


def _pids_of(job: Job) -> list[int]:
    with contextlib.suppress(FileNotFoundError, ValueError):
        pids = [int(p) for p in (job.work_dir / "pids.txt").read_text().split()]
        if len(pids) == 2:
            return pids
    return []


def _assert_all_die(pids: list[int]) -> None:
    deadline = time.monotonic() + 5
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if process_alive(pid)]


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _zombie_children(parent: int) -> list[int]:
    zombies = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            state, ppid = entry.joinpath("stat").read_text().rpartition(")")[2].split()[:2]
            if int(ppid) == parent and state == "Z":
                zombies.append(int(entry.name))
    return zombies


def _mkdir(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory
