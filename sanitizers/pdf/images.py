"""Image XObjects whose samples the rebuild would otherwise copy without a decoder's look.

* JPEG 2000 (``/JPXDecode``) is decoded by Pillow (OpenJPEG) within the pixel limit and
  written back as Flate-compressed 8-bit samples, its alpha channel as a soft mask: a
  JPEG 2000 file is a box container that can carry anything, and nothing of it is kept.
* JBIG2 and CCITT fax images are decoded by PDFium and written back as CCITT G4
  (``bilevel.py``).
* Samples under LZW, run-length or ASCII filters are decoded and written back
  Flate-compressed, without what follows the end-of-data marker of each filter.
* JPEG (``/DCTDecode``) is kept as it is up to its end-of-image marker, found by the image
  sanitiser's structural walk; what follows it (an appended archive or executable) goes.
  A JPEG whose framing is broken is refused.
* Flate-compressed samples are inflated; data after the end of the zlib stream goes, by
  writing the samples back from what was inflated.
* Samples beyond what the image's size asks for go too, where its colour space tells how
  many that is.

Any other codec, or an image that does not decode, refuses the rebuild so that the
rule's next method (画像化) runs; nothing is copied undecoded.

Residual risk, stated plainly: the samples themselves are kept, and lossless samples can
spell any bytes.
"""

from __future__ import annotations

import io
import warnings
import zlib
from collections.abc import Iterable, Mapping

import pikepdf
from PIL import Image, features

from sanitizers.base import Limits
from sanitizers.errors import LimitError, MalformedError
from sanitizers.images.scan import scan_structure
from sanitizers.pdf.bilevel import BILEVEL_CODECS, JBIG2, BilevelImage, decoded_bits, group4_entries
from sanitizers.pdf.clean import Tally
from sanitizers.pdf.limits import FILTER_EXPANSION, FLATE, decode_within_limit, filter_names, has_predictor
from sanitizers.pdf.values import entries_of, int_of, name_of, printable

DCT = frozenset({"/DCTDecode", "/DCT"})
#: What a JPEG may be followed by inside its stream without it counting as hidden data.
PADDING = b" \t\r\n\f\0"
_DEVICE_SPACES = {"L": "/DeviceGray", "RGB": "/DeviceRGB", "CMYK": "/DeviceCMYK"}
_COMPONENTS = {"/DeviceGray": 1, "/DeviceRGB": 3, "/DeviceCMYK": 4, "/CalGray": 1, "/CalRGB": 3, "/Lab": 3}


def image_refusal(detail: str) -> MalformedError:
    """The rebuild cannot keep this image; the rule's next method (画像化) can."""
    return MalformedError("pdf.malformed", f"embedded image: {detail}")


def rewrite_images(pdf: pikepdf.Pdf, images: Iterable[pikepdf.Stream], limits: Limits, tally: Tally) -> None:
    done: set[tuple[int, int]] = set()
    bilevel: list[tuple[pikepdf.Stream, BilevelImage]] = []
    for image in images:
        if image.objgen in done:
            continue
        done.add(image.objgen)
        filters = filter_names(image)
        if filters is None:
            raise image_refusal("a /Filter that is not made of names")
        if not filters:
            _cut_samples(image, image.read_raw_bytes())
            continue
        codec, outer = filters[-1], filters[:-1]
        if any(f not in FILTER_EXPANSION for f in outer):
            raise image_refusal(f"an image codec before {printable(codec)}")
        if codec in FILTER_EXPANSION:
            _rewrite_samples(image, filters, limits, tally)
        elif codec == "/JPXDecode":
            _rewrite_jpx(pdf, image, _codec_input(image, outer, limits), limits)
            tally.add("pdf.image_container", "JPEG 2000 image decoded and re-encoded")
        elif codec in BILEVEL_CODECS:
            bilevel.append((image, _bilevel_image(image, codec, _codec_input(image, outer, limits))))
        elif codec in DCT:
            _trim_jpeg(image, _codec_input(image, outer, limits), tally)
        else:
            raise image_refusal(f"the image codec {printable(codec)}")
    _rewrite_bilevel(bilevel, limits, tally)


def _rewrite_samples(image: pikepdf.Stream, filters: list[str], limits: Limits, tally: Tally) -> None:
    """Samples under general-purpose filters only: a lone Flate stream that ends where its
    data does, holding no more samples than the image shows, is kept; any other is decoded
    and written back Flate-compressed."""
    plain_flate = len(filters) == 1 and filters[0] in FLATE
    if plain_flate and _is_bare_flate(image, limits):
        return
    samples = decode_within_limit(image, limits.max_stream_size)
    if samples is None:
        raise image_refusal(f"{'/'.join(printable(f) for f in filters)} samples that qpdf cannot decode")
    image.write(zlib.compress(needed_samples(image, samples)), filter=pikepdf.Name.FlateDecode)
    if plain_flate:
        tally.add("pdf.trailing_data", "data after the end of an image's samples")
    else:
        tally.add("pdf.image_container", "LZW, run-length or ASCII-encoded image decoded and re-encoded")


