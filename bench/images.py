"""Image rebuild cost: seconds per megapixel, as a ratio to a bare Pillow open + save.

Run from the repository root: ``.venv/bin/python bench/images.py``.  Inputs are the
benign images of ../shared/corpus/image (when present) plus a generated 24-megapixel
photo-like JPEG.  Each measurement is the median of several runs; the table ends with
the totals over all inputs (time summed, megapixels summed).
"""

from __future__ import annotations

import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageFilter

from sanitizers.base import Limits
from sanitizers.images import ImageRebuild

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
RUNS = 5
TARGET_RATIO = 1.5


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


def median_seconds(run: Callable[[Path], None], out_dir: Path) -> float:
    times = []
    for index in range(RUNS):
        out = out_dir / f"out-{index}"
        started = time.perf_counter()
        run(out)
        times.append(time.perf_counter() - started)
        out.unlink()
    return statistics.median(times)


def main() -> int:
    sanitizer = ImageRebuild()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = [*benign_corpus_images(), generated_photo(work)]
        print(f"{'file':44} {'fmt':5} {'MP':>6} {'bare s/MP':>10} {'rebuild s/MP':>13} {'ratio':>6}")
        total_mp = total_bare = total_rebuild = 0.0
        for src in inputs:

            def bare(out: Path, src: Path = src) -> None:
                with Image.open(src) as im:
                    im.save(out, format=im.format)

            def rebuild(out: Path, src: Path = src) -> None:
                sanitizer.sanitize(src, out, {}, Limits())

            mp = megapixels(src)
            bare_s, rebuild_s = median_seconds(bare, work), median_seconds(rebuild, work)
            with Image.open(src) as im:
                fmt = im.format or "?"
            total_mp, total_bare, total_rebuild = (
                total_mp + mp,
                total_bare + bare_s,
                total_rebuild + rebuild_s,
            )
            print(
                f"{src.name[:44]:44} {fmt:5} {mp:6.2f} {bare_s / mp:10.4f} {rebuild_s / mp:13.4f} {rebuild_s / bare_s:6.2f}"
            )
        ratio = total_rebuild / total_bare
        print(
            f"{'TOTAL':44} {'':5} {total_mp:6.2f} {total_bare / total_mp:10.4f} {total_rebuild / total_mp:13.4f} {ratio:6.2f}"
        )
        print(f"target ratio <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
