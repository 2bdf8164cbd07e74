"""Daemon throughput, latency and memory.

    .venv/bin/python bench/daemon.py [--files 300] [--small 1000,5000,10000]

1. Mixed files (12 MP phone photos, 4-30 page PDF reports with scans, text notices,
   executables) dropped at once into a running
   `mukaika run` with two workers: files/s, drop→release latency p50/p95/p99, the
   throughput as a ratio to the same sanitisers called serially in this process, and the
   CPU spent per file by the daemon with its zygote, workers and verifiers (confinement
   included) as a ratio to the CPU those sanitisers take in this process.
2. Many small files: the daemon's peak RSS and wall time per file at each batch size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pikepdf
from PIL import Image

from sanitizers.base import Limits
from sanitizers.pipeline import Rule, process_file
from sanitizers.registry import default_registry
from sanitizers.verification import expectation_for, verify_output

MUKAIKA = Path(sys.executable).parent / "mukaika"
RULES = {
    "jpeg": Rule(("rebuild",)),
    "png": Rule(("rebuild",)),
    "pdf": Rule(("rebuild", "image")),
    "txt": Rule(("rebuild",)),
    "csv": Rule(("rebuild",)),
    "exe": Rule(("reject",)),
}


class Rules:
    def rule_for(self, type_name: str) -> Rule | None:
        return RULES.get(type_name)


def make_photo(rng: random.Random, width: int = 4032, height: int = 3024) -> bytes:
    """A phone-camera-sized JPEG (12 MP) with EXIF, as staff forward them."""
    small = Image.effect_noise((width // 8, height // 8), 60).convert("RGB")
    tint = Image.new("RGB", small.size, (rng.randrange(256), 90, 160))
    image = Image.blend(small, tint, 0.5).resize((width, height), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88, exif=exif)
    return buffer.getvalue()


def make_pdf(rng: random.Random, pages: int) -> bytes:
    """A report: text on every page, a scanned-looking image on every other, and an OpenAction."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))  # fmt: skip
    scan = Image.effect_noise((600, 400), 30).convert("L")
    for n in range(pages):
        lines = "".join(f"BT /F1 10 Tf 50 {780 - 14 * i} Td (Page {n} line {i} of the budget report) Tj ET\n"
                        for i in range(50))  # fmt: skip
        page = pdf.add_blank_page(page_size=(612, 792))
        resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        if n % 2:
            buffer = io.BytesIO()
            scan.save(buffer, "JPEG", quality=70)
            image = pikepdf.Stream(pdf, buffer.getvalue(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                                   Width=600, Height=400, ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8,
                                   Filter=pikepdf.Name.DCTDecode)  # fmt: skip
            resources.XObject = pikepdf.Dictionary(Im0=image)
            lines += "q 300 0 0 200 150 60 cm /Im0 Do Q\n"
        page.Resources = resources
        page.Contents = pdf.make_stream(lines.encode())
    action = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String(f"app.alert({rng.random()})"))
    pdf.Root.OpenAction = pdf.make_indirect(action)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def mixed_inputs(count: int) -> list[tuple[str, bytes]]:
    rng = random.Random(7)
    registry = default_registry()
    makers = [("jpg", "jpeg", lambda: make_photo(rng)), ("pdf", "pdf", lambda: make_pdf(rng, rng.randint(4, 30))),
              ("txt", "txt", lambda: ("市役所からのお知らせ\r\n" * rng.randint(50, 2000)).encode("cp932")),
              ("exe", "exe", lambda: b"MZ" + os.urandom(2000))]  # fmt: skip
    usable = [m for m in makers if m[1] == "exe" or registry.methods_for(m[1])]
    skipped = sorted({m[1] for m in makers} - {m[1] for m in usable})
    if skipped:
        print(f"(no sanitiser registered yet for: {', '.join(skipped)}; left out of the mix)")
    cache = {ext: [make() for _ in range(5)] for ext, _, make in usable}
    return [
        (f"file-{i:05}.{usable[i % len(usable)][0]}", cache[usable[i % len(usable)][0]][i % 5])
        for i in range(count)
    ]


