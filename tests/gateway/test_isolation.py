"""Workers are real processes: crashes, hangs, memory blow-ups and forged results are contained."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.isolation import Job, WorkerPool
from sanitizers.base import GiB, Limits
from sanitizers.pipeline import Rule
from tests.gateway import worker_doubles

RULES = {"txt": Rule(("rebuild",)), "exe": Rule(("reject",))}


def make_job(tmp_path: Path, content: bytes = b"MZ\0\0", name: str = "x.exe", **limits: float) -> Job:
    staged = tmp_path / "input"
    staged.write_bytes(content)
    return Job("t1", staged, name, tmp_path / "work", RULES, Limits(**limits))  # type: ignore[arg-type]


def run(job: Job, target: Callable[[Job], None] | None = None):  # type: ignore[no-untyped-def]
    return asyncio.run(WorkerPool(1, target).run(job))


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
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        assert not _alive(pid), f"process {pid} survived the timeout"


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01])
def test_a_worker_cancelled_while_it_starts_is_not_left_running(tmp_path: Path, delay: float) -> None:
    """Shutdown may cancel a transfer while its worker is being forked: none may survive."""
    job = make_job(tmp_path)

    async def cancel_during_start() -> None:
        pool = WorkerPool(1, worker_doubles.hangs)
        await pool.warm_up()
        task = asyncio.create_task(pool.run(job))
        await asyncio.sleep(delay)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(cancel_during_start())
    time.sleep(1.0)  # a surviving worker records its pids within milliseconds
    pids_file = job.work_dir / "pids.txt"
    pids = [int(p) for p in pids_file.read_text().split()] if pids_file.exists() else []
    assert not [pid for pid in pids if _alive(pid)]


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
        pool = WorkerPool(2)
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


def _alive(pid: int) -> bool:
    """Running and not a zombie (a zombie is dead, only not yet reaped by its parent)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_a_worker_cannot_reach_the_network(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    job = make_job(tmp_path, str(port).encode(), "port.txt")
    try:
        run(job, worker_doubles.connects_out)
        isolated, outcome = (job.work_dir / "network.txt").read_text().split("\n", 1)
        with pytest.raises(TimeoutError):
            server.accept()  # nobody came
    finally:
        server.close()
    assert isolated == "True"
    assert outcome.startswith("refused")
