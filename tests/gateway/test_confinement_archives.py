"""libarchive inside the walls: archives sanitised and verified by real confined workers.

libarchive is a C library loaded in the zygote (through the registry's import); inside a
worker it may need what Landlock and seccomp withhold (iconv's modules for CP932 names, a
temporary file for a 7z's solid block), so every format runs here once end to end.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from gateway.isolation.job import Job
from gateway.isolation.provider import ZygoteProvider
from sanitizers.base import Limits
from sanitizers.pipeline import Rule
from tests.sanitizers.test_archives_libarchive import PAGE, fixture, seven_zip, tar_bytes

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="confinement is Linux's")

_REBUILD = Rule(("rebuild",))
RULES = {t: _REBUILD for t in ("7z", "lzh", "rar", "tar", "gzip", "txt", "csv", "html")}


def run(tmp_path: Path, data: bytes, name: str, rules: dict[str, Rule] = RULES) -> Path:
    staged = tmp_path / "staged"
    staged.write_bytes(data)
    result = asyncio.run(ZygoteProvider(1).run(Job("t1", staged, name, tmp_path / "work", rules, Limits())))
    assert (result.verdict, result.reason_code) == ("released", None), result.reason_message
    assert result.output_path is not None
    return result.output_path


def test_archives_are_rebuilt_and_verified_inside_the_walls(tmp_path: Path) -> None:
    built = {
        "a.7z": seven_zip(tmp_path, {"資料/案内.html": PAGE, "一覧.csv": "名前,1\r\n".encode("cp932")}),
        "b.lzh": fixture("test_read_format_lha_filename_cp932.lzh"),
        "c.rar": fixture("test_read_format_rar.rar"),
    }
    for index, (name, data) in enumerate(built.items()):
        folder = tmp_path / f"{index}"
        folder.mkdir()
        with zipfile.ZipFile(run(folder, data, name)) as archive:
            assert archive.namelist(), name


def test_a_tar_kept_a_tar_and_an_unwrapped_file_are_verified_inside_the_walls(tmp_path: Path) -> None:
    (tmp_path / "tar").mkdir()
    rules = {**RULES, "gzip": Rule(("rebuild",), {"output_format": "same"})}
    output = run(tmp_path / "tar", tar_bytes([("page.html", PAGE)], "w:gz"), "a.tar.gz", rules)
    with tarfile.open(output) as tar:
        assert tar.getnames() == ["page.html"]
    (tmp_path / "gz").mkdir()
    page = run(tmp_path / "gz", gzip.compress(PAGE), "page.html.gz").read_bytes()
    assert b"page" in page and b"script" not in page