def serial_seconds(inputs: list[tuple[str, bytes]], scratch: Path, verify: bool) -> tuple[float, float]:
    """Wall seconds and CPU seconds (the programs they start included: OTS, LibreOffice) of the
    sanitisers called one after the other in this process; with ``verify``, each release is
    also held to the independent verifier, as the daemon's verifying workers do."""
    registry = default_registry()
    for name, data in inputs:
        (scratch / name).write_bytes(data)
    started, cpu = time.perf_counter(), time.process_time() + children_cpu()
    for name, _ in inputs:
        work = scratch / f"work-{name}"
        work.mkdir()
        outcome = process_file(scratch / name, name, work, Rules(), Limits(), registry)
        if verify and outcome.output_path is not None and outcome.output is not None and outcome.method:
            rule = RULES[outcome.input.type or ""]
            expected = expectation_for(
                outcome.input.type or "",
                outcome.output.type or "",
                outcome.method,
                rule.options,
                _member_options,
            )
            verify_output(outcome.output_path, expected, Limits(), _member_options)
    return time.perf_counter() - started, time.process_time() + children_cpu() - cpu


def _member_options(type_name: str) -> Mapping[str, object]:
    rule = RULES.get(type_name)
    return rule.options if rule is not None else {}


def children_cpu() -> float:
    """CPU seconds of every descendant this process has waited for (they add up the same way)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu(pid: int) -> float:
    """A live process's own CPU seconds, its children not counted."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a live process and its live children (its zygote), themselves and reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    spent = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return spent + sum(tree_cpu(int(child)) for child in children)


