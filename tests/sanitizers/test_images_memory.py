"""Large images: decoded within the worker's memory, or refused by their headers (image.limit).

The large cases run in a forked child under the worker's address-space limit, as the
gateway's workers and the fuzz oracle do, so that "fits" means it really fits.
"""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sanitizers.base import Limits, MiB
from sanitizers.errors import SanitizeError
from sanitizers.images import ImageRebuild

A0_AT_300_DPI = (9933, 14043)  # 841 x 1189 mm: 139 Mpx


def _vm_mib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    raise AssertionError(field)


def in_child(work: Callable[[], dict[str, object]], address_space: int | None = None) -> dict[str, object]:
    """``work()`` in a forked child, capped at ``address_space`` bytes when given, so that
    neither its memory nor a failure stays in the test process."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # never returns into pytest
        try:
            os.close(read_end)
            if address_space is not None:
                resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
            with os.fdopen(write_end, "w") as pipe:
                json.dump(work(), pipe)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    assert payload, "the child died without a result"
    result: dict[str, object] = json.loads(payload)
    return result


def sanitize_in_worker(src: Path, dst: Path, limits: Limits, **options: str) -> dict[str, object]:
    """Sanitise under the worker's address-space limit: {"outcome": "released", a reason
    code or "MemoryError", "grown_mib": what the address space grew by at its peak}."""

    def sanitize() -> dict[str, object]:
        base = _vm_mib("VmSize")
        try:
            ImageRebuild().sanitize(src, dst, options, limits)
            outcome = "released"
        except SanitizeError as exc:
            outcome = exc.code
        except MemoryError:
            outcome = "MemoryError"
        return {"outcome": outcome, "grown_mib": _vm_mib("VmPeak") - base}

    return in_child(sanitize, limits.worker_memory)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def png_header_only(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    """A well-framed PNG declaring ``width`` x ``height`` whose data stops after one row."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    row = b"\0" * (1 + width * bit_depth * {0: 1, 2: 3, 3: 1}[colour_type] // 8)
    palette = _chunk(b"PLTE", bytes(range(3))) if colour_type == 3 else b""
    idat = _chunk(b"IDAT", zlib.compress(row))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + palette + idat + _chunk(b"IEND", b"")


def _size_of(path: Path) -> tuple[int, int]:
    Image.MAX_IMAGE_PIXELS = None
    with Image.open(path) as image:
        return image.size


def a0_drawing(mode: str) -> Image.Image:
    """Grid lines on white, as a scanned plan is: tiny once compressed."""
    image = Image.new(mode, A0_AT_300_DPI, "white" if mode != "1" else 1)
    stripe = Image.new(mode, (4, A0_AT_300_DPI[1]), "blue" if mode == "RGB" else 0)
    for x in range(0, A0_AT_300_DPI[0], 300):
        image.paste(stripe, (x, 0))
    return image


@pytest.mark.parametrize(
    ("mode", "name", "save"),
    [
        ("1", "plan.tif", {"compression": "group4"}),
        ("L", "plan.png", {}),
        ("RGB", "plan.jpg", {"quality": 85}),
    ],
    ids=["bilevel-tiff", "greyscale-png", "colour-jpeg"],
)
def test_an_a0_drawing_scanned_at_300_dpi_is_released_within_the_worker_memory(
    tmp_path: Path, mode: str, name: str, save: dict[str, Any]
) -> None:
    src, dst = tmp_path / name, tmp_path / "out"

    def draw() -> dict[str, object]:
        Image.MAX_IMAGE_PIXELS = None  # in the child only: the sanitiser sets its own
        a0_drawing(mode).save(src, **save)
        return {}

    in_child(draw)
    result = sanitize_in_worker(src, dst, Limits())
    assert result["outcome"] == "released"
    assert in_child(lambda: {"size": list(_size_of(dst))})["size"] == list(A0_AT_300_DPI)
    # the model the limit is built on: decoded pixels held at most twice at once
    decoded_mib = A0_AT_300_DPI[0] * A0_AT_300_DPI[1] * (4 if mode == "RGB" else 1) // MiB
    assert int(str(result["grown_mib"])) < 2 * decoded_mib + 64, result


def test_an_image_the_worker_could_not_hold_is_refused_by_its_header(tmp_path: Path) -> None:
    # 240 Mpx is under max_pixels, but 240 Mpx of RGB (4 bytes each in Pillow) is not under
    # what 2 GiB leaves for pixels held twice
    src = tmp_path / "huge.png"
    src.write_bytes(png_header_only(15_500, 15_500, 8, 2))
    assert Limits().max_pixels > 15_500**2
    result = sanitize_in_worker(src, tmp_path / "out", Limits())
    assert result["outcome"] == "image.limit"
    assert int(str(result["grown_mib"])) < 32, "refused before decoding"
    assert not (tmp_path / "out").exists()


def test_a_huge_bilevel_image_is_refused_by_max_pixels(tmp_path: Path) -> None:
    src = tmp_path / "huge.png"
    src.write_bytes(png_header_only(20_000, 20_000, 1, 0))  # 400 Mpx, 50 MB of bits
    result = sanitize_in_worker(src, tmp_path / "out", Limits())
    assert result["outcome"] == "image.limit"


def _room_for(pixel_bytes: int) -> Limits:
    """Limits whose worker memory leaves about ``pixel_bytes`` for decoded pixels."""
    return Limits(worker_memory=256 * MiB + 2 * pixel_bytes)


def _encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def test_a_conversion_is_counted_at_the_size_it_writes(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    src.write_bytes(_encoded(Image.new("P", (2000, 1000)), "PNG"))  # 2 MB as a palette
    limits = _room_for(4 * MiB)
    ImageRebuild().sanitize(src, tmp_path / "same.png", {}, limits)
    with pytest.raises(SanitizeError) as caught:  # 8 MB as the RGB a JPEG needs
        ImageRebuild().sanitize(src, tmp_path / "out.jpg", {"output_format": "jpeg"}, limits)
    assert caught.value.code == "image.limit"
    assert "worker_memory" in caught.value.detail
    assert not (tmp_path / "out.jpg").exists()


@pytest.mark.parametrize(("mode", "released"), [("L", True), ("I;16", False), ("RGB", False)])
def test_bytes_per_pixel_follow_the_mode(tmp_path: Path, mode: str, released: bool) -> None:
    src = tmp_path / "in.tif"
    blank = Image.new(mode, (3000, 1000))  # 3, 6 and 12 MB decoded
    src.write_bytes(_encoded(blank, "TIFF", compression="tiff_adobe_deflate"))
    dst = tmp_path / "out.tif"
    limits = _room_for(4 * MiB)
    if released:
        ImageRebuild().sanitize(src, dst, {}, limits)
        assert dst.exists()
    else:
        with pytest.raises(SanitizeError) as caught:
            ImageRebuild().sanitize(src, dst, {}, limits)
        assert caught.value.code == "image.limit"


def test_the_input_itself_counts_against_the_memory(tmp_path: Path) -> None:
    src = tmp_path / "in.bmp"
    src.write_bytes(_encoded(Image.new("L", (1000, 1000)), "BMP"))  # 1 MB of pixels, 1 MB of file
    ImageRebuild().sanitize(src, tmp_path / "fits.bmp", {}, _room_for(2 * MiB))
    with pytest.raises(SanitizeError) as caught:  # room for the pixels, not for them and the file
        ImageRebuild().sanitize(src, tmp_path / "out.bmp", {}, _room_for(MiB))
    assert caught.value.code == "image.limit"
