r"""The data of a kept ``\pict``: decoded from hex, rebuilt from its pixels, written back.

A picture the rules of ``destinations.py`` keep (``\pngblip`` or ``\jpegblip``, hex digits
only) goes through the image sanitiser: data after the image's end (an appended archive
or executable), its metadata and any second format's structure are left behind, and the
new image is written back as hex where the old digits were.  A picture that does not
decode or is over the image limits is dropped (``rtf.picture``, location = the picture
type and the image refusal's code).

The stored pixels are kept as they are, the EXIF orientation (removed with the other
metadata) unapplied: RTF readers lay the picture out in the box its ``\picw``, ``\pich``,
``\picwgoal`` and ``\pichgoal`` give it and do not turn it (LibreOffice checked).  The
rebuild keeps the pixel size and the density, so those words, which describe the data,
stay true and are kept as written.

A rebuilt document's pictures are checked, not rebuilt again (a JPEG would lose quality
at every pass): each must be an image of its word's type with nothing but pixels and a
valid colour profile, ending where its format ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sanitizers.base import Finding, Limits
from sanitizers.images.rebuild import reencode_picture, verify_image
from sanitizers.rtf.tokens import Kind
from sanitizers.rtf.tree import Group, direct_tokens

#: The image type each kept picture word promises.
BLIP_TYPES = {"pngblip": "png", "jpegblip": "jpeg"}
#: Hex digits per line of a rewritten picture (what Word writes).
HEX_LINE = 128
_LINE_BREAKS_AND_SPACE = b" \t\r\n"


class PictureStep(Protocol):
    """What happens to the data of each kept picture: the bytes to write, and findings."""

    def __call__(self, untrusted_data: bytes, blip: str) -> tuple[bytes, list[Finding]]: ...


@dataclass(frozen=True)
class RebuildPicture:
    """The rebuild: every picture re-encoded from its pixels."""

    limits: Limits

    def __call__(self, untrusted_data: bytes, blip: str) -> tuple[bytes, list[Finding]]:
        rebuilt, report = reencode_picture(untrusted_data, self.limits, apply_orientation=False)
        return rebuilt, [f for f in report.findings if f.action != "kept"]


@dataclass(frozen=True)
class CheckPicture:
    """The verification: every picture must already be what the rebuild writes."""

    limits: Limits

    def __call__(self, untrusted_data: bytes, blip: str) -> tuple[bytes, list[Finding]]:
        verify_image(untrusted_data, BLIP_TYPES[blip], icc_allowed=True, limits=self.limits)
        return untrusted_data, []


@dataclass(frozen=True)
class HexPayload:
    """A picture's data, and the text runs that spell it in hex."""

    runs: tuple[tuple[int, int], ...]  # (start, end) of each text token holding digits
    untrusted_data: bytes


def hex_payload(group: Group, data: bytes) -> HexPayload:
    """The data of a picture group whose content ``destinations.judge`` found to be hex
    digits and white space only, in an even number."""
    runs: list[tuple[int, int]] = []
    digits: list[bytes] = []
    for token in direct_tokens(group, data):
        if token.kind is Kind.TEXT:
            run = data[token.start : token.end].translate(None, _LINE_BREAKS_AND_SPACE)
            if run:
                runs.append((token.start, token.end))
                digits.append(run)
    return HexPayload(tuple(runs), bytes.fromhex(b"".join(digits).decode("ascii")))


def hex_lines(picture: bytes) -> bytes:
    r"""``picture`` in hex, each line after a line break: the break also ends a control
    word written right before the data (``\picw40`` then digits would read as one number)."""
    digits = picture.hex().encode("ascii")
    return b"".join(b"\n" + digits[at : at + HEX_LINE] for at in range(0, len(digits), HEX_LINE))