def _cut_samples(image: pikepdf.Stream, samples: bytes) -> None:
    needed = needed_samples(image, samples)
    if len(needed) < len(samples):
        image.write(needed)


def needed_samples(image: pikepdf.Object | Mapping[str, object], samples: bytes) -> bytes:
    """``samples`` without what follows the image's last row, when its colour space tells
    how many components a pixel has; never lengthened."""
    width, height = int_of(image.get("/Width")), int_of(image.get("/Height"))
    components: int | None = 1
    bits: int | None = 1
    if not is_image_mask(image):
        components, bits = _components(image.get("/ColorSpace")), int_of(image.get("/BitsPerComponent"))
    if width is None or height is None or components is None or bits not in (1, 2, 4, 8, 16):
        return samples
    return samples[: (width * components * bits + 7) // 8 * height]


def is_image_mask(image: pikepdf.Object | Mapping[str, object]) -> bool:
    mask: object = image.get("/ImageMask")
    return mask is True


def _components(space: object) -> int | None:
    """Colour components of a colour space, or None when it cannot be told here."""
    family = name_of(space)
    if family is not None:
        return _COMPONENTS.get(family)
    if not isinstance(space, pikepdf.Array) or not len(space):
        return None
    family = name_of(space[0])
    if family in ("/Indexed", "/Separation"):
        return 1
    if family == "/DeviceN" and len(space) > 1 and isinstance(space[1], pikepdf.Array):
        return len(space[1])
    if family == "/ICCBased" and len(space) > 1 and isinstance(space[1], pikepdf.Stream):
        return int_of(space[1].get("/N"))
    return _COMPONENTS.get(family or "")


def _bilevel_image(image: pikepdf.Stream, codec: str, untrusted_data: bytes) -> BilevelImage:
    width, height = int_of(image.get("/Width")), int_of(image.get("/Height"))
    if width is None or height is None or width < 1 or height < 1:
        raise image_refusal(f"a {printable(codec)} image without a size")
    bits = int_of(image.get("/BitsPerComponent"))
    if not is_image_mask(image) and bits != 1:
        raise image_refusal(f"a {printable(codec)} image of {bits} bits per component")
    return BilevelImage(codec, untrusted_data, _codec_parms(image), width, height)


def _rewrite_bilevel(images: list[tuple[pikepdf.Stream, BilevelImage]], limits: Limits, tally: Tally) -> None:
    decoded = decoded_bits([source for _, source in images], limits)
    for (image, source), bits in zip(images, decoded, strict=True):
        kind = "JBIG2" if source.codec == JBIG2 else "CCITT fax"
        if bits is None:
            raise image_refusal(f"a {kind} image that PDFium cannot decode")
        data, codec, parms = group4_entries(bits)
        if data == source.untrusted_data and _same_entries(parms, source.parms):
            continue  # G4 as libtiff writes it already: what the rebuild would write
        image.write(data, filter=codec, decode_parms=parms)
        tally.add("pdf.image_container", f"{kind} image decoded and re-encoded")


def _same_entries(written: pikepdf.Object | None, untrusted: pikepdf.Object | None) -> bool:
    if not isinstance(written, pikepdf.Dictionary) or not isinstance(untrusted, pikepdf.Dictionary):
        return written is None and untrusted is None
    return entries_of(written) == entries_of(untrusted)


def _codec_input(image: pikepdf.Stream, outer: list[str], limits: Limits) -> bytes:
    """The stream with its general-purpose filters undone: the codec's own data."""
    raw = image.read_raw_bytes()
    if not outer:
        return raw
    bound = len(raw)
    for name in outer:
        bound = int(bound * FILTER_EXPANSION[name])
    if bound > limits.max_stream_size:
        raise LimitError("pdf.limit", f"an image stream may decode beyond {limits.max_stream_size} bytes")
    # qpdf decodes a chain whole or not at all: the general filters alone, on a copy
    parms = image.get("/DecodeParms")
    outer_parms = list(parms)[: len(outer)] if isinstance(parms, pikepdf.Array) else []
    with pikepdf.Pdf.new() as scratch:
        copy = scratch.make_stream(raw, Filter=pikepdf.Array([pikepdf.Name(f) for f in outer]))
        if any(isinstance(p, pikepdf.Dictionary) for p in outer_parms):
            copy.DecodeParms = pikepdf.Array(
                [scratch.copy_foreign(p) if isinstance(p, pikepdf.Dictionary) else None for p in outer_parms]
            )
        try:
            return copy.read_bytes()
        except pikepdf.PdfError as exc:
            raise image_refusal(f"filters that do not decode: {type(exc).__name__}") from None


def _trim_jpeg(image: pikepdf.Stream, untrusted_jpeg: bytes, tally: Tally) -> None:
    scan = scan_structure("jpeg", untrusted_jpeg)
    if scan.damage is not None or scan.end is None:
        raise image_refusal(f"a JPEG that does not parse: {scan.damage}")
    if untrusted_jpeg[scan.end :].strip(PADDING) or len(filter_names(image) or []) > 1:
        image.write(
            untrusted_jpeg[: scan.end], filter=pikepdf.Name.DCTDecode, decode_parms=_codec_parms(image)
        )
        if untrusted_jpeg[scan.end :].strip(PADDING):
            tally.add("pdf.trailing_data", "data after the end of a JPEG image")


def _codec_parms(image: pikepdf.Stream) -> pikepdf.Dictionary | None:
    """The /DecodeParms of the image's codec, the last filter (DCT's /ColorTransform,
    CCITT's coding, JBIG2's globals), if any."""
    parms = image.get("/DecodeParms")
    if isinstance(parms, pikepdf.Array):
        parms = parms[len(parms) - 1] if len(parms) else None
    return parms if isinstance(parms, pikepdf.Dictionary) else None


def _is_bare_flate(image: pikepdf.Stream, limits: Limits) -> bool:
    """True when nothing follows the zlib stream and its samples end with the image's last
    row (rows under a predictor are not counted); corrupt data counts as bare, since qpdf
    keeps what inflates, as readers do, and nothing after it is shown."""
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(image.read_raw_bytes(), limits.max_stream_size + 1)
    except zlib.error:
        return True
    if inflater.unconsumed_tail:
        raise LimitError("pdf.limit", f"an image stream decodes beyond {limits.max_stream_size} bytes")
    if inflater.unused_data.strip(PADDING):
        return False
    return has_predictor(image) or len(needed_samples(image, inflated)) == len(inflated)


def _rewrite_jpx(pdf: pikepdf.Pdf, image: pikepdf.Stream, untrusted_jpx: bytes, limits: Limits) -> None:
    if not features.check("jpg_2000"):
        raise image_refusal("a JPEG 2000 image, and Pillow has no JPEG 2000 decoder here")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(untrusted_jpx), formats=["JPEG2000"]) as opened:
                width, height = opened.size
                if width * height > limits.max_pixels:
                    raise LimitError(
                        "pdf.limit",
                        f"a JPEG 2000 image of {width}×{height} exceeds max_pixels {limits.max_pixels}",
                    )
                opened.load()
                decoded = opened.copy()
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise image_refusal(f"a JPEG 2000 image that does not decode: {type(exc).__name__}") from None
    if decoded.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        raise image_refusal(f"a JPEG 2000 image of mode {decoded.mode}")
    alpha = decoded.getchannel("A") if decoded.mode in ("LA", "RGBA") else None
    colour = decoded.convert(decoded.mode.removesuffix("A")) if alpha is not None else decoded
    space = _kept_colour_space(image, len(colour.getbands())) or pikepdf.Name(_DEVICE_SPACES[colour.mode])
    wants_alpha = int_of(image.get("/SMaskInData")) in (1, 2) and "/SMask" not in image
    image.write(zlib.compress(colour.tobytes()), filter=pikepdf.Name.FlateDecode)
    for key in ("/SMaskInData", "/Decode", "/DecodeParms"):
        if key in image:
            del image[key]
    image.Width, image.Height, image.BitsPerComponent, image.ColorSpace = width, height, 8, space
    if alpha is not None and wants_alpha:
        image.SMask = _soft_mask(pdf, alpha)


def _kept_colour_space(image: pikepdf.Stream, components: int) -> pikepdf.Object | None:
    """The image's own /ColorSpace where it fits the decoded samples, else None."""
    space = image.get("/ColorSpace")
    if space is None:
        return None
    family = name_of(space) or (
        name_of(space[0]) if isinstance(space, pikepdf.Array) and len(space) else None
    )
    if family == "/Indexed":
        raise image_refusal("an indexed JPEG 2000 image")
    if family == "/ICCBased" and isinstance(space, pikepdf.Array) and len(space) > 1:
        count = int_of(space[1].get("/N")) if isinstance(space[1], pikepdf.Stream) else None
    else:
        count = _COMPONENTS.get(family or "")
    return space if count == components else None


def _soft_mask(pdf: pikepdf.Pdf, alpha: Image.Image) -> pikepdf.Stream:
    return pdf.make_stream(
        zlib.compress(alpha.tobytes()),
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=alpha.width,
        Height=alpha.height,
        ColorSpace=pikepdf.Name.DeviceGray,
        BitsPerComponent=8,
        Filter=pikepdf.Name.FlateDecode,
    )
