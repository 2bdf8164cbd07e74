"""Image CDR: decode to pixels under limits, write a new file from the pixels alone.

Only the pixels (and what they need to look right: palette, transparency, density, a
valid colour profile, frame timing) reach the output, so every kind of metadata,
trailing data and polyglot payload is left behind without having to be recognised.
The structural scan in :mod:`sanitizers.images.scan` names what was left behind.
"""

from __future__ import annotations

import io
import numbers
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from PIL import ExifTags, Image, ImageCms, ImageFile, JpegImagePlugin, TiffImagePlugin

from sanitizers.base import Limits, MiB, Options, OptionSpec, Report, Sanitizer
from sanitizers.errors import DetectionError, LimitError, MalformedError, VerifyError
from sanitizers.images.scan import ICC_PROFILE, OTHER_METADATA, Scan, scan_structure, scan_tiff_tags

IMAGE_TYPES: tuple[str, ...] = ("jpeg", "png", "gif", "tiff", "bmp", "webp")
_PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP"}
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"BM", "bmp"),
)
#: Formats holding one image: further pictures (MPO) are data behind the first image.
_SINGLE_IMAGE = frozenset({"jpeg", "bmp"})
#: Formats whose frames all share one canvas (TIFF pages each have their own size).
_ONE_CANVAS = frozenset({"gif", "png", "webp"})
#: Sources whose pixels are exact, so a WebP made from them is written lossless.
_LOSSLESS_SOURCES = frozenset({"png", "gif", "tiff", "bmp"})
_WRITABLE_MODES: dict[str, frozenset[str]] = {
    "jpeg": frozenset({"L", "RGB", "CMYK"}),
    "png": frozenset({"1", "L", "LA", "I;16", "P", "RGB", "RGBA"}),
    "gif": frozenset({"1", "L", "P", "RGB", "RGBA"}),  # the GIF writer builds palettes itself
    "tiff": frozenset(TiffImagePlugin.SAVE_INFO),
    "bmp": frozenset({"1", "L", "P", "RGB", "RGBA"}),
    "webp": frozenset({"RGB", "RGBA"}),
}
_ICC_TARGETS = frozenset({"jpeg", "png", "tiff", "webp"})
_DPI_TARGETS = frozenset({"jpeg", "png", "tiff", "bmp"})
#: TIFF compressions re-used when the source has one (the sender's choice of size and speed).
_TIFF_LOSSLESS = frozenset({"raw", "packbits", "tiff_lzw", "tiff_adobe_deflate"})
#: The ICC colour space each pixel mode needs; a profile for another space is dropped.
_ICC_SPACE = {
    **dict.fromkeys(("RGB", "RGBA", "RGBX", "P", "PA"), "RGB"),
    **dict.fromkeys(("1", "L", "LA", "I;16", "I", "F"), "GRAY"),
    "CMYK": "CMYK",
}
_MAX_ICC_SIZE = 4 * MiB
_DPI_RANGE = (1.0, 10_000.0)
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: What Pillow raises on damaged input besides its bomb error (UnidentifiedImageError is an OSError).
_DAMAGE = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)

#: Bytes Pillow keeps a pixel in, by mode (a 1-bit pixel takes a byte); every other mode, 4.
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
#: Address space a worker needs besides pixels and the input: the interpreter with the
#: parsers loaded (about 110 MiB), decoder and encoder buffers.
_WORKER_BASELINE = 256 * MiB
#: Decoded pixels are held at most twice at once: beside their conversion or orientation
#: turn, or, once the frames are let go, as the output read back beside its bytes (an
#: uncompressed BMP or TIFF is as large as its pixels).  Measured on a 139 Mpx RGB PNG:
#: 1.2 GiB at the peak for 0.5 GiB of pixels.
_COPIES_HELD = 2

# Pillow's bomb threshold and the warnings filter are process-wide: one call at a time sets them.
_PILLOW_SETTINGS = threading.Lock()


