"""CCITT Group 4 (fax) compression of bilevel images, through Pillow's libtiff."""

from __future__ import annotations

import io

from PIL import Image, TiffImagePlugin

TIFF_ROWS_PER_STRIP = 278
TIFF_STRIP_OFFSETS = 273
TIFF_STRIP_BYTE_COUNTS = 279


def group4(bits: Image.Image) -> bytes | None:
    """A "1" image as one G4 strip, or None if Pillow split it (strips restart coding).

    Pillow writes BlackIsZero TIFFs: in PDF the data decodes to the image's own bits
    with /BlackIs1 true.
    """
    buffer = io.BytesIO()
    bits.save(buffer, "TIFF", compression="group4", tiffinfo={TIFF_ROWS_PER_STRIP: bits.height})
    with TiffImagePlugin.TiffImageFile(io.BytesIO(buffer.getvalue())) as tiff:
        offsets = tiff.tag_v2.get(TIFF_STRIP_OFFSETS)
        counts = tiff.tag_v2.get(TIFF_STRIP_BYTE_COUNTS)
    if not isinstance(offsets, tuple) or not isinstance(counts, tuple) or len(offsets) != 1:
        return None
    return buffer.getvalue()[offsets[0] : offsets[0] + counts[0]]
