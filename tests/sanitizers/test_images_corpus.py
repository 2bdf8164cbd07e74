"""The image folder of the shared corpus gets the verdicts of fixtures/images_corpus.toml,
and every pixel bomb is refused by its limit while the process stays small."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import tomllib
import zlib
from pathlib import Path

import pytest
from PIL import Image

from sanitizers.base import Limits
from sanitizers.pipeline import Rule, process_file
from sanitizers.registry import default_registry
from tests.conftest import CORPUS, corpus_manifest, require_corpus
from tests.sanitizers.contract import assert_judged_again_unchanged
from tests.sanitizers.test_images import assert_no_metadata, png_chunk

require_corpus()
pytestmark = pytest.mark.corpus

REPOSITORY = Path(__file__).parents[2]
IMAGES = CORPUS / "image"
TABLE: dict[str, dict[str, object]] = tomllib.loads(
    (REPOSITORY / "fixtures" / "images_corpus.toml").read_text(encoding="utf-8")
)
IMAGE_TYPES = ("jpeg", "png", "gif", "tiff", "bmp", "webp")
MEMORY_CEILING_KIB = 500 * 1024


class RebuildImages:
    def rule_for(self, type_name: str) -> Rule | None:
        return Rule(("rebuild",)) if type_name in IMAGE_TYPES else None


def test_table_covers_the_image_folder() -> None:
    assert sorted(TABLE) == sorted(p.name for p in IMAGES.iterdir())


@pytest.mark.parametrize("name", sorted(TABLE))
def test_corpus_image_verdict(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"  # anything written to the temp dir would show up here
    scratch = tmp_path / "scratch"
    temp.mkdir()
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))

    outcome = process_file(IMAGES / name, name, scratch, RebuildImages(), Limits(), default_registry())

    expected = TABLE[name]
    if expected["verdict"] == "rejected":
        assert (outcome.verdict, outcome.reason and outcome.reason.code) == ("rejected", expected["code"])
        assert list(scratch.iterdir()) == []
    else:
        assert outcome.reason is None and outcome.verdict == "released"
        assert sorted(f.construct for f in outcome.findings if f.action == "removed") == expected["removed"]
        assert [p.name for p in scratch.iterdir()] == ["output-rebuild"]
        assert outcome.output is not None and outcome.output.type is not None
        assert_no_metadata((scratch / "output-rebuild").read_bytes(), outcome.output.type)
    assert list(temp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch", "tmp"]
    if outcome.verdict == "released":
        assert_judged_again_unchanged(
            outcome, RebuildImages(), Limits(), default_registry(), tmp_path / "again"
        )


# --- pixel bombs, in a process of their own so that its peak memory is theirs alone -----


def png_pixel_bomb() -> bytes:
    """20000 x 20000 bilevel, all zero: 50 MB of rows in a few kilobytes."""
    side = 20_000
    row = b"\0" * (1 + side // 8)
    squeeze = zlib.compressobj(9)
    idat = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    ihdr = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def gif_many_canvases_bomb() -> bytes:
    """A 1000 x 1000 canvas with 300 one-pixel frames: each is decoded to a full canvas."""
    one_pixel_frame = b"\x2c" + bytes(4) + (1).to_bytes(2, "little") * 2 + b"\x00\x02\x02\x44\x01\x00"
    screen = (1000).to_bytes(2, "little") * 2 + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    return b"GIF89a" + screen + one_pixel_frame * 300 + b"\x3b"


def gif_frame_count_bomb() -> bytes:
    frames = [Image.new("L", (1, 1), 255 * (index % 2)) for index in range(600)]  # all distinct
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def jpeg_declared_bomb() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    jpeg = bytearray(out.getvalue())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = (60_000).to_bytes(2, "big") * 2
    return bytes(jpeg)


def webp_declared_bomb() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "WEBP", lossless=True)
    webp = bytearray(out.getvalue())
    bits = int.from_bytes(webp[21:25], "little")
    webp[21:25] = ((bits & ~0xFFFFFFF) | 16_383 - 1 | (16_383 - 1) << 14).to_bytes(4, "little")
    return bytes(webp)


def tiff_declared_bomb() -> bytes:
    """Width and length tags set to 65535 in a small bilevel TIFF."""
    out = io.BytesIO()
    Image.new("1", (8, 8)).save(out, "TIFF")
    tiff = bytearray(out.getvalue())
    ifd = int.from_bytes(tiff[4:8], "little")
    for entry in range(int.from_bytes(tiff[ifd : ifd + 2], "little")):
        at = ifd + 2 + 12 * entry
        if int.from_bytes(tiff[at : at + 2], "little") in (256, 257):
            tiff[at + 8 : at + 10] = (65_535).to_bytes(2, "little")
    return bytes(tiff)


GENERATED_BOMBS = {
    "png_pixel_bomb.png": png_pixel_bomb,
    "gif_many_canvases_bomb.gif": gif_many_canvases_bomb,
    "gif_frame_count_bomb.gif": gif_frame_count_bomb,
    "jpeg_declared_bomb.jpg": jpeg_declared_bomb,
    "webp_declared_bomb.webp": webp_declared_bomb,
    "tiff_declared_bomb.tif": tiff_declared_bomb,
}

CHILD = """
import json, os, resource, sys
from pathlib import Path
from sanitizers.base import Limits
from sanitizers.pipeline import Rule, process_file
from sanitizers.registry import default_registry

class RebuildImages:
    def rule_for(self, type_name):
        return Rule(("rebuild",)) if type_name in ("jpeg", "png", "gif", "tiff", "bmp", "webp") else None

scratch = Path(sys.argv[1])
codes = {}
for path in map(Path, sys.argv[2:]):
    outcome = process_file(path, path.name, scratch, RebuildImages(), Limits(), default_registry())
    codes[path.name] = outcome.reason.code if outcome.reason else outcome.verdict
print(json.dumps({"codes": codes, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_every_pixel_bomb_is_refused_by_its_limit_in_little_memory(tmp_path: Path) -> None:
    corpus_bombs = [
        CORPUS / row["relpath"]
        for row in corpus_manifest()
        if row["relpath"].startswith("image/") and row["category"] == "bomb"
    ]
    generated = []
    for name, build in GENERATED_BOMBS.items():
        (tmp_path / name).write_bytes(build())
        generated.append(tmp_path / name)
    scratch, temp = tmp_path / "scratch", tmp_path / "tmp"
    scratch.mkdir()
    temp.mkdir()

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(scratch), *map(str, corpus_bombs + generated)],
        cwd=REPOSITORY,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(temp), "PYTHONPATH": str(REPOSITORY)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(child.stdout)

    assert len(corpus_bombs) >= 4
    assert result["codes"] == {path.name: "image.limit" for path in corpus_bombs + generated}
    assert result["peak_kib"] < MEMORY_CEILING_KIB
    assert list(scratch.iterdir()) == [] and list(temp.iterdir()) == []
