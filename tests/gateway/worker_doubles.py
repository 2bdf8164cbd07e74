"""Misbehaving worker entry points, run in real confined workers by the isolation tests.

The tests give them to a ZygoteProvider of their own (the zygote imports the entry points
it is started with, by name); production zygotes know only gateway.isolation.worker's.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from gateway.isolation.job import RESULT_NAME, Job, job_from_message

Message = dict[str, Any]


def hangs(message: Message) -> None:
    """Sleeps forever, with a grandchild doing the same; records both pids in pids.txt."""
    job = job_from_message(message)
    child = os.fork()  # a grandchild too: the whole process group must die
    if child == 0:
        time.sleep(3600)
    (job.work_dir / "pids.txt").write_text(f"{os.getpid()} {child}")
    time.sleep(3600)


def does_nothing(message: Message) -> None:
    """Exits at once, leaving no result (what the zygote itself costs, for a benchmark)."""


def records_parent(message: Message) -> None:
    """Writes its parent's pid (the zygote's) to parent.txt."""
    (job_from_message(message).work_dir / "parent.txt").write_text(str(os.getppid()))


def segfaults(message: Message) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def eats_memory(message: Message) -> None:
    bytearray(8 * 1024**3)


def forges_release(message: Message) -> None:
    """Claims a release of a file it never sanitised (a compromised parser would)."""
    job = job_from_message(message)
    scratch = job.work_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "output-rebuild").write_bytes(b"MZ this is not a PDF")
    _result(job, {"verdict": "released", "reason": None, "type": "pdf", "method": "rebuild", "findings": [],
                  "output": "output-rebuild", "output_type": "pdf"})  # fmt: skip


def symlinks_output(message: Message) -> None:
    job = job_from_message(message)
    scratch = job.work_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "output-rebuild").symlink_to("/etc/passwd")  # refused by Landlock as well
    _result(job, {"verdict": "released", "reason": None, "type": "txt", "method": "rebuild", "findings": [],
                  "output": "output-rebuild", "output_type": "txt"})  # fmt: skip


def invents_reason(message: Message) -> None:
    _result(
        job_from_message(message),
        {"verdict": "rejected", "reason": {"code": "../../etc", "message": "x"}, "type": None},
    )


def huge_result(message: Message) -> None:
    (job_from_message(message).work_dir / RESULT_NAME).write_bytes(b"[" * (5 * 1024 * 1024))


def _result(job: Job, result: dict[str, object]) -> None:
    (job.work_dir / RESULT_NAME).write_text(json.dumps(result))


ENTRY_POINTS = tuple(
    f"{__name__}:{f.__name__}"
    for f in (does_nothing, eats_memory, forges_release, hangs, huge_result, invents_reason, records_parent,
              segfaults, symlinks_output)
)  # fmt: skip