class Daemon:
    def __init__(self, root: Path, workers: int = 2) -> None:
        self.root = root
        self.inbox, self.outbox, self.rejected = root / "in", root / "out", root / "rej"
        for folder in (self.inbox, self.outbox, self.rejected):  # the gateway creates only its spool
            folder.mkdir(exist_ok=True)
        self.log = root / "daemon.log"
        rules = "".join(f"[rules.{t}]\nmethod = {json.dumps(list(r.methods))}\n" for t, r in RULES.items())
        (root / "bench.toml").write_text(
            f'[gateway]\nspool_dir = "{root / "spool"}"\nworkers = {workers}\nsettle_seconds = 0.2\n'
            f'rescan_seconds = 5\nlog_format = "json"\n{rules}'
            f'[[channels]]\nname = "bench"\ninbox = "{self.inbox}"\noutbox = "{self.outbox}"\n'
            f'rejected = "{self.rejected}"\n'
        )
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([str(MUKAIKA), "run", "--config", str(root / "bench.toml")],
                                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        while "gateway started" not in self.log.read_text():
            time.sleep(0.05)
        # start-up (imports, the zygote's preload) is paid once, not per file: not counted
        self.startup_cpu = tree_cpu(self.process.pid)
        self.startup_main_cpu = own_cpu(self.process.pid)

    def outcomes(self) -> int:
        return sum(1 for line in self.log.read_text().splitlines() if '"event": "transfer"' in line)

    def finish_times(self) -> dict[str, float]:
        times = {}
        for line in self.log.read_text().splitlines():
            if '"event": "transfer"' in line:
                record = json.loads(line)
                times[record["name"]] = datetime.fromisoformat(record["timestamp"]).timestamp()
        return times

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


def drop_all(inputs: list[tuple[str, bytes]], root: Path, inbox: Path) -> dict[str, float]:
    """Write everything next to the inbox, then rename in (as a finished copy arrives)."""
    staging = root / "staging"
    staging.mkdir(exist_ok=True)
    for name, data in inputs:
        (staging / name).write_bytes(data)
    dropped = {}
    for name, _ in inputs:
        (staging / name).rename(inbox / name)
        dropped[name] = time.time()
    return dropped


@dataclass
class DaemonRun:
    elapsed: float
    latencies: dict[str, float]
    peak_rss_mb: float
    cpu_main: float  # the daemon process itself, after start-up
    cpu_total: (
        float  # the daemon, its zygote, every worker and verifier (and what they started), after start-up
    )


def run_daemon(inputs: list[tuple[str, bytes]], root: Path) -> DaemonRun:
    before = children_cpu()
    daemon = Daemon(root)
    started = time.perf_counter()
    dropped = drop_all(inputs, root, daemon.inbox)
    while daemon.outcomes() < len(inputs):
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    finished = daemon.finish_times()
    rss = daemon.peak_rss_mb()
    main = own_cpu(daemon.process.pid) - daemon.startup_main_cpu
    daemon.stop()
    latencies = {name: finished[name] - dropped[name] for name in dropped}
    return DaemonRun(elapsed, latencies, rss, main, children_cpu() - before - daemon.startup_cpu)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--small", default="1000,5000,10000")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")

    inputs = mixed_inputs(args.files)
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as tmp:
        serial, serial_cpu = serial_seconds(inputs, Path(tmp), verify=False)
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as tmp:
        _, verified_cpu = serial_seconds(inputs, Path(tmp), verify=True)
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as tmp:
        run = run_daemon(inputs, Path(tmp))
    elapsed, lat, n = run.elapsed, list(run.latencies.values()), len(inputs)
    total_mb = sum(len(d) for _, d in inputs) / 1e6
    print(f"\n## mixed: {n} files, {total_mb:.1f} MB, daemon with 2 workers")
    print("| measure | value |\n|---|---|")
    print(f"| serial in-process | {serial:.2f} s ({n / serial:.1f} files/s) |")
    print(f"| daemon | {elapsed:.2f} s ({n / elapsed:.1f} files/s) |")
    print(f"| throughput ratio daemon / serial | {serial / elapsed:.2f} (target >= 1.0) |")
    print(f"| CPU per file, serial in-process | {serial_cpu / n * 1000:.1f} ms |")
    print(
        f"| CPU per file, daemon in all | {run.cpu_total / n * 1000:.1f} ms (main process "
        f"{run.cpu_main / n * 1000:.1f}, zygote + workers + verifiers {(run.cpu_total - run.cpu_main) / n * 1000:.1f}) |"
    )
    print(f"| CPU ratio daemon / serial | {run.cpu_total / serial_cpu:.2f} (target <= 1.5) |")
    print(f"| CPU per file, serial sanitise + independent verify | {verified_cpu / n * 1000:.1f} ms |")
    print(f"| CPU ratio daemon / serial sanitise + verify | {run.cpu_total / verified_cpu:.2f} |")
    print(f"| drop→release latency p50 / p95 / p99 | {percentile(lat, 50):.2f} / {percentile(lat, 95):.2f} / "
          f"{percentile(lat, 99):.2f} s |")  # fmt: skip

    print("\n## many small files (one daemon per batch)")
    print("| files | wall s | ms per file | peak daemon RSS MB |\n|---|---|---|---|")
    per_file = {}
    for count in (int(c) for c in args.small.split(",")):
        small = [(f"note-{i:05}.txt", f"お知らせ {i}\r\n".encode("cp932")) for i in range(count)]
        with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as tmp:
            batch = run_daemon(small, Path(tmp))
        per_file[count] = batch.elapsed / count
        print(f"| {count} | {batch.elapsed:.1f} | {per_file[count] * 1000:.1f} | {batch.peak_rss_mb:.0f} |")
    counts = sorted(per_file)
    if len(counts) > 1:
        print(f"\ncost per file at {counts[-1]} / at {counts[0]}: {per_file[counts[-1]] / per_file[counts[0]]:.2f} "
              "(target <= 1.1)")  # fmt: skip


if __name__ == "__main__":
    main()
