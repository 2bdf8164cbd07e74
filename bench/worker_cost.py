"""What one confined worker costs the machine, whatever it does: fork from the zygote,
Landlock, seccomp, limits, exit and reaping (CPU of the zygote and its children).

    .venv/bin/python bench/worker_cost.py [--jobs 300]

Prints CPU ms per job for an entry point that does nothing, and for the real sanitiser and
verifier on a one-line text file, with confinement "full" and "none"; the zygote's start-up
(paid once per daemon) is measured alone and taken out.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.isolation.job import Job
from gateway.isolation.provider import PRODUCTION_ENTRY_POINTS, ZygoteProvider
from gateway.isolation.zygote import entry_point_name
from sanitizers.base import Limits
from sanitizers.pipeline import Rule
from tests.gateway import worker_doubles

RULES = {"txt": Rule(("rebuild",))}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def jobs(root: Path, mode: str, entry: str, count: int, verify: bool) -> None:
    provider = ZygoteProvider(
        1, mode, PRODUCTION_ENTRY_POINTS + worker_doubles.ENTRY_POINTS, sanitise_entry=entry
    )
    await provider.start()
    for i in range(count):
        job = Job(f"t{i}", root / "note.txt", "note.txt", root / f"work-{i}", RULES, Limits())
        async with provider.slot():
            result = await provider.sanitise(job)
            if verify and result.verdict == "released":
                await provider.verify(job, result)
    await provider.close()


def cpu_ms(root: Path, mode: str, entry: str, count: int, verify: bool = False) -> float:
    before = children_cpu()
    asyncio.run(jobs(root, mode, entry, count, verify))
    return (children_cpu() - before) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    count = parser.parse_args().jobs
    nothing, sanitise = entry_point_name(worker_doubles.does_nothing), PRODUCTION_ENTRY_POINTS[0]
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as tmp:
        root = Path(tmp)
        (root / "note.txt").write_text("市役所からのお知らせ\n", encoding="utf-8")
        print("| confinement | entry point | CPU ms per job |\n|---|---|---|")
        for mode in ("full", "none"):
            start_up = cpu_ms(root, mode, nothing, 0)
            for label, entry, verify in (("does nothing", nothing, False), ("sanitise a note", sanitise, False),
                                         ("sanitise + verify a note", sanitise, True)):  # fmt: skip
                per_job = (cpu_ms(root, mode, entry, count, verify) - start_up) / count
                print(f"| {mode} | {label} | {per_job:.2f} |")
            print(f"| {mode} | (the zygote's start-up, once per daemon, taken out above) | {start_up:.0f} |")


if __name__ == "__main__":
    main()
