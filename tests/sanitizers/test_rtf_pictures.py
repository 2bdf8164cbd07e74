r"""RTF pictures are rebuilt from their pixels: payloads appended to or hidden in a PNG or
JPEG are gone, the picture still shows the same pixels, and one that does not decode goes.

The pictures of every output are read back by the independent checks of
``tests/sanitizers/pictures.py`` (own PNG chunk and JPEG segment walks), not by the sanitiser.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sanitizers.base import Limits
from sanitizers.errors import VerifyError
from sanitizers.rtf.verify import verify_rebuilt
from tests.sanitizers.pictures import (
    assert_clean_picture,
    encoded,
    payload_markers,
    png_with_text_chunk,
    same_pixels,
    two_colour_image,
    zipped_executable,
)
from tests.sanitizers.test_rtf import (
    assert_released_rtf_is_clean,
    document,
    picture_payloads,
    read_tree,
    rebuild,
    removed,
)

BLIPS = {"png": b"\\pngblip", "jpeg": b"\\jpegblip"}


def hex_picture(
    kind: str, payload: bytes, words: bytes = b"\\picw40\\pich30\\picwgoal1200\\pichgoal900"
) -> bytes:
    return b"{\\pict" + BLIPS[kind] + words + b"\n" + payload.hex().encode() + b"}"


def assert_payload_gone(out: bytes) -> None:
    for marker in payload_markers():
        assert marker not in out and marker.hex().encode() not in out.lower(), marker


@pytest.mark.parametrize(("kind", "tolerance"), [("png", 0), ("jpeg", 8)])
def test_a_payload_appended_to_a_picture_is_gone_and_the_picture_stays(
    tmp_path: Path, kind: str, tolerance: int
) -> None:
    image = two_colour_image()
    picture = encoded(image, kind.upper()) + zipped_executable()
    out, report = rebuild(tmp_path, document(hex_picture(kind, picture)))

    assert_payload_gone(out)
    [(blip, data)] = picture_payloads(out)
    assert blip == f"{kind}blip"
    assert same_pixels(assert_clean_picture(data, kind), image, tolerance)
    assert removed(report) == {"image.trailing_data": [f"{kind}blip"]}
    assert b"\\picw40\\pich30\\picwgoal1200\\pichgoal900" in out  # the box is the data's size still
    assert_released_rtf_is_clean(out)


def test_a_payload_inside_a_picture_is_gone(tmp_path: Path) -> None:
    png = png_with_text_chunk(encoded(two_colour_image(), "PNG"), zipped_executable())
    jpeg = encoded(two_colour_image(), "JPEG", comment=zipped_executable())
    out, report = rebuild(tmp_path, document(hex_picture("png", png), hex_picture("jpeg", jpeg)))

    assert_payload_gone(out)
    assert [blip for blip, _ in picture_payloads(out)] == ["pngblip", "jpegblip"]
    assert removed(report) == {"image.text_chunk": ["pngblip"], "image.comment": ["jpegblip"]}


def test_the_stored_orientation_is_kept_for_the_box_the_document_gives(tmp_path: Path) -> None:
    image = two_colour_image((80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90°", which RTF readers do not apply
    jpeg = encoded(image, "JPEG", exif=exif.tobytes())
    out, _ = rebuild(tmp_path, document(hex_picture("jpeg", jpeg, b"\\picw80\\pich40")))

    [(_, data)] = picture_payloads(out)
    assert same_pixels(assert_clean_picture(data, "jpeg"), image, tolerance=8)


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"\x89PNG\r\n\x1a\n" + zipped_executable(), "image.malformed"),
        (encoded(two_colour_image(), "PNG")[:60], "image.malformed"),
    ],
)
def test_a_picture_that_does_not_decode_is_dropped(tmp_path: Path, payload: bytes, why: str) -> None:
    out, report = rebuild(tmp_path, document(hex_picture("png", payload)))
    assert b"\\pict" not in out
    assert_payload_gone(out)
    assert removed(report) == {"rtf.picture": [f"pngblip ({why})"]}


def test_hex_split_around_words_and_after_a_dropped_group_is_rewritten_whole(tmp_path: Path) -> None:
    image = two_colour_image()
    digits = (encoded(image, "PNG") + zipped_executable()).hex().encode()
    third = len(digits) // 3 // 2 * 2
    split = (
        b"{\\pict\\pngblip{\\*\\unknownthing x}" + digits[:third]  # the cut ends where the digits start
        + b"\\picscalex100\n" + digits[third : 2 * third] + b"\r\n{\\*\\blipuid 0a1b}"
        + digits[2 * third :] + b"}"
    )  # fmt: skip
    out, report = rebuild(tmp_path, document(split))

    assert_payload_gone(out)
    [(_, data)] = picture_payloads(out)
    assert same_pixels(assert_clean_picture(data, "png"), image)
    assert b"\\picscalex100" in out and b"{\\*\\blipuid 0a1b}" in out
    assert removed(report) == {"image.trailing_data": ["pngblip"], "rtf.destination": ["unknownthing"]}


def test_data_right_after_a_word_that_ends_in_digits_stays_apart_from_it(tmp_path: Path) -> None:
    jpeg = encoded(two_colour_image(), "JPEG", quality=50)  # its hex starts with a letter: ffd8
    out, _ = rebuild(tmp_path, document(b"{\\pict\\jpegblip\\picw40\\pich30" + jpeg.hex().encode() + b"}"))

    [pict] = [node for node in read_tree(out).walk() if "pict" in node.words]
    assert pict.words == ["pict", "jpegblip", "picw", "pich"]
    assert b"\\pich30\n" in out


def test_verification_refuses_a_picture_that_is_not_as_the_rebuild_writes_it() -> None:
    with_payload = encoded(two_colour_image(), "PNG") + zipped_executable()
    with pytest.raises(VerifyError) as caught:
        verify_rebuilt(document(hex_picture("png", with_payload)), Limits(), "png-jpeg")
    assert caught.value.code == "rtf.verify_failed"
    verify_rebuilt(document(hex_picture("png", encoded(two_colour_image(), "PNG"))), Limits(), "png-jpeg")