@dataclass
class _Decoded:
    """Pixels and the few properties the rebuild carries over."""

    frames: list[Image.Image] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    loop: int | None = None
    icc_profile: object = None  # untrusted until _usable_icc has looked at it
    dpi: tuple[float, float] | None = None
    jpeg_subsampling: int = 2  # 4:2:0 unless the source says otherwise
    tiff_compression: object = None
    frames_dropped: int = 0


@dataclass(frozen=True)
class _PixelBudget:
    """``max_pixels``, and the share of ``worker_memory`` decoded pixels may take, so that an
    image too large to decode and re-encode in a worker is refused by its headers, never by
    running out of memory half-way."""

    max_pixels: int
    max_bytes: int

    @classmethod
    def of(cls, limits: Limits, input_size: int) -> _PixelBudget:
        room = limits.worker_memory - _WORKER_BASELINE - input_size
        return cls(limits.max_pixels, max(room, 0) // _COPIES_HELD)

    def check(self, untrusted_pixels: int, untrusted_bytes: int, what: str) -> None:
        if untrusted_pixels > self.max_pixels:
            raise LimitError("image.limit", f"{what} pixels exceeds max_pixels {self.max_pixels}")
        if untrusted_bytes > self.max_bytes:
            raise LimitError(
                "image.limit",
                f"{what} pixels take {untrusted_bytes // MiB} MiB decoded, over the "
                f"{self.max_bytes // MiB} MiB that worker_memory leaves for them",
            )


class ImageRebuild(Sanitizer):
    """Re-encode JPEG, PNG, GIF (animated too), TIFF, BMP and WebP from decoded pixels."""

    types: ClassVar[frozenset[str]] = frozenset(IMAGE_TYPES)
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "apply_orientation": OptionSpec(
            True, "turn the pixels as the EXIF orientation says, since the tag itself is removed"
        ),
        "keep_icc": OptionSpec(True, "keep an embedded ICC colour profile when it is valid"),
        "quality": OptionSpec(90, "JPEG and lossy WebP quality", minimum=1, maximum=100),
        "output_format": OptionSpec(
            "same", "write this image type instead of the input's", choices=("same", *IMAGE_TYPES)
        ),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        settings = self.resolved_options(options)
        untrusted_data = limits.read_file(untrusted_src)  # once: the scan and the decoder see the same bytes
        out = dst.open("x+b")  # never overwrite; readable too, as the TIFF page writer needs
        try:
            with out:
                return rebuild_image(untrusted_data, out, settings, limits)
        except BaseException:
            dst.unlink()
            raise


def rebuild_image(untrusted_data: bytes, out: BinaryIO, settings: Options, limits: Limits) -> Report:
    """Decode ``untrusted_data`` and write a new image of the pixels alone to ``out``, which
    must be readable and seekable (the TIFF page writer and the read-back need both).
    ``settings`` are :class:`ImageRebuild`'s resolved options."""
    source = _type_from_signature(untrusted_data)
    target = source if settings["output_format"] == "same" else str(settings["output_format"])
    scan = scan_structure(source, untrusted_data)
    budget = _PixelBudget.of(limits, len(untrusted_data))
    _check_declared_canvas(scan, budget)
    with _pillow_settings(limits.max_pixels):
        decoded = _decode(
            untrusted_data, source, target, scan, limits, budget, bool(settings["apply_orientation"])
        )
        frames = decoded.frames
        _make_writable(frames, target, same_format=source == target)
        icc = _usable_icc(decoded.icc_profile, frames[0].mode, target) if settings["keep_icc"] else None
        params = _encoder_params(target, decoded, frames, icc, int(settings["quality"]), source, scan)
        frames[0].save(out, format=_PILLOW_FORMATS[target], **params)
        frames.clear()  # the read-back decodes the output again: not beside these
        params.clear()
        out.seek(0)
        _verify_encoded(out.read(), target, icc is not None)
    return _report(target, scan, decoded, icc is not None, len(untrusted_data))


def picture_type(untrusted_data: bytes) -> str | None:
    """The image type :func:`reencode_picture` can rebuild, by signature; None otherwise."""
    try:
        return _type_from_signature(untrusted_data)
    except DetectionError:
        return None


def reencode_picture(
    untrusted_data: bytes, limits: Limits, *, apply_orientation: bool = True, quality: int | None = None
) -> tuple[bytes, Report]:
    """A picture inside a document, rebuilt in its own format from its pixels with the
    image rule's defaults: what follows the image, its metadata and any polyglot payload
    are left behind.  Raises like the image rule for what it cannot decode.

    ``apply_orientation=False`` keeps the pixels as stored, for documents whose readers
    ignore the EXIF orientation and lay the picture out in a box of its stored size (RTF,
    .doc and .ppt in LibreOffice): turning it there would squeeze it into that box.
    ``quality`` replaces the rule's JPEG quality, for a picture that must fit the room the
    old one took (.doc and .ppt rewrite pictures in place)."""
    out = io.BytesIO()
    chosen = {} if quality is None else {"quality": quality}
    settings = {**ImageRebuild().resolved_options(chosen), "apply_orientation": apply_orientation}
    report = rebuild_image(untrusted_data, out, settings, limits)
    return out.getvalue(), report


def _type_from_signature(untrusted_data: bytes) -> str:
    """The one decoder allowed to run: PSD, EPS, ICO, DjVu, MVG, SVG, ... never reach one."""
    if untrusted_data[:4] == b"RIFF" and untrusted_data[8:12] == b"WEBP":
        return "webp"
    for signature, type_name in _SIGNATURES:
        if untrusted_data.startswith(signature):
            return type_name
    raise DetectionError(
        "type.unknown", f"not a JPEG, PNG, GIF, TIFF, BMP or WebP image (starts {untrusted_data[:12]!r})"
    )


def _check_declared_canvas(scan: Scan, budget: _PixelBudget) -> None:
    """WebP's canvas, which libwebp allocates as the file is opened: before Pillow runs."""
    if scan.declared_size is not None:
        width, height = scan.declared_size
        budget.check(width * height, _webp_decoder_bytes(width * height, 1), f"{width}x{height}")


def _webp_decoder_bytes(canvas_pixels: int, frames: int) -> int:
    """libwebp's animation decoder, which Pillow uses for every WebP, keeps two RGBA canvases
    of its own and hands each frame over as a copy: counted as the frames' RGBA pixels plus
    two canvases (measured: 100 Mpx, lossless, peaks at 1.8 GiB, 18 bytes a pixel)."""
    return canvas_pixels * 4 * (frames + 2)


def _decoded_bytes(pixels: int, im: Image.Image, target: str, same_format: bool) -> int:
    """What ``pixels`` of ``im``'s mode take decoded, or converted for the target when that
    is larger (a palette becomes RGB for a JPEG: four times as much)."""
    held = _BYTES_PER_PIXEL.get(im.mode, 4)
    if same_format and im.mode in _WRITABLE_MODES[target]:
        return pixels * held
    plain = im.mode in ("1", "L") and not im.has_transparency_data  # converted to L, else RGB(A)
    return pixels * max(held, 1 if plain else 4)


@contextmanager
def _pillow_settings(max_pixels: int) -> Iterator[None]:
    """Pillow's bomb check at our pixel limit, truncation an error whatever another part of
    the process chose, and every warning (bomb or damage) an error."""
    with _PILLOW_SETTINGS, warnings.catch_warnings():
        warnings.simplefilter("error")
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = max_pixels, False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


@contextmanager
def _decoding() -> Iterator[None]:
    """Turn what Pillow raises on hostile input into refusals with reason codes."""
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LimitError("image.limit", f"max_pixels {Image.MAX_IMAGE_PIXELS}: {exc}") from None
    except Warning as exc:  # Pillow warns where it would guess: corrupt EXIF, broken MPO header, ...
        raise MalformedError("image.malformed", f"{type(exc).__name__}: {exc}") from None
    except _DAMAGE as exc:
        raise MalformedError("image.malformed", f"{type(exc).__name__}: {exc}") from None


def _decode(
    untrusted_data: bytes,
    source: str,
    target: str,
    scan: Scan,
    limits: Limits,
    budget: _PixelBudget,
    apply_orientation: bool,
) -> _Decoded:
    with _decoding(), Image.open(io.BytesIO(untrusted_data), formats=[_PILLOW_FORMATS[source]]) as im:
        wanted = _frames_within_limits(im, source, target, scan, limits, budget)
        decoded = _Decoded(
            loop=_sane_loop(im.info.get("loop")),
            icc_profile=im.info.get("icc_profile"),
            dpi=_sane_dpi(im.info.get("dpi")),
            tiff_compression=im.info.get("compression"),
            frames_dropped=0 if source in _SINGLE_IMAGE else getattr(im, "n_frames", 1) - wanted,
        )
        if source == "jpeg" and JpegImagePlugin.get_sampling(im) in (0, 1, 2):
            decoded.jpeg_subsampling = JpegImagePlugin.get_sampling(im)
        held = _webp_decoder_bytes(im.width * im.height, 0) if source == "webp" else 0
        pixels = 0
        for index in range(wanted):
            im.seek(index)
            pixels += im.width * im.height
            held += _decoded_bytes(im.width * im.height, im, target, source == target)
            budget.check(pixels, held, f"frames 1 to {index + 1}:")  # before they are allocated
            im.load()
            if isinstance(im, TiffImagePlugin.TiffImageFile):  # TIFF metadata lives in each page's tags
                scan_tiff_tags(scan, im.tag_v2.keys())
            transpose = _orientation(im) if apply_orientation else None
            decoded.frames.append(_pixels_only(im, transpose, last=index == wanted - 1))
            decoded.durations.append(_sane_duration(im.info.get("duration")))
        if source != "tiff" and ExifTags.Base.GPSInfo in im.getexif():  # TIFF tags were scanned above
            scan.found("image.gps")
        return decoded


def _frames_within_limits(
    im: Image.Image, source: str, target: str, scan: Scan, limits: Limits, budget: _PixelBudget
) -> int:
    """How many frames to decode, once the headers alone have passed the limits."""
    untrusted_frames: int = getattr(im, "n_frames", 1)
    if untrusted_frames > limits.max_frames:
        raise LimitError("image.limit", f"{untrusted_frames} frames exceeds max_frames {limits.max_frames}")
    wanted = 1 if source in _SINGLE_IMAGE or target in _SINGLE_IMAGE else untrusted_frames
    # Animation frames are each drawn on the whole canvas, so their total is known up front;
    # TIFF pages differ in size and are counted as they are decoded.
    canvases = wanted if source in _ONE_CANVAS else 1
    pixels = canvases * im.width * im.height
    held = _decoded_bytes(pixels, im, target, source == target)
    if source == "webp":
        held = max(held, _webp_decoder_bytes(im.width * im.height, canvases))
    budget.check(pixels, held, f"{canvases} x {im.width}x{im.height}")
    if scan.damage is not None:  # only now, so that a truncated bomb is refused as a bomb
        raise scan.damage
    return wanted


def _make_writable(frames: list[Image.Image], target: str, same_format: bool) -> None:
    """Each frame in a mode the target writes, replaced in place: one original at a time is
    held beside its conversion."""
    for index in range(len(frames)):
        frames[index] = _writable(frames[index], target, same_format)


def _orientation(im: Image.Image) -> Image.Transpose | None:
    untrusted_orientation = im.getexif().get(ExifTags.Base.Orientation)
    return _ORIENTATION.get(untrusted_orientation) if isinstance(untrusted_orientation, int) else None


def _pixels_only(im: ImageFile.ImageFile, transpose: Image.Transpose | None, last: bool) -> Image.Image:
    """The current frame as a plain image that keeps nothing of ``info`` but transparency."""
    if transpose is not None:
        frame = im.transpose(transpose)
    elif last:
        # Nothing decodes into this buffer again, so it can be shared instead of copied:
        # a copy of a large photo costs as much as encoding it.  (_new is what copy() uses.)
        frame = im._new(im.im)
    else:
        frame = im.copy()  # seeking on decodes the next frame over this buffer
    transparency = im.info.get("transparency")
    keyed = transparency is not None and frame.mode in ("1", "L", "P", "RGB", "I;16")
    frame.info = {"transparency": transparency} if keyed else {}
    return frame


def _sane_loop(untrusted_loop: object) -> int | None:
    if isinstance(untrusted_loop, int) and 0 <= untrusted_loop <= 0xFFFF:
        return untrusted_loop
    return None


def _sane_duration(untrusted_duration: object) -> int:
    if isinstance(untrusted_duration, int | float) and 0 <= untrusted_duration <= 0xFFFFFF:
        return int(untrusted_duration)
    return 0


def _sane_dpi(untrusted_dpi: object) -> tuple[float, float] | None:
    """Density is worth keeping (scans print at their size) when it is two plausible numbers."""
    if not isinstance(untrusted_dpi, tuple) or len(untrusted_dpi) != 2:
        return None
    low, high = _DPI_RANGE
    if all(isinstance(v, numbers.Real) and low <= float(v) <= high for v in untrusted_dpi):
        return float(untrusted_dpi[0]), float(untrusted_dpi[1])
    return None


def _writable(frame: Image.Image, target: str, same_format: bool) -> Image.Image:
    """The frame in a mode the target writes; across formats, plain L, RGB or RGBA."""
    if same_format and frame.mode in _WRITABLE_MODES[target]:
        return frame
    if frame.has_transparency_data:
        rgba = frame if frame.mode == "RGBA" else frame.convert("RGBA")
        converted = rgba if "RGBA" in _WRITABLE_MODES[target] else _flattened(rgba)
    else:
        plain = "L" if frame.mode in ("1", "L") else "RGB"
        converted = frame if frame.mode == plain else frame.convert(plain)
    converted.info = {}  # conversions may attach info of their own (LAB to RGB adds a profile)
    return converted


def _flattened(rgba: Image.Image) -> Image.Image:
    """JPEG has no alpha: show the image as it would look on paper."""
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _usable_icc(untrusted_profile: object, mode: str, target: str) -> bytes | None:
    """The profile if it parses, fits the pixels' colour space and the target can carry it."""
    if not isinstance(untrusted_profile, bytes) or len(untrusted_profile) > _MAX_ICC_SIZE:
        return None
    if target not in _ICC_TARGETS:
        return None
    try:
        parsed = ImageCms.ImageCmsProfile(io.BytesIO(untrusted_profile))
    except OSError:
        return None
    if parsed.profile.xcolor_space.strip() != _ICC_SPACE.get(mode):
        return None
    return untrusted_profile


def _encoder_params(
    target: str,
    decoded: _Decoded,
    frames: list[Image.Image],
    icc: bytes | None,
    quality: int,
    source: str,
    scan: Scan,
) -> dict[str, Any]:
    """Every encoder setting spelled out, so nothing is inherited from the source."""
    params: dict[str, Any] = {}
    if icc is not None:
        params["icc_profile"] = icc
    if decoded.dpi is not None and target in _DPI_TARGETS:
        params["dpi"] = decoded.dpi
    if target == "jpeg":
        params.update(quality=quality, subsampling=decoded.jpeg_subsampling, optimize=False)
    elif target == "png":
        params.update(optimize=False, compress_level=6)
    elif target == "tiff":
        params["compression"] = _tiff_compression(decoded.tiff_compression, frames[0].mode)
    elif target == "webp" and (scan.lossless if source == "webp" else source in _LOSSLESS_SOURCES):
        params.update(lossless=True, quality=50, method=1)  # quality is effort here: fast, ~5 % larger
    elif target == "webp":
        params.update(lossless=False, quality=quality, method=4)
    if len(frames) > 1:
        params.update(save_all=True, append_images=frames[1:], **_animation_params(target, decoded, frames))
    return params


def _tiff_compression(untrusted_compression: object, mode: str) -> str:
    if untrusted_compression in _TIFF_LOSSLESS and isinstance(untrusted_compression, str):
        return untrusted_compression
    return "group4" if mode == "1" else "tiff_adobe_deflate"


def _animation_params(target: str, decoded: _Decoded, frames: list[Image.Image]) -> dict[str, Any]:
    """Frames arrive fully composited, so each is drawn whole over a cleared or kept canvas."""
    if target == "tiff":
        return {}  # pages, not an animation
    params: dict[str, Any] = {"duration": decoded.durations}
    if decoded.loop is not None:
        params["loop"] = decoded.loop
    if target == "gif":
        # With transparency a pixel may turn clear again, which only a cleared canvas shows.
        params["disposal"] = 2 if any(frame.has_transparency_data for frame in frames) else 1
    elif target == "png":
        params.update(disposal=0, blend=0, default_image=False)  # APNG: dispose none, blend source
    return params


def verify_image(untrusted_data: bytes, image_type: str, icc_allowed: bool, limits: Limits) -> None:
    """The rebuild's read-back, for an image nobody vouches for (the gateway's verifier):
    the declared canvas and frames are held to the limits before anything is decoded, and a
    colour profile, when one may be kept at all, must be one the rebuild would keep."""
    scan = scan_structure(image_type, untrusted_data)
    budget = _PixelBudget.of(limits, len(untrusted_data))
    _check_declared_canvas(scan, budget)
    fmt = _PILLOW_FORMATS[image_type]
    with _pillow_settings(limits.max_pixels):
        with _decoding(), Image.open(io.BytesIO(untrusted_data), formats=[fmt]) as im:
            _frames_within_limits(im, image_type, image_type, scan, limits, budget)
            profile = im.info.get("icc_profile")
            if icc_allowed and profile and _usable_icc(profile, im.mode, image_type) is None:
                raise VerifyError("image.verify_failed", "a colour profile the rebuild would not keep")
        _verify_encoded(untrusted_data, image_type, icc_allowed)


def _verify_encoded(data: bytes, target: str, icc_kept: bool) -> None:
    fmt = _PILLOW_FORMATS[target]
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            im.verify()
        leftovers = scan_structure(target, data)
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            for index in range(getattr(im, "n_frames", 1)):
                im.seek(index)
                if isinstance(im, JpegImagePlugin.JpegImageFile):
                    # Scaled decoding still entropy-decodes every block, at a fraction of the cost.
                    im.draft(im.mode, (im.width // 8 or 1, im.height // 8 or 1))
                im.load()
                if isinstance(im, TiffImagePlugin.TiffImageFile):
                    scan_tiff_tags(leftovers, im.tag_v2.keys())
    except Exception as exc:  # whatever goes wrong reading our own output back is our bug
        raise VerifyError("image.verify_failed", f"output does not read back: {exc}") from None
    found = {c for c in leftovers.constructs if not (c == ICC_PROFILE and icc_kept)}
    if leftovers.damage is not None:
        raise VerifyError("image.verify_failed", f"output framing: {leftovers.damage.detail}")
    if found or leftovers.end not in (None, len(data)):
        raise VerifyError("image.verify_failed", f"output still carries {sorted(found) or 'trailing data'}")


def _report(target: str, scan: Scan, decoded: _Decoded, icc_kept: bool, size: int) -> Report:
    report = Report(output_type=target)
    for construct, count in sorted(scan.constructs.items()):
        if construct == ICC_PROFILE and icc_kept:
            continue
        location = ", ".join(sorted(scan.other_kinds)) if construct == OTHER_METADATA else None
        report.add(construct, "removed", count, location)
    if scan.end is not None and scan.end < size:
        report.add("image.trailing_data", "removed", 1, f"{size - scan.end} bytes after offset {scan.end}")
    report.add("image.frame", "dropped", decoded.frames_dropped)
    return report
