"""Run every bench script and write bench/REPORT.md: the machine, one summary table, the details.

Run from the repository root with ``make bench`` (which installs qpdf, poppler-utils and
mat2 first), or ``.venv/bin/python bench/report.py``.  Some defaults are smaller than the
scripts' own so that the whole report takes a few minutes; the report names them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import images
import office
import pdf
import pikepdf
import pypdfium2.version
from summary import Measure, Target, summary_table

from sanitizers.convert import soffice_path

BENCH = Path(__file__).resolve().parent
DAEMON_TIMEOUT = 900  # seconds; the gateway has then stalled, and the report says so


@dataclass
class Section:
    title: str
    body: str  # Markdown


def first_line(command: list[str]) -> str:
    """The first line a tool prints about itself, or "not installed"."""
    if shutil.which(command[0]) is None:
        return "not installed"
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def proc_field(path: str, key: str) -> str:
    for line in Path(path).read_text().splitlines():
        if line.startswith(key):
            return line.split(":", 1)[1].strip()
    return "unknown"


def machine() -> list[tuple[str, str]]:
    memory_kib = int(proc_field("/proc/meminfo", "MemTotal").split()[0])
    soffice = soffice_path()
    return [
        ("CPU", f"{proc_field('/proc/cpuinfo', 'model name')}, {os.cpu_count()} cores"),
        ("memory", f"{memory_kib / 1024**2:.1f} GiB"),
        ("kernel", platform.release()),
        ("Debian", Path("/etc/debian_version").read_text().strip()),
        ("Python", sys.version.split()[0]),
        ("pikepdf (libqpdf)", f"{pikepdf.__version__} ({pikepdf.__libqpdf_version__})"),
        ("qpdf CLI", first_line(["qpdf", "--version"])),
        ("Pillow", version("Pillow")),
        ("pypdfium2 (PDFium)", f"{version('pypdfium2')} ({pypdfium2.version.PDFIUM_INFO})"),
        ("LibreOffice", "not installed" if soffice is None else first_line([str(soffice), "--version"])),
        ("mat2", first_line(["mat2", "--version"])),
        ("poppler (pdftoppm)", first_line(["pdftoppm", "-v"])),
    ]


def printed(print_table: Callable[..., None], *args: object) -> str:
    """What a bench script's table printer prints, as a Markdown code block."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_table(*args)
    table = buffer.getvalue().strip("\n")  # some printers start with a blank line
    return f"```text\n{table}\n```\n"


def pdf_measures(pages: int) -> tuple[list[Measure], Section]:
    rows = pdf.measure_all(pages)
    rebuild = sum(r.rebuild for r in rows) * 1000
    image_per_page = sum(r.image for r in rows) / sum(r.pages for r in rows) * 1000
    qpdf, qpdf_os = pdf.total([r.qpdf for r in rows]), pdf.total([r.qpdf_object_streams for r in rows])
    poppler = pdf.total([r.pdftoppm for r in rows])
    generated = rows[-1]
    at_most_1_5 = Target("at_most", 1.5)
    measures = [
        Measure(
            f"PDF rebuild, {len(rows)} files",
            rebuild,
            "ms",
            "bare pikepdf open + save",
            sum(r.bare for r in rows) * 1000,
            at_most_1_5,
        ),
        Measure(
            f"PDF verification floor, {len(rows)} files: bare save + re-open + decode of content",
            sum(r.floor or 0 for r in rows) * 1000,
            "ms",
            "bare pikepdf open + save",
            sum(r.bare for r in rows) * 1000,
        ),
        Measure(
            "PDF rebuild vs qpdf CLI",
            rebuild,
            "ms",
            "`qpdf in.pdf out.pdf`",
            None if qpdf is None else qpdf * 1000,
            at_most_1_5,
        ),
        Measure(
            "PDF rebuild vs qpdf CLI, object streams",
            rebuild,
            "ms",
            "`qpdf --object-streams=generate`",
            None if qpdf_os is None else qpdf_os * 1000,
            at_most_1_5,
        ),
        Measure(
            f"PDF rebuild vs qpdf CLI, {generated.name}",
            generated.rebuild * 1000,
            "ms",
            "`qpdf in.pdf out.pdf`",
            None if generated.qpdf is None else generated.qpdf * 1000,
            at_most_1_5,
        ),
        Measure(
            "画像化 per page",
            image_per_page,
            "ms",
            "`pdftoppm -r 150 -png`",
            None if poppler is None else poppler / sum(r.pages for r in rows) * 1000,
            Target("at_most", 0.1),
        ),
        Measure(
            f"画像化 output size, {generated.name}",
            generated.image_size / 1024,
            "KiB",
            "input size",
            generated.size / 1024,
            at_most_1_5,
        ),
    ]
    return measures, Section(f"PDF (bench/pdf.py, --pages {pages})", printed(pdf.print_table, rows))


