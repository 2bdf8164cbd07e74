"""Misbehaving worker entry points, run in real forked workers by the isolation tests.

They live in an importable module because the zygote imports the target by name (only
from this module's __all__, besides the real run_job).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time

from gateway.isolation import RESULT_NAME, Job, run_job


def hangs(job: Job) -> None:
    """Sleeps forever, with a grandchild doing the same; records both pids in pids.txt."""
    os.setsid()
    child = os.fork()  # a grandchild too: the whole process group must die
    if child == 0:
        time.sleep(3600)
    (job.work_dir / "pids.txt").write_text(f"{os.getpid()} {child}")
    time.sleep(3600)


def does_nothing(job: Job) -> None:
    """Exits at once, leaving no result (what the zygote itself costs, for a benchmark)."""


def records_parent(job: Job) -> None:
    """Writes its parent's pid (the zygote's) to parent.txt."""
    (job.work_dir / "parent.txt").write_text(str(os.getppid()))


def segfaults(job: Job) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def eats_memory(job: Job) -> None:
    run_job_with(job, lambda: bytearray(8 * 1024**3))


def forges_release(job: Job) -> None:
    """Claims a release of a file it never sanitised (a compromised parser would)."""
    scratch = job.work_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "output-rebuild").write_bytes(b"MZ this is not a PDF")
    _result(job, {"verdict": "released", "reason": None, "type": "pdf", "method": "rebuild", "findings": [],
                  "output": "output-rebuild", "output_type": "pdf"})  # fmt: skip


def symlinks_output(job: Job) -> None:
    scratch = job.work_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "output-rebuild").symlink_to("/etc/passwd")
    _result(job, {"verdict": "released", "reason": None, "type": "txt", "method": "rebuild", "findings": [],
                  "output": "output-rebuild", "output_type": "txt"})  # fmt: skip


def invents_reason(job: Job) -> None:
    _result(job, {"verdict": "rejected", "reason": {"code": "../../etc", "message": "x"}, "type": None})


def huge_result(job: Job) -> None:
    (job.work_dir / RESULT_NAME).write_bytes(b"[" * (5 * 1024 * 1024))


def connects_out(job: Job) -> None:
    """After the real confinement, try to reach the port named in the input file."""
    from gateway import isolation

    os.setsid()
    isolation._apply_rlimits(job.limits)
    isolated = isolation._enter_private_network()
    port = int(job.staged_path.read_text())
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        outcome = "connected"
    except OSError as exc:
        outcome = f"refused: {exc}"
    (job.work_dir / "network.txt").write_text(f"{isolated}\n{outcome}")


def run_job_with(job: Job, action: object) -> None:
    """The real confinement (rlimits) followed by ``action`` instead of sanitising."""
    from gateway import isolation

    os.setsid()
    isolation._apply_rlimits(job.limits)
    assert callable(action)
    action()


def _result(job: Job, result: dict[str, object]) -> None:
    (job.work_dir / RESULT_NAME).write_text(json.dumps(result))


__all__ = ["connects_out", "does_nothing", "eats_memory", "forges_release", "hangs", "huge_result", "invents_reason",
           "records_parent", "run_job", "segfaults", "symlinks_output"]  # fmt: skip
