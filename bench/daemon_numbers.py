"""bench/daemon.py's measures as one JSON object, for the report.

    .venv/bin/python bench/daemon_numbers.py [--files 40] [--small 200,1000]

It calls daemon.py's own functions, so both measure the same way.  daemon.py waits for
the gateway's outcomes without end; when `mukaika run` exits early (a checkout that does
not start) this prints ``{"error": ...}`` and exits 1 instead of hanging.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import daemon


def gateway_exited() -> bool:
    """True when a `mukaika` child of this process has exited but nobody waited for it."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_file.read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, parent = stat[stat.rindex(")") + 2 :].split()[:2]
        if name == "mukaika" and state == "Z" and int(parent) == os.getpid():
            return True
    return False


def last_log_line() -> str:
    """The gateway's last words, from the newest of daemon.py's run folders."""
    logs = sorted(
        Path(tempfile.gettempdir()).glob("mukaika-bench-*/daemon.log"), key=lambda p: p.stat().st_mtime
    )
    lines = logs[-1].read_text(errors="replace").strip().splitlines() if logs else []
    return lines[-1][:300] if lines else "no log"


def stop_when_the_gateway_exits() -> None:
    # Twice in a row: a daemon stopped on purpose is a zombie only until daemon.py waits for it.
    seen_before = False
    while True:
        time.sleep(0.5)
        seen = gateway_exited()
        if seen and seen_before:
            error = f"mukaika run exited before every file had an outcome: {last_log_line()}"
            print(json.dumps({"error": error}), flush=True)
            os._exit(1)
        seen_before = seen


def measure(files: int, small: list[int]) -> dict[str, object]:
    inputs = daemon.mixed_inputs(files)
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as tmp:
        serial, serial_cpu = daemon.serial_seconds(inputs, Path(tmp))
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as tmp:
        run = daemon.run_daemon(inputs, Path(tmp))
    lat = list(run.latencies.values())
    batches = []
    for count in small:
        notes = [(f"note-{i:05}.txt", f"お知らせ {i}\r\n".encode("cp932")) for i in range(count)]
        with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as tmp:
            batch = daemon.run_daemon(notes, Path(tmp))
        batches.append({"files": count, "seconds": batch.elapsed, "peak_rss_mb": batch.peak_rss_mb})
    return {
        "files": len(inputs),
        "megabytes": sum(len(d) for _, d in inputs) / 1e6,
        "serial_seconds": serial,
        "serial_cpu_seconds": serial_cpu,
        "daemon_seconds": run.elapsed,
        "daemon_cpu_seconds": run.cpu_total,
        "latency_seconds": {str(p): daemon.percentile(lat, p) for p in (50, 95, 99)},
        "small_batches": batches,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--small", default="200,1000")
    args = parser.parse_args()
    threading.Thread(target=stop_when_the_gateway_exits, daemon=True).start()
    result = measure(args.files, [int(c) for c in args.small.split(",")])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
