"""PDF sanitiser cost and output size, as ratios measured in one run.

Run from the repository root: ``.venv/bin/python bench/pdf.py [--pages 200]``.
Inputs are the benign PDFs of ../shared/corpus (when present) plus a generated text
document of ``--pages`` pages.  For each input:

* rebuild: seconds per file / seconds of a bare ``pikepdf.open(src).save(dst)``
  (target ≤ 1.5); both the best of several runs;
* floor: the least any rebuild that verifies its output as it must can cost, as a ratio to
  the bare save: the bare save, then the output re-opened and every stream read as PDF
  syntax decoded (no cleaning, no scanning);
* rebuild / the ``qpdf`` CLI rewriting the same file (``qpdf in out``, and
  ``qpdf --object-streams=generate in out``, which writes object streams as the rebuild
  does), process start included (target ≤ 1.5, as for the bare pikepdf call);
* 画像化: seconds per page / seconds per page of ``pdftoppm -r 150 -png`` on the same file
  (target ≤ 0.1), and output bytes / input bytes (target ≤ 1.5 for text documents).

The last line sums times, pages and bytes over all inputs.  ``pdftoppm`` comes from
poppler-utils and ``qpdf`` from qpdf; without them their ratios are reported as n/a.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from timing import best_of

from sanitizers.base import Limits
from sanitizers.pdf import PdfImage, PdfRebuild
from sanitizers.pdf.streams import is_syntax
from sanitizers.pdf.values import entries_of

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
REPEATS = 5
SYLLABLES = ("ka", "shi", "to", "na", "mi", "ro", "te", "su", "ku", "ri", "an", "en", "or", "is", "ed", "al")


@dataclass
class Row:
    name: str
    pages: int
    size: int
    bare: float
    rebuild: float
    image: float
    image_size: int
    pdftoppm: float | None
    qpdf: float | None = None
    qpdf_object_streams: float | None = None
    floor: float | None = None


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    return ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(size)]


def text_document(path: Path, pages: int) -> Path:
    """A plain text report: 50 lines of 12 words per page in (non-embedded) Helvetica.

    Words follow Zipf's law over a 3000-word vocabulary, as running text does.
    """
    rng = random.Random(2024)
    words = vocabulary(rng)
    weights = [1 / rank for rank in range(1, len(words) + 1)]
    pdf = pikepdf.Pdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for _ in range(pages):
        lines = " ".join(f"({' '.join(rng.choices(words, weights, k=12))}) Tj 0 -14 Td" for _ in range(50))
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 595, 842],
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
            Contents=pdf.make_stream(f"BT /F1 10 Tf 60 790 Td {lines} ET".encode()),
        )
        pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def benign_corpus() -> list[Path]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        print(f"note: {CORPUS} is absent; only the generated document is measured")
        return []
    rows = [line.split("\t") for line in manifest.read_text(encoding="utf-8").splitlines()[1:]]
    return sorted(CORPUS / row[0] for row in rows if row[0].startswith("pdf/") and row[6] == "benign")


def measure(src: Path, work: Path, pdftoppm: str | None) -> Row:
    limits = Limits()
    bare_out, rebuild_out, image_out = work / "bare.pdf", work / "rebuild.pdf", work / "image.pdf"
    floor_out = work / "floor.pdf"
    with pikepdf.open(src) as pdf:
        pages = len(pdf.pages)

    def bare() -> None:
        with pikepdf.open(src) as pdf:
            pdf.save(bare_out)

    def verified_copy() -> None:
        with pikepdf.open(src) as pdf:
            pdf.save(floor_out)
        with pikepdf.open(floor_out) as copy:
            for obj in copy.objects:
                if isinstance(obj, pikepdf.Stream) and is_syntax(entries_of(obj)):
                    obj.read_bytes()

    bare_seconds = best_of(bare, REPEATS)
    floor_seconds = best_of(verified_copy, REPEATS)
    rebuild_seconds = best_of(lambda: PdfRebuild().sanitize(src, rebuild_out, {}, limits), REPEATS)
    repeats = 1 if pages > 20 else 3
    image_seconds = best_of(lambda: PdfImage().sanitize(src, image_out, {"dpi": 150}, limits), repeats)
    poppler_seconds = None
    if pdftoppm is not None:
        command = [pdftoppm, "-r", "150", "-png", str(src), str(work / "page")]
        poppler_seconds = best_of(
            lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            repeats,
        )
    return Row(
        src.name,
        pages,
        src.stat().st_size,
        bare_seconds,
        rebuild_seconds,
        image_seconds,
        image_out.stat().st_size,
        poppler_seconds,
        floor=floor_seconds,
    )


def qpdf_rewrite(src: Path, work: Path, qpdf: str, *options: str) -> float | None:
    """Best time of the qpdf CLI rewriting ``src``, or None when qpdf refuses the file.

    Exit status 3 means qpdf wrote the output but warned (damaged input it repaired).
    """
    command = [qpdf, *options, str(src), str(work / "qpdf.pdf")]
    if subprocess.run(command, check=False, capture_output=True).returncode not in (0, 3):
        return None
    return best_of(lambda: subprocess.run(command, check=False, capture_output=True), REPEATS)


def ratio(numerator: float, denominator: float | None) -> str:
    return "n/a" if not denominator else f"{numerator / denominator:.2f}"


def milliseconds(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.2f}"


def total(seconds: list[float | None]) -> float | None:
    """The sum, or None when any input has no time (the tool refused it or is missing)."""
    return None if any(s is None for s in seconds) else sum(s or 0 for s in seconds)


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'file':44} {'pages':>5} {'KiB':>7} | {'bare ms':>8} {'rebuild ms':>10} {'ratio':>6} {'floor':>6} | "
        f"{'qpdf ms':>8} {'ratio':>6} {'qpdf-os ms':>10} {'ratio':>6} | "
        f"{'img ms/p':>8} {'pdftoppm ms/p':>13} {'ratio':>6} | {'img KiB':>8} {'out/in':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        poppler = None if row.pdftoppm is None else row.pdftoppm / row.pages
        print(
            f"{row.name[:44]:44} {row.pages:5} {row.size / 1024:7.1f} | {row.bare * 1000:8.2f} "
            f"{row.rebuild * 1000:10.2f} {ratio(row.rebuild, row.bare):>6} {ratio(row.floor or 0, row.bare):>6} | "
            f"{milliseconds(row.qpdf):>8} {ratio(row.rebuild, row.qpdf):>6} "
            f"{milliseconds(row.qpdf_object_streams):>10} {ratio(row.rebuild, row.qpdf_object_streams):>6} | "
            f"{row.image / row.pages * 1000:8.1f} {'n/a' if poppler is None else f'{poppler * 1000:.1f}':>13} "
            f"{ratio(row.image / row.pages, poppler):>6} | {row.image_size / 1024:8.1f} "
            f"{ratio(row.image_size, row.size):>6}"
        )
    pages = sum(r.pages for r in rows)
    poppler_total = None if any(r.pdftoppm is None for r in rows) else sum(r.pdftoppm or 0 for r in rows)
    qpdf_total, qpdf_os_total = total([r.qpdf for r in rows]), total([r.qpdf_object_streams for r in rows])
    rebuild_total = sum(r.rebuild for r in rows)
    print("-" * len(header))
    print(
        f"{'all inputs':44} {pages:5} {sum(r.size for r in rows) / 1024:7.1f} | "
        f"{sum(r.bare for r in rows) * 1000:8.2f} {sum(r.rebuild for r in rows) * 1000:10.2f} "
        f"{ratio(sum(r.rebuild for r in rows), sum(r.bare for r in rows)):>6} "
        f"{ratio(sum(r.floor or 0 for r in rows), sum(r.bare for r in rows)):>6} | "
        f"{milliseconds(qpdf_total):>8} {ratio(rebuild_total, qpdf_total):>6} "
        f"{milliseconds(qpdf_os_total):>10} {ratio(rebuild_total, qpdf_os_total):>6} | "
        f"{sum(r.image for r in rows) / pages * 1000:8.1f} "
        f"{'n/a' if poppler_total is None else f'{poppler_total / pages * 1000:.1f}':>13} "
        f"{ratio(sum(r.image for r in rows), poppler_total):>6} | "
        f"{sum(r.image_size for r in rows) / 1024:8.1f} "
        f"{ratio(sum(r.image_size for r in rows), sum(r.size for r in rows)):>6}"
    )
    print(
        "targets: rebuild ratios (bare, qpdf) ≤ 1.5, 画像化 time ratio ≤ 0.1, 画像化 out/in ≤ 1.5 for text documents"
    )


def measure_all(pages: int) -> list[Row]:
    """One row per benign corpus PDF and one for a generated text document of ``pages`` pages."""
    pdftoppm, qpdf = shutil.which("pdftoppm"), shutil.which("qpdf")
    if pdftoppm is None:
        print("note: pdftoppm not found (apt-get install -y poppler-utils); 画像化 time ratios are n/a")
    if qpdf is None:
        print("note: qpdf not found (apt-get install -y qpdf); qpdf ratios are n/a")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        inputs = [*benign_corpus(), text_document(work / f"generated-text-{pages}p.pdf", pages)]
        rows = []
        for src in inputs:
            run_dir = work / src.stem
            run_dir.mkdir()
            row = measure(src, run_dir, pdftoppm)
            if qpdf is not None:
                row.qpdf = qpdf_rewrite(src, run_dir, qpdf)
                row.qpdf_object_streams = qpdf_rewrite(src, run_dir, qpdf, "--object-streams=generate")
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="pages of the generated text document")
    args = parser.parse_args()
    print_table(measure_all(args.pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
