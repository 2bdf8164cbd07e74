"""Inputs the fuzz harnesses found escaping as exceptions, reduced and kept as refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from sanitizers.archives import ZipRebuild
from sanitizers.base import Limits
from sanitizers.errors import MalformedError
from sanitizers.odf import OdfRebuild
from sanitizers.ooxml import OoxmlRebuild
from tests.sanitizers import odf_builders, ooxml_builders
from tests.sanitizers.test_archives import members_of, zip_bytes


def central_directory_offset_moved(data: bytes, by: int) -> bytes:
    """The end record claims the directory starts ``by`` bytes later than it does, so
    zipfile shifts every member's local header offset by ``-by``: below 0 for the first."""
    end = data.rindex(b"PK\x05\x06")
    offset = int.from_bytes(data[end + 16 : end + 20], "little")
    return data[: end + 16] + (offset + by).to_bytes(4, "little") + data[end + 20 :]


def test_zip_whose_local_header_offset_falls_below_zero_is_malformed(tmp_path: Path) -> None:
    src = tmp_path / "in.zip"
    src.write_bytes(central_directory_offset_moved(zip_bytes([("a.txt", b"a")]), 100))
    with pytest.raises(MalformedError) as refused:
        ZipRebuild().sanitize_container(src, tmp_path / "out", {}, Limits(), members_of(Limits()))
    assert refused.value.code == "archive.malformed"
    assert not (tmp_path / "out").exists()


def test_opendocument_with_a_member_of_compressed_patched_data_is_malformed(tmp_path: Path) -> None:
    """zipfile refuses to open a member flagged as patched data (bit 5) with NotImplementedError."""
    data = bytearray(odf_builders.build(tmp_path / "plain.ods", "spreadsheet").read_bytes())
    first = data.index(b"PK\x01\x02")  # the central directory entry of the mimetype member
    data[first + 8] |= 0x20
    src = tmp_path / "in.ods"
    src.write_bytes(bytes(data))
    with pytest.raises(MalformedError) as refused:
        OdfRebuild().sanitize(src, tmp_path / "out", {}, Limits())
    assert refused.value.code == "odf.malformed"
    assert not (tmp_path / "out").exists()


def test_ooxml_whose_local_header_offset_falls_below_zero_is_malformed(tmp_path: Path) -> None:
    package = ooxml_builders.word().write(tmp_path / "plain.docx")
    src = tmp_path / "in.docx"
    src.write_bytes(central_directory_offset_moved(package.read_bytes(), 100))
    with pytest.raises(MalformedError) as refused:
        OoxmlRebuild().sanitize(src, tmp_path / "out", {}, Limits())
    assert refused.value.code == "ooxml.malformed"
    assert not (tmp_path / "out").exists()
