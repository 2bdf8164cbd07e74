"""Image rebuild cost: seconds per megapixel, as a ratio to a bare Pillow open + save.

Run from the repository root: ``.venv/bin/python bench/images.py``.  Inputs are the
benign images of ../shared/corpus/image (when present) plus a generated 24-megapixel
photo-like JPEG.  Each measurement is the median of several runs; the table ends with
the totals over all inputs (time summed, megapixels summed).

The reference tool is ``mat2`` (Debian package mat2) cleaning a copy of each file
(``mat2 copy.jpg`` writes ``copy.cleaned.jpg``); its time includes its own start-up, as a
run by staff would.  Targets: rebuild / bare ≤ 1.5, rebuild / mat2 ≤ 1.0.
"""

from __future__ import annotations

import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFilter

from sanitizers.base import Limits
from sanitizers.images import ImageRebuild

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
RUNS = 5
MAT2_RUNS = 3  # each run starts a Python process; three keep the report quick
TARGET_RATIO = 1.5
MAT2_TARGET_RATIO = 1.0


@dataclass
class Row:
    name: str
    fmt: str
    megapixels: float
    bare: float
    rebuild: float
    mat2: float | None  # None: mat2 missing or it refused the file


def benign_corpus_images() -> list[Path]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t")
        return [
            CORPUS / r["relpath"]
            for r in rows
            if r["relpath"].startswith("image/") and r["category"] == "benign"
        ]


def generated_photo(directory: Path) -> Path:
    """6000x4000 with smooth shapes and sensor-like noise, saved as a camera would (q92)."""
    size = (6000, 4000)
    base = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize(size),
            Image.radial_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
        ],
    )
    noise = Image.effect_noise(size, 24).filter(ImageFilter.GaussianBlur(1))
    photo = Image.blend(base, Image.merge("RGB", [noise, noise, noise]), 0.3)
    path = directory / "generated_24mp.jpg"
    photo.save(path, quality=92)
    return path


def megapixels(path: Path) -> float:
    with Image.open(path) as im:
        return im.width * im.height * getattr(im, "n_frames", 1) / 1e6


def median_seconds(run: Callable[[Path], None], out_dir: Path, runs: int = RUNS) -> float:
    times = []
    for index in range(runs):
        out = out_dir / f"out-{index}"
        started = time.perf_counter()
        run(out)
        times.append(time.perf_counter() - started)
        out.unlink()
    return statistics.median(times)


def mat2_seconds(src: Path, work: Path, mat2: str) -> float | None:
    """Median time of ``mat2`` cleaning a copy of ``src``, or None when it refuses the file."""
    copy = work / f"mat2-input{src.suffix.lower()}"
    shutil.copyfile(src, copy)
    cleaned = copy.with_name(f"{copy.stem}.cleaned{copy.suffix}")

    def clean(out: Path) -> None:
        subprocess.run([mat2, str(copy)], check=True, capture_output=True)
        cleaned.replace(out)

    try:
        clean(work / "mat2-probe")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    return median_seconds(clean, work, MAT2_RUNS)


def measure(src: Path, work: Path, mat2: str | None) -> Row:
    sanitizer = ImageRebuild()

    def bare(out: Path) -> None:
        with Image.open(src) as im:
            im.save(out, format=im.format)

    def rebuild(out: Path) -> None:
        sanitizer.sanitize(src, out, {}, Limits())

    with Image.open(src) as im:
        fmt = im.format or "?"
    return Row(
        src.name,
        fmt,
        megapixels(src),
        median_seconds(bare, work),
        median_seconds(rebuild, work),
        None if mat2 is None else mat2_seconds(src, work, mat2),
    )


def measure_all() -> list[Row]:
    """One row per benign corpus image and one for a generated 24-megapixel photo."""
    mat2 = shutil.which("mat2")
    if mat2 is None:
        print("note: mat2 not found (apt-get install -y mat2); mat2 ratios are n/a")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        return [measure(src, work, mat2) for src in [*benign_corpus_images(), generated_photo(work)]]


def mat2_ratio(rows: list[Row]) -> float | None:
    """Rebuild time / mat2 time, summed over the files mat2 cleaned."""
    cleaned = [r for r in rows if r.mat2 is not None]
    return sum(r.rebuild for r in cleaned) / sum(r.mat2 or 0 for r in cleaned) if cleaned else None


def print_table(rows: list[Row]) -> None:
    print(
        f"{'file':44} {'fmt':5} {'MP':>6} {'bare s/MP':>10} {'rebuild s/MP':>13} {'ratio':>6} | "
        f"{'mat2 s/MP':>10} {'ratio':>6}"
    )
    for r in rows:
        mat2 = "n/a" if r.mat2 is None else f"{r.mat2 / r.megapixels:.4f}"
        mat2_ratio_text = "n/a" if r.mat2 is None else f"{r.rebuild / r.mat2:.2f}"
        print(
            f"{r.name[:44]:44} {r.fmt:5} {r.megapixels:6.2f} {r.bare / r.megapixels:10.4f} "
            f"{r.rebuild / r.megapixels:13.4f} {r.rebuild / r.bare:6.2f} | {mat2:>10} {mat2_ratio_text:>6}"
        )
    total_mp = sum(r.megapixels for r in rows)
    total_bare, total_rebuild = sum(r.bare for r in rows), sum(r.rebuild for r in rows)
    ratio, versus_mat2 = total_rebuild / total_bare, mat2_ratio(rows)
    print(
        f"{'TOTAL':44} {'':5} {total_mp:6.2f} {total_bare / total_mp:10.4f} "
        f"{total_rebuild / total_mp:13.4f} {ratio:6.2f} | {'':>10} "
        f"{'n/a' if versus_mat2 is None else f'{versus_mat2:.2f}':>6}"
    )
    print(f"target ratio <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    if versus_mat2 is not None:
        cleaned = sum(r.mat2 is not None for r in rows)
        print(
            f"target ratio to mat2 <= {MAT2_TARGET_RATIO} (over the {cleaned} files mat2 cleaned): "
            f"{'met' if versus_mat2 <= MAT2_TARGET_RATIO else 'NOT met'}"
        )


def main() -> int:
    print_table(measure_all())
    return 0


if __name__ == "__main__":
    sys.exit(main())