def image_measures() -> tuple[list[Measure], Section]:
    rows = images.measure_all()
    megapixels = sum(r.megapixels for r in rows)
    cleaned, photo = [r for r in rows if r.mat2 is not None], rows[-1]
    measures = [
        Measure(
            f"image rebuild, {len(rows)} files",
            sum(r.rebuild for r in rows) / megapixels,
            "s/MP",
            "bare Pillow open + save",
            sum(r.bare for r in rows) / megapixels,
            Target("at_most", images.TARGET_RATIO),
        ),
        Measure(
            f"image rebuild vs mat2, {len(cleaned)} files mat2 cleaned",
            sum(r.rebuild for r in cleaned) * 1000 if cleaned else None,
            "ms",
            "`mat2 file`",
            sum(r.mat2 or 0 for r in cleaned) * 1000 if cleaned else None,
            Target("at_most", images.MAT2_TARGET_RATIO),
            "" if cleaned else "mat2 missing",
        ),
        Measure(
            f"image rebuild vs mat2, {photo.name}",
            photo.rebuild * 1000,
            "ms",
            "`mat2 file`",
            None if photo.mat2 is None else photo.mat2 * 1000,
            Target("at_most", images.MAT2_TARGET_RATIO),
        ),
    ]
    return measures, Section("Images (bench/images.py)", printed(images.print_table, rows))


def office_measures(paragraphs: int) -> tuple[list[Measure], Section]:
    rows = office.measure_all(paragraphs)
    measures = [
        Measure(
            f"OOXML rebuild, {len(rows)} files",
            sum(r.rebuild for r in rows) * 1000,
            "ms",
            "bare unzip + re-zip",
            sum(r.bare for r in rows) * 1000,
        )
    ]
    body = printed(office.print_table, rows) + "\n" + printed(office.print_pdf_method_corpus)
    return measures, Section(f"Office (bench/office.py, --paragraphs {paragraphs})", body)


