"""Inline images (``BI … ID … EI`` in content streams): decoded and written anew.

A content stream is otherwise copied as it is.  One that holds an inline image is parsed
by qpdf; each of its inline images goes through the rewriting of image XObjects
(``images.py``) as a stream of a scratch document, and the content is written back from
the parsed instructions with the new images.  Their data is written in hexadecimal over
the codec (``/F [/AHx /Fl]``, ``/DCT`` or ``/CCF``): hexadecimal digits cannot spell the
``EI`` that ends the image, which binary data can, and readers do not agree where such an
image ends.

Content that names ``BI`` but does not parse refuses the rebuild, so that the rule's next
method (画像化) runs: what follows the fault could be an image that nothing decoded.
"""

from __future__ import annotations

import re
import warnings
import zlib
from collections.abc import Iterator
from decimal import Decimal

import pikepdf

from sanitizers.base import Limits
from sanitizers.errors import LimitError
from sanitizers.pdf.clean import Tally
from sanitizers.pdf.images import image_refusal, needed_samples, rewrite_images
from sanitizers.pdf.limits import decode_within_limit, filter_names
from sanitizers.pdf.streams import is_syntax
from sanitizers.pdf.values import entries_of, int_of

#: The BI operator as a token: after a delimiter or at the start, not as the name /BI.
INLINE_IMAGE = re.compile(rb"(?<![^\s\x00\[\]<>(){}%])BI(?![^\s\x00/\[\]<>(){}%])")
#: What the rebuild writes around the codec data of an inline image.
HEX = pikepdf.Name.ASCIIHexDecode
_KEYS = {full.decode(): short for full, short in pikepdf.PdfInlineImage.REVERSE_KEY_ABBREVS.items()}
_VALUES = pikepdf.PdfInlineImage.REVERSE_VALUE_ABBREVS
#: Entries of the rewritten image that the inline dictionary writes otherwise or not at all.
_WHITESPACE = b" \t\r\n\f\0"
#: Hexadecimal digits, an even count of them, and the end-of-data marker.
_HEX_DIGITS = re.compile(rb"(?:[0-9A-Fa-f]{2})*>")
_NOT_COPIED = frozenset({"/Length", "/Filter", "/DecodeParms", "/Type", "/Subtype"})


def rewrite_inline_images(pdf: pikepdf.Pdf, limits: Limits, tally: Tally) -> None:
    holders = list(_holders(pdf, limits))
    if not holders:
        return
    with pikepdf.Pdf.new() as scratch:
        images: dict[int, pikepdf.Stream] = {}
        untrusted_data: dict[int, bytes] = {}
        for _, instructions in holders:
            for instruction in instructions:
                if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                    images[id(instruction)] = _as_stream(scratch, instruction.iimage, limits)
                    untrusted_data[id(instruction)] = instruction.iimage.read_raw_bytes()
        hex_samples = {key for key, image in images.items() if _decoded_if_hex_samples(image)}
        rewrite_images(
            scratch, [image for key, image in images.items() if key not in hex_samples], limits, tally
        )
        written = {
            key: _inline_image(image, compress=key not in hex_samples) for key, image in images.items()
        }
        for holder, instructions in holders:
            holder.write(b"\n".join(_unparsed(instructions, written)))
    changed = sum(
        _data_of(written[key]) != untrusted.rstrip(_WHITESPACE) for key, untrusted in untrusted_data.items()
    )
    tally.add("pdf.image_container", "inline image decoded and re-encoded", changed)


