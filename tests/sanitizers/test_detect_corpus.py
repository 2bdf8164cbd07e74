"""Every file of the shared corpus gets a type or a reason, and every disguise is caught."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sanitizers.detect import detect
from sanitizers.errors import SanitizeError
from tests.conftest import CORPUS, corpus_manifest, require_corpus

require_corpus()
pytestmark = pytest.mark.corpus

EXPECTED: dict[str, str] = tomllib.loads(
    (Path(__file__).parents[2] / "fixtures" / "corpus_detection.toml").read_text(encoding="utf-8")
)["detection"]


def detected(relpath: str) -> str:
    try:
        return detect(CORPUS / relpath).type
    except SanitizeError as exc:
        return f"!{exc.code}"


def test_table_covers_the_whole_manifest() -> None:
    assert sorted(EXPECTED) == sorted(row["relpath"] for row in corpus_manifest())


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_corpus_file_detection(relpath: str) -> None:
    assert detected(relpath) == EXPECTED[relpath]


@pytest.mark.parametrize(
    ("relpath", "code"),
    [
        ("image/patt__CVE-2021-22204_exiftool_echo.jpg", "!type.mismatch"),  # DjVu named .jpg
        ("image/patt__imagetragik1_payload_imageover_wget.gif", "!type.mismatch"),  # MVG named .gif
        ("image/patt__imagetragik1_payload_url_curl.png", "!type.mismatch"),  # MVG named .png
        ("other/corkami__multi", "!type.polyglot"),  # MZ with a PDF behind it
        ("pdf/corkami__snes_md.pdf", "!type.polyglot"),  # ROM and PDF at once
        ("ooxml/mat2__no_content_types.docx", "!type.mismatch"),  # a zip named .docx
        ("other/pycirclean__message.msg", "!type.mismatch"),  # RFC 822 text named .msg
        ("ooxml/oletools__encrypted.docx", "!office.encrypted"),
        ("ole/tika__testWORD_protected_drm.doc", "!office.encrypted"),
    ],
)
def test_disguises_named_in_the_manifest_are_caught(relpath: str, code: str) -> None:
    assert detected(relpath) == code
