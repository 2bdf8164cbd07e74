"""The quick screen may send innocent objects for a full look, but must never let one
through that holds a name the walks act on, however the input spelt it."""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf
import pytest

from sanitizers.base import Limits
from sanitizers.errors import VerifyError
from sanitizers.pdf import clean, verify
from sanitizers.pdf.screen import references, serialised
from sanitizers.pdf.verify import Promise, verify_pdf
from sanitizers.pdf.vocabulary import KNOWN_ACTIONS

#: The names the screens are built from, collected from the walks' own tables.
SCREENED = sorted(
    clean.WATCHED_KEYS
    | verify.SCANNED_KEYS
    | KNOWN_ACTIONS
    | {"/Annot", "/Rect", "/Action", "/EmbeddedFile", "/Image", "/T"}
)


def hex_spelt(name: str) -> bytes:
    """Every character of the name written as #xx, as a hostile file may."""
    return b"/" + b"".join(b"#%02X" % char for char in name[1:].encode())


def raw_pdf(extra_object: bytes) -> bytes:
    """A one-page PDF whose page refers to object 4, written by hand (no xref: qpdf rebuilds it)."""
    return b"\n".join(
        [
            b"%PDF-1.7",
            b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj",
            b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /StructParents 4 0 R >> endobj",
            b"4 0 obj " + extra_object + b" endobj",
            b"trailer << /Root 1 0 R /Size 5 >>",
            b"%%EOF",
        ]
    )


@pytest.mark.parametrize("name", SCREENED)
def test_a_hex_spelt_name_nested_in_a_direct_value_is_seen(tmp_path: Path, name: str) -> None:
    nested = b"<< /Kids [ 1 2 << /Inner [ << " + hex_spelt(name) + b" /Value >> ] >> ] >>"
    src = tmp_path / "in.pdf"
    src.write_bytes(raw_pdf(nested))
    with pikepdf.open(src) as pdf:
        text = serialised(pdf.get_object(4, 0))
    assert hex_spelt(name) not in text  # qpdf wrote the name in its one canonical form
    assert clean.NEEDS_A_LOOK.search(text) is not None
    if name in verify.SCANNED_KEYS:
        assert verify.NEEDS_A_LOOK.search(text) is not None


def test_a_longer_name_that_starts_like_a_screened_one_is_not_taken_for_it() -> None:
    assert clean.NEEDS_A_LOOK.search(b"<< /Annots2 1 /JSX 2 /Type /Font >>") is None
    assert clean.NEEDS_A_LOOK.search(b"<< /AA<< >> >>") is not None


def test_references_are_read_from_the_serialisation_only_as_whole_tokens() -> None:
    text = b"<< /A 12 0 R /B [ 3 1 R 4 0 R] /C 112 0 RR /D (5 0 R) >>"
    assert list(references(text)) == [(12, 0), (3, 1), (4, 0), (5, 0)]  # the string costs a look


def test_verification_sees_a_hex_spelt_javascript_action_deep_in_an_object(tmp_path: Path) -> None:
    action = b"<< /S " + hex_spelt("/JavaScript") + b" " + hex_spelt("/JS") + b" (app.alert(1)) >>"
    raw = tmp_path / "raw.pdf"
    raw.write_bytes(raw_pdf(b"[ 0 [ << /K [ " + action + b" ] >> ] ]"))
    src = tmp_path / "in.pdf"
    with pikepdf.open(raw) as pdf:
        pdf.save(src)  # a well-formed file, so that only the action can fail verification
    with pytest.raises(VerifyError, match=re.escape("/JS")):
        verify_pdf(src, Promise(web_links=True, metadata=True, image_only=False), Limits())