def content_instructions(stream: pikepdf.Object) -> list[pikepdf.ContentStreamInstructions] | None:
    """The instructions of a content stream, or None when qpdf cannot parse all of it
    (it warns and returns what it read so far)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            instructions = pikepdf.parse_content_stream(stream)
        except pikepdf.PdfError:
            return None
    return None if caught else instructions


def names_inline_images(untrusted_content: bytes) -> bool:
    """True when the decoded content has the BI operator somewhere (or a string that
    spells it, which parsing then tells apart)."""
    # the pattern opens with a lookbehind, which the regex engine tries at every byte
    return b"BI" in untrusted_content and INLINE_IMAGE.search(untrusted_content) is not None


def _holders(
    pdf: pikepdf.Pdf, limits: Limits
) -> Iterator[tuple[pikepdf.Stream, list[pikepdf.ContentStreamInstructions]]]:
    """Content streams that name the BI operator, and their instructions."""
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or not is_syntax(entries_of(obj)):
            continue
        data = decode_within_limit(obj, limits.max_stream_size)
        if not names_inline_images(obj.read_raw_bytes() if data is None else data):
            continue
        instructions = content_instructions(obj)
        if instructions is None:
            raise image_refusal("content with an inline image that does not parse")
        yield obj, instructions  # written again even without one: qpdf drops an unended image


def _as_stream(scratch: pikepdf.Pdf, image: pikepdf.PdfInlineImage, limits: Limits) -> pikepdf.Stream:
    entries = entries_of(image.obj)
    width, height = int_of(entries.get("/Width")), int_of(entries.get("/Height"))
    if width is not None and height is not None and width * height > limits.max_pixels:
        raise LimitError(
            "pdf.limit", f"an inline image of {width}×{height} exceeds max_pixels {limits.max_pixels}"
        )
    stream = scratch.make_stream(image.read_raw_bytes())
    for key, value in entries.items():
        if key != "/Length":
            stream[key] = value
    return stream


def _unparsed(
    instructions: list[pikepdf.ContentStreamInstructions], images: dict[int, bytes]
) -> Iterator[bytes]:
    """The content again, runs of other instructions as qpdf writes them."""
    run: list[pikepdf.ContentStreamInstructions] = []
    for instruction in instructions:
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            if run:
                yield pikepdf.unparse_content_stream(run)
                run = []
            yield images[id(instruction)]
        else:
            run.append(instruction)
    if run:
        yield pikepdf.unparse_content_stream(run)


def _data_of(inline_image: bytes) -> bytes:
    """The data of an inline image as ``_inline_image`` writes it."""
    return inline_image[inline_image.rindex(b" ID\n") + 4 : -3]


def _decoded_if_hex_samples(image: pikepdf.Stream) -> bool:
    """Replace hexadecimal samples, as 画像化 writes its glyph masks, by the samples, and
    say so; other data is left for the rewriting of images."""
    untrusted_data = image.read_raw_bytes().rstrip(_WHITESPACE)
    if filter_names(image) != ["/ASCIIHexDecode"] or _HEX_DIGITS.fullmatch(untrusted_data) is None:
        return False
    samples = bytes.fromhex(untrusted_data[:-1].decode("ascii"))
    if len(needed_samples(image, samples)) < len(samples):
        return False
    image.write(samples)
    return True


def _inline_image(image: pikepdf.Stream, *, compress: bool) -> bytes:
    """The rewritten image as an inline image, its codec data (or, uncompressed, its
    samples) in hexadecimal."""
    entries = entries_of(image)
    if "/SMask" in entries:
        raise image_refusal("an inline image with transparency, which inline images cannot hold")
    data = image.read_raw_bytes()
    codec = (filter_names(image) or [""])[-1]
    if not codec and compress:
        codec, data = "/FlateDecode", zlib.compress(data)
    parms = entries.get("/DecodeParms")
    dictionary = [
        _KEYS.get(key, key.encode()) + b" " + _token(value)
        for key, value in entries.items()
        if key not in _NOT_COPIED
    ]
    dictionary.append(b"/F [/AHx %s]" % _token(pikepdf.Name(codec)) if codec else b"/F /AHx")
    if isinstance(parms, pikepdf.Dictionary):
        dictionary.append(b"/DP [null %s]" % _token(parms))
    return b"BI %s ID\n%s>\nEI" % (b" ".join(dictionary), data.hex().encode())


def _token(value: object) -> bytes:
    """A value of an inline image dictionary, names abbreviated as inline images write them."""
    if isinstance(value, pikepdf.Name):
        name = bytes(value.unparse())
        return _VALUES.get(name, name)
    if isinstance(value, pikepdf.Array):
        return b"[%s]" % b" ".join(_token(item) for item in value)
    if isinstance(value, pikepdf.Object):
        return bytes(value.unparse(resolved=True))
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int | Decimal | float):
        return str(value).encode()
    return b"null"
