"""ICC colour profiles (``/ICCBased`` streams, output intents): parsed and written anew.

A profile is a tagged container whose private tags and slack can carry anything.  The
rebuild keeps only the tags that colour management reads, has LittleCMS (through
Pillow's ImageCms) parse them and build a transform from them, which loads every tag it
needs, and writes the profile back from LittleCMS's own serialisation.  A profile that
LittleCMS cannot use is replaced by sRGB when it is an RGB profile, and otherwise refuses
the rebuild so that the rule's next method (画像化) runs.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from collections.abc import Iterable

import pikepdf
from PIL import ImageCms

from sanitizers.base import Limits
from sanitizers.errors import MalformedError
from sanitizers.pdf.clean import Tally
from sanitizers.pdf.limits import decode_within_limit
from sanitizers.pdf.values import int_of

#: Tags that colour management and profile identification read (ICC.1:2022, 9.2).
COLOUR_TAGS = frozenset(
    tag.encode()
    for tag in [
        "desc",
        "cprt",
        "wtpt",
        "bkpt",
        "rXYZ",
        "gXYZ",
        "bXYZ",
        "rTRC",
        "gTRC",
        "bTRC",
        "kTRC",
        "A2B0",
        "A2B1",
        "A2B2",
        "B2A0",
        "B2A1",
        "B2A2",
        "D2B0",
        "D2B1",
        "D2B2",
        "D2B3",
        "B2D0",
        "B2D1",
        "B2D2",
        "B2D3",
        "chad",
        "chrm",
        "lumi",
        "meas",
        "tech",
        "view",
        "gamt",
        "ncl2",
        "clrt",
        "clro",
        "clot",
        "ciis",
        "rig0",
        "rig2",
        "dmnd",
        "dmdd",
        "vued",
    ]
)
#: Largest profile accepted; real ones (CMYK press profiles with big LUTs) stay under 4 MiB.
MAX_PROFILE_SIZE = 16 * 1024 * 1024
_HEADER_SIZE = 128
#: The Pillow mode that each ICC data colour space reads.
_MODES = {b"GRAY": "L", b"RGB ": "RGB", b"CMYK": "CMYK"}
_COMPONENTS = {"L": 1, "RGB": 3, "CMYK": 4}
#: The creation date (ICC dateTimeNumber, header bytes 24–35) of the standard sRGB profile.
_SRGB_CREATED = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)


def icc_refusal(detail: str) -> MalformedError:
    return MalformedError("pdf.malformed", f"ICC colour profile: {detail}")


def rewrite_profiles(profiles: Iterable[pikepdf.Stream], limits: Limits, tally: Tally) -> None:
    done: set[tuple[int, int]] = set()
    srgb: bytes | None = None
    for stream in profiles:
        if stream.objgen in done:
            continue
        done.add(stream.objgen)
        untrusted_profile = decode_within_limit(stream, min(limits.max_stream_size, MAX_PROFILE_SIZE))
        if untrusted_profile is None:
            raise icc_refusal("under filters that are not general-purpose")
        components = int_of(stream.get("/N"))
        try:
            clean = reserialised(untrusted_profile, components)
        except MalformedError:
            if components != 3:
                raise
            srgb = srgb or standard_srgb()
            clean = srgb
            tally.add("pdf.icc_profile", "an RGB profile that does not parse, replaced by sRGB")
        stream.write(clean)
        if "/DecodeParms" in stream:
            del stream["/DecodeParms"]


def reserialised(untrusted_profile: bytes, components: int | None) -> bytes:
    """The profile's colour tags as LittleCMS writes them; MalformedError if it cannot."""
    filtered = colour_tags_only(untrusted_profile)
    mode = _MODES.get(filtered[16:20])
    if mode is None:
        raise icc_refusal(f"data colour space {filtered[16:20]!r}")
    if components is not None and components != _COMPONENTS[mode]:
        raise icc_refusal(f"{_COMPONENTS[mode]} components where /N says {components}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            profile = ImageCms.ImageCmsProfile(io.BytesIO(filtered))
            for attribute in (
                "profile_description",
                "copyright",
                "media_white_point",
                "chromatic_adaptation",
            ):
                getattr(profile.profile, attribute)
            ImageCms.buildTransform(profile, _srgb_profile(), mode, "RGB")  # loads every tag it needs
            clean = profile.tobytes()
            ImageCms.ImageCmsProfile(io.BytesIO(clean))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        raise icc_refusal(f"LittleCMS cannot use it: {type(exc).__name__}") from None
    return bytes(clean)


def colour_tags_only(untrusted_profile: bytes) -> bytes:
    """The profile rebuilt from its header and the tags of ``COLOUR_TAGS``, each bounded
    by the profile's declared size; data between and after tags is left behind."""
    if len(untrusted_profile) < _HEADER_SIZE + 4 or untrusted_profile[36:40] != b"acsp":
        raise icc_refusal("no ICC header")
    (declared,) = struct.unpack_from(">I", untrusted_profile, 0)
    size = min(declared, len(untrusted_profile))
    (count,) = struct.unpack_from(">I", untrusted_profile, _HEADER_SIZE)
    if _HEADER_SIZE + 4 + 12 * count > size:
        raise icc_refusal("a tag table beyond the profile")
    tags: list[tuple[bytes, bytes]] = []
    for index in range(count):
        signature, offset, length = struct.unpack_from(
            ">4sII", untrusted_profile, _HEADER_SIZE + 4 + 12 * index
        )
        if signature in COLOUR_TAGS and offset + length <= size and length >= 8:
            tags.append((signature, untrusted_profile[offset : offset + length]))
    table_end = _HEADER_SIZE + 4 + 12 * len(tags)
    entries, bodies = [], b""
    for signature, body in tags:
        entries.append(struct.pack(">4sII", signature, table_end + len(bodies), len(body)))
        bodies += body + bytes(-len(body) % 4)
    header = bytearray(untrusted_profile[:_HEADER_SIZE])
    header[84:100] = bytes(16)  # the profile id (MD5) no longer applies
    struct.pack_into(">I", header, 0, table_end + len(bodies))
    return bytes(header) + struct.pack(">I", len(tags)) + b"".join(entries) + bodies


def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.cache
def standard_srgb() -> bytes:
    """LittleCMS's sRGB profile: what an RGB profile that does not parse is replaced by.

    LittleCMS stamps a new profile with the time it was made; the stamp is fixed here so
    that every process (the sanitiser, then the verifier) makes the very same bytes."""
    profile = bytearray(_srgb_profile().tobytes())
    profile[24:36] = _SRGB_CREATED
    return bytes(profile)
