"""ICC colour profiles leave the rebuild as LittleCMS writes them, never as they came.

Profiles are built from scratch with Pillow's ImageCms; outputs are read back with
pikepdf, ImageCms and PDFium.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import ImageCms

from sanitizers.base import Limits
from sanitizers.errors import MalformedError
from sanitizers.pdf import PdfRebuild
from sanitizers.pipeline import FINAL_REFUSALS
from tests.sanitizers import pdf_builders as b

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = b"MZ\x90\x00 appended executable " * 40


def srgb() -> bytes:
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def with_private_tag(profile: bytes, body: bytes) -> bytes:
    """``profile`` with one more tag, 'zzzz', holding ``body``."""
    (count,) = struct.unpack_from(">I", profile, 128)
    entries = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]
    shift = 12
    table = [struct.pack(">4sII", s, o + shift, n) for s, o, n in entries]
    data = profile[132 + 12 * count :]
    table.append(struct.pack(">4sII", b"zzzz", len(profile) + shift, len(body)))
    new = profile[:128] + struct.pack(">I", count + 1) + b"".join(table) + data + body
    return struct.pack(">I", len(new)) + new[4:]


def icc_document(profile: bytes, components: int = 3, *, output_intent: bool = False) -> pikepdf.Pdf:
    """A page filled through an /ICCBased colour space (or with the profile as output intent)."""
    pdf = b.new_document(["Colour managed"])
    stream = pdf.make_stream(profile)
    stream.N = components
    alternate = {1: Name.DeviceGray, 3: Name.DeviceRGB, 4: Name.DeviceCMYK}[components]
    stream.Alternate = alternate
    if output_intent:
        pdf.Root.OutputIntents = Array(
            [
                Dictionary(
                    Type=Name.OutputIntent,
                    S=Name.GTS_PDFA1,
                    OutputConditionIdentifier=pikepdf.String("sRGB"),
                    DestOutputProfile=stream,
                )
            ]
        )
        return pdf
    page = pdf.pages[0]
    page.Resources.ColorSpace = Dictionary(CS0=Array([Name.ICCBased, stream]))
    fill = " ".join(["0.2"] * components).encode()
    page.Contents = pdf.make_stream(
        page.Contents.read_bytes() + b" /CS0 cs " + fill + b" scn 100 300 200 100 re f"
    )
    return pdf


def rebuilt(pdf: pikepdf.Pdf, tmp_path: Path) -> Path:
    src = b.save(pdf, tmp_path / "in.pdf")
    dst = tmp_path / "out.pdf"
    PdfRebuild().sanitize(src, dst, {}, Limits())
    return dst


def profiles_in(path: Path) -> list[bytes]:
    """The profiles of the pages' colour spaces and of the output intent."""
    with pikepdf.open(path) as pdf:
        spaces = [s for page in pdf.pages for s in page.Resources.get("/ColorSpace", Dictionary()).values()]
        found = [s[1] for s in spaces if isinstance(s, pikepdf.Array) and s[0] == "/ICCBased"]
        if "/OutputIntents" in pdf.Root:
            found.append(pdf.Root.OutputIntents[0].DestOutputProfile)
        return [stream.read_bytes() for stream in found]


def test_appended_bytes_vanish_and_the_profile_still_works(tmp_path: Path) -> None:
    dst = rebuilt(icc_document(srgb() + PAYLOAD), tmp_path)
    [profile] = profiles_in(dst)
    assert b"appended executable" not in profile
    assert "sRGB" in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile)))


def test_a_private_tag_carrying_a_payload_is_dropped(tmp_path: Path) -> None:
    untrusted = with_private_tag(srgb(), PAYLOAD)
    ImageCms.ImageCmsProfile(io.BytesIO(untrusted))  # LittleCMS itself accepts it
    dst = rebuilt(icc_document(untrusted), tmp_path)
    [profile] = profiles_in(dst)
    assert b"appended executable" not in profile and b"zzzz" not in profile


def test_an_output_intent_profile_is_rewritten_too(tmp_path: Path) -> None:
    dst = rebuilt(icc_document(srgb() + PAYLOAD, output_intent=True), tmp_path)
    [profile] = profiles_in(dst)
    assert b"appended executable" not in profile


def test_an_rgb_profile_that_does_not_parse_becomes_srgb(tmp_path: Path) -> None:
    dst = rebuilt(icc_document(b"\x00" * 40 + PAYLOAD), tmp_path)
    [profile] = profiles_in(dst)
    assert b"appended executable" not in profile
    assert "sRGB" in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile)))


def test_the_srgb_put_in_passes_a_verifier_started_seconds_later(tmp_path: Path) -> None:
    """The sanitiser and the gateway's verifier run in different processes at different
    times; the sRGB one writes must be the sRGB the other accepts."""
    dst = rebuilt(icc_document(b"\x00" * 40 + PAYLOAD), tmp_path)
    time.sleep(1.1)  # LittleCMS stamps a profile it makes with the current second
    verifier = (
        "import sys; from pathlib import Path; from sanitizers.base import Limits;"
        "from sanitizers.pdf.rebuild import rebuild_promise; from sanitizers.pdf.verify import verify_pdf;"
        "verify_pdf(Path(sys.argv[1]), rebuild_promise({}), Limits())"
    )
    run = subprocess.run([sys.executable, "-c", verifier, str(dst)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-600:]


@pytest.mark.parametrize(
    ("profile", "components"),
    [(b"\x00" * 40 + PAYLOAD, 1), (b"\x00" * 40 + PAYLOAD, 4), (srgb(), 1)],
    ids=["garbage-gray", "garbage-cmyk", "rgb-profile-said-gray"],
)
def test_a_profile_that_cannot_be_used_refuses_the_rebuild(
    tmp_path: Path, profile: bytes, components: int
) -> None:
    with pytest.raises(MalformedError) as caught:
        rebuilt(icc_document(profile, components), tmp_path)
    assert caught.value.code not in FINAL_REFUSALS  # the rule's next method (画像化) runs
    assert "ICC colour profile" in caught.value.detail