def daemon_numbers(files: int, small: str) -> dict[str, object]:
    """bench/daemon_numbers.py in its own session, so that a stalled gateway can be stopped."""
    with tempfile.TemporaryDirectory(prefix="mukaika-report-") as scratch:
        command = [sys.executable, str(BENCH / "daemon_numbers.py"), "--files", str(files), "--small", small]
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "TMPDIR": scratch},  # its leftovers go when this folder goes
        )
        try:
            out, _ = child.communicate(timeout=DAEMON_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGTERM)
            time.sleep(5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return {"error": f"no result within {DAEMON_TIMEOUT} s"}
    lines = out.strip().splitlines()
    if not lines:
        return {"error": f"bench/daemon_numbers.py printed nothing (exit {child.returncode})"}
    result: dict[str, object] = json.loads(lines[-1])
    return result


def daemon_measures(files: int, small: str) -> tuple[list[Measure], Section]:
    title = f"Daemon (bench/daemon.py's measures, --files {files} --small {small})"
    numbers = daemon_numbers(files, small)
    if "error" in numbers:
        reason = f"not measured: {numbers['error']}"
        return [
            Measure(
                "daemon throughput, 2 workers", None, "files/s", target=Target("at_least", 1.0), note=reason
            ),
        ], Section(title, f"{reason}\n")
    count, serial, elapsed = numbers["files"], numbers["serial_seconds"], numbers["daemon_seconds"]
    latency, batches = numbers["latency_seconds"], numbers["small_batches"]
    serial_cpu, daemon_cpu = numbers["serial_cpu_seconds"], numbers["daemon_cpu_seconds"]
    assert isinstance(count, int) and isinstance(serial, float) and isinstance(elapsed, float)
    assert isinstance(serial_cpu, float) and isinstance(daemon_cpu, float)
    assert isinstance(latency, dict) and isinstance(batches, list)
    measures = [
        Measure(
            f"daemon throughput, {count} mixed files, 2 workers",
            count / elapsed,
            "files/s",
            "same sanitisers serially in-process",
            count / serial,
            Target("at_least", 1.0),
        ),
        Measure(
            "daemon CPU per file, confinement and verification included",
            daemon_cpu / count * 1000,
            "ms",
            "same sanitisers in one process",
            serial_cpu / count * 1000,
            Target("at_most", 1.5),
        ),
        Measure("drop → release latency p95", latency["95"], "s"),
    ]
    if len(batches) > 1:
        first, last = batches[0], batches[-1]
        measures.append(
            Measure(
                f"small files: cost per file at {last['files']}",
                last["seconds"] / last["files"] * 1000,
                "ms",
                f"at {first['files']} files",
                first["seconds"] / first["files"] * 1000,
                Target("at_most", 1.1),
            )
        )
    lines = [
        f"Mixed: {count} files, {numbers['megabytes']:.1f} MB, dropped at once into `mukaika run` "
        "with 2 workers.\n",
        "| measure | value |",
        "|---|---|",
        f"| serial in-process | {serial:.2f} s ({count / serial:.1f} files/s) |",
        f"| daemon | {elapsed:.2f} s ({count / elapsed:.1f} files/s) |",
        f"| CPU per file: in-process / daemon in all | {serial_cpu / count * 1000:.1f} / "
        f"{daemon_cpu / count * 1000:.1f} ms |",
        f"| drop → release latency p50 / p95 / p99 | {latency['50']:.2f} / {latency['95']:.2f} / "
        f"{latency['99']:.2f} s |",
        "\nMany small files (one daemon per batch):\n",
        "| files | wall s | ms per file | peak daemon RSS MB |",
        "|---|---|---|---|",
        *(
            f"| {b['files']} | {b['seconds']:.1f} | {b['seconds'] / b['files'] * 1000:.1f} | "
            f"{b['peak_rss_mb']:.0f} |"
            for b in batches
        ),
    ]
    return measures, Section(title, "\n".join(lines) + "\n")


def report(
    sections: list[Section], measures: list[Measure], started: datetime, seconds: float, options: str
) -> str:
    command = " ".join(sys.orig_argv)
    parts = [
        "# Benchmark report\n",
        f"Generated {started:%Y-%m-%d %H:%M} with `{command}` (what `make bench` runs once the "
        f"reference tools are installed), in {seconds / 60:.1f} minutes. {options}\n",
        "Ratios are ours / the reference, both measured in the same run on the same files; "
        "the machine is shared, so absolute times are noisy and the ratios are what to compare. "
        "Times of command-line tools include their process start.\n",
        "## Machine\n",
        "| | |\n|---|---|",
        *(f"| {name} | {value} |" for name, value in machine()),
        "\n## Summary\n",
        summary_table(measures),
        "## Details\n",
    ]
    for section in sections:
        parts += [f"### {section.title}\n", section.body]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf-pages", type=int, default=50, help="bench/pdf.py uses 200")
    parser.add_argument("--paragraphs", type=int, default=20000, help="as bench/office.py")
    parser.add_argument("--daemon-files", type=int, default=200, help="as bench/daemon.py")
    parser.add_argument("--daemon-small", default="500,2000", help="bench/daemon.py uses 1000,5000,10000")
    parser.add_argument("--output", type=Path, default=BENCH / "REPORT.md")
    args = parser.parse_args()
    started, clock = datetime.now().astimezone(), time.perf_counter()
    measures: list[Measure] = []
    sections: list[Section] = []
    for name, measure in (
        ("pdf", lambda: pdf_measures(args.pdf_pages)),
        ("images", image_measures),
        ("office", lambda: office_measures(args.paragraphs)),
        ("daemon", lambda: daemon_measures(args.daemon_files, args.daemon_small)),
    ):
        print(f"measuring {name} ...", flush=True)
        found, section = measure()
        measures += found
        sections.append(section)
    options = (
        f"To keep it quick, bench/pdf.py's generated document has {args.pdf_pages} pages (200 when run "
        f"alone) and the daemon's small-file batches are {args.daemon_small} files (1000,5000,10000)."
    )
    text = report(sections, measures, started, time.perf_counter() - clock, options)
    args.output.write_text(text, encoding="utf-8")
    print(summary_table(measures))
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
