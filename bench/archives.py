"""Archive rebuild cost: the same members as a ZIP, a solid 7z and a tar.gz.

Run from the repository root: ``.venv/bin/python bench/archives.py [--megabytes 50]``.  The
members are generated (CSV, plain text and HTML pages of Japanese office text, compressible
as real ones are) and packed three ways: ZIP by zipfile (Deflate), 7z by the 7z tool (solid
LZMA2, its default), tar.gz by tarfile.  Each archive goes through the whole pipeline
(``process_file``, members rebuilt one level deeper) in a fresh child process, so that its
peak memory (ru_maxrss) is its own; each measure is the median of RUNS.  The table gives
seconds per MB of members and peak memory, and the ratio of each format's time to ZIP's:
what reading through libarchive costs over zipfile, with the member pipeline the same.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sanitizers.base import Limits
from sanitizers.pipeline import Rule, process_file
from sanitizers.registry import default_registry

RUNS = 3
MiB = 1024 * 1024
_WORDS = [
    "市役所",
    "住民票",
    "申請書",
    "令和",
    "年度",
    "予算",
    "会議",
    "資料",
    "報告",
    "担当",
    "課",
    "確認",
    "お願い",
    "提出",
    "期限",
]


class _RebuildAll:
    """Text, markup and every archive type rebuilt; nothing else is in these archives."""

    def rule_for(self, type_name: str) -> Rule:
        return Rule(("rebuild",))


def members(total: int, seed: int = 1) -> dict[str, bytes]:
    """About ``total`` bytes of office-like files: ~100 KB each, three kinds."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    size, index = 0, 0
    while size < total:
        kind = index % 3
        lines = []
        while sum(map(len, lines)) < 100_000:
            words = " ".join(rng.choice(_WORDS) for _ in range(12))
            number = rng.randrange(10**7)
            lines.append(
                [f"{index},{number},{words}\r\n", f"{words} {number}\n", f"<p>{words} {number}</p>\n"][kind]
            )
        name = [f"data/表{index:04d}.csv", f"notes/メモ{index:04d}.txt", f"web/page{index:04d}.html"][kind]
        data = "".join(lines).encode("utf-8")
        if kind == 2:
            data = (
                b"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>" + data + b"</body></html>"
            )
        files[name] = data
        size += len(data)
        index += 1
    return files


def build(folder: Path, files: dict[str, bytes]) -> dict[str, Path]:
    source = folder / "source"
    for name, data in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    built = {"zip": folder / "members.zip", "7z": folder / "members.7z", "tar.gz": folder / "members.tar.gz"}
    with zipfile.ZipFile(built["zip"], "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    seven = shutil.which("7z")
    if seven is None:
        sys.exit("7z is missing: `make bootstrap` installs p7zip-full")
    subprocess.run(
        [seven, "a", "-bd", "-bso0", "-bsp0", str(built["7z"]), *sorted(files)], cwd=source, check=True
    )
    with tarfile.open(built["tar.gz"], "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return built


def run_one(path: Path) -> dict[str, float]:
    """In the child: the pipeline on one archive; its time and this process's peak memory."""
    registry = default_registry()
    limits = Limits(max_file_size=1 << 30)
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as scratch:
        started = time.perf_counter()
        outcome = process_file(path, path.name, Path(scratch), _RebuildAll(), limits, registry)
        seconds = time.perf_counter() - started
    if outcome.verdict != "released":
        sys.exit(f"{path.name} was refused: {outcome.reason}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak": peak}


@dataclass
class Row:
    fmt: str
    archive_mb: float
    seconds: float
    peak_mb: float


def measure(path: Path, fmt: str) -> Row:
    runs = []
    for _ in range(RUNS):
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(path)], check=True, capture_output=True, text=True
        )
        runs.append(json.loads(child.stdout))
    return Row(
        fmt,
        path.stat().st_size / MiB,
        statistics.median(r["seconds"] for r in runs),
        statistics.median(r["peak"] for r in runs) / MiB,
    )


def print_table(rows: list[Row], members_mb: float) -> None:
    zip_seconds = next(r.seconds for r in rows if r.fmt == "zip")
    print(f"members: {members_mb:.1f} MB; median of {RUNS} runs, each in a fresh process\n")
    print("| format | archive MB | seconds | s per MB of members | peak memory MB | time / zip |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.fmt} | {r.archive_mb:.1f} | {r.seconds:.2f} | {r.seconds / members_mb:.3f} "
            f"| {r.peak_mb:.0f} | {r.seconds / zip_seconds:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=50.0)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one)))
        return
    files = members(int(args.megabytes * MiB))
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-archives-") as folder:
        built = build(Path(folder), files)
        rows = [measure(path, fmt) for fmt, path in built.items()]
    print_table(rows, sum(map(len, files.values())) / MiB)


if __name__ == "__main__":
    main()
