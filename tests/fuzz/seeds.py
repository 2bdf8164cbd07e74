"""Seed files for the fuzz harnesses: the shared corpus and the inputs the unit tests build.

Corpus files are typed by the gateway's own detection; those detection refuses (encrypted,
disguised) still seed the family their extension names, since a sanitiser must also cope
with what detection would have let through after a small change.  Large files are left out
to keep each example quick.
"""

from __future__ import annotations

import functools
import gzip
import tempfile
from collections import defaultdict
from pathlib import Path

from sanitizers.detect import detect
from sanitizers.errors import SanitizeError
from tests.conftest import CORPUS, corpus_manifest
from tests.fuzz.mutations import Seed
from tests.sanitizers import (
    mail_builders,
    odf_builders,
    ooxml_builders,
    test_archives,
    test_archives_libarchive,
    test_html,
    test_images,
    test_ole,
    test_ooxml,
    test_pdf_rebuild,
    test_rtf,
    test_svg,
    test_text,
)
from tests.sanitizers.contract import SanitizerContract

MAX_SEED_SIZE = 128 * 1024
_CONTRACTS: tuple[type[SanitizerContract], ...] = (
    test_images.TestJpegContract, test_images.TestPngContract, test_images.TestGifContract,
    test_images.TestTiffContract, test_images.TestBmpContract, test_images.TestWebpContract,
    test_text.TestTextContract, test_text.TestCsvContract, test_html.TestHtmlContract, test_svg.TestSvgContract,
    test_rtf.TestRtfContract, test_ole.TestOleContract, test_ooxml.TestContract, test_pdf_rebuild.TestContract,
    test_archives.TestZipContract,
)  # fmt: skip
#: the type an extension names, for corpus files detection refuses
_BY_EXTENSION = {"doc": "doc", "xls": "xls", "ppt": "ppt", "docx": "docx", "docm": "docm", "xlsx": "xlsx",
                 "xlsm": "xlsm", "pptx": "pptx", "pptm": "pptm", "pdf": "pdf", "zip": "zip", "rtf": "rtf"}  # fmt: skip


def seeds_for(type_name: str) -> tuple[Seed, ...]:
    return corpus_seeds().get(type_name, ()) + generated_seeds().get(type_name, ())


@functools.cache
def corpus_seeds() -> dict[str, tuple[Seed, ...]]:
    by_type: dict[str, list[Seed]] = defaultdict(list)
    for row in corpus_manifest():
        path = CORPUS / row["relpath"]
        if int(row["size"]) > MAX_SEED_SIZE or not path.is_file():
            continue
        try:
            type_name = detect(path, path.name).type
        except SanitizeError:
            type_name = _BY_EXTENSION.get(path.suffix.lower().lstrip("."), "")
        if type_name:
            by_type[type_name].append(Seed(path.name, type_name, path.read_bytes()))
    return {name: tuple(seeds) for name, seeds in by_type.items()}


@functools.cache
def generated_seeds() -> dict[str, tuple[Seed, ...]]:
    by_type: dict[str, list[Seed]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="mukaika-seeds-") as folder:
        made = [c().make_good_input(_fresh(Path(folder), f"{i}")) for i, c in enumerate(_CONTRACTS)]
        for kind in ooxml_builders.KINDS:
            made.append(ooxml_builders.build(Path(folder) / f"plain.{kind}", kind, ooxml_builders.hyperlinks))
            made.append(
                ooxml_builders.build(Path(folder) / f"macros.{kind[:-1]}m", kind, ooxml_builders.macros)
            )
        made += _office_documents(Path(folder))
        made += odf_builders.seed_documents(Path(folder))
        made += mail_builders.seed_messages(Path(folder))
        for path in made:
            type_name = detect(path, path.name).type
            by_type[type_name].append(Seed(f"generated {path.name}", type_name, path.read_bytes()))
    for type_name, name, data in _archive_heads():
        by_type[type_name].append(Seed(name, type_name, data))
    return {name: tuple(seeds) for name, seeds in by_type.items()}


def _fresh(folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir()
    return path


def _office_documents(folder: Path) -> list[Path]:
    """A Word and a PowerPoint 97 document and an Excel binary workbook, built as the unit
    tests build them, so that every office type has a seed without the corpus too."""

    def binary_workbook(package: ooxml_builders.Package) -> None:
        package.parts["xl/workbook.xml"] = (ooxml_builders.EXCEL_BINARY_MAIN, b"\x83\x01\x00")

    return [
        test_ole.write(_fresh(folder, "doc"), "in.doc", test_ole.WORD_CLSID, test_ole.word_streams("本文")),
        test_ole.write(_fresh(folder, "ppt"), "in.ppt", test_ole.PPT_CLSID, test_ole.ppt_streams()),
        ooxml_builders.build(folder / "in.xlsb", "xlsx", binary_workbook),
    ]


def _archive_heads() -> list[tuple[str, str, bytes]]:
    """Small archives of every format libarchive reads for the gateway, built as the unit
    tests build them (RAR, LZH and cabinets from libarchive's test suite)."""
    members = [("docs/page.html", b"<p>x</p><script>alert(1)</script>"), ("data.csv", b"a,=1+1\n")]
    fixtures = test_archives_libarchive.FIXTURES
    with tempfile.TemporaryDirectory(prefix="mukaika-archive-seeds-") as folder:
        tmp = Path(folder)
        return [
            ("gzip", "generated hello.txt.gz", gzip.compress(b"hello")),
            ("tar", "generated members.tar", test_archives_libarchive.tar_bytes(list(members))),
            ("gzip", "generated members.tgz", test_archives_libarchive.tar_bytes(list(members), "w:gz")),
            ("bzip2", "generated members.tbz2", test_archives_libarchive.tar_bytes(list(members), "w:bz2")),
            ("xz", "generated members.txz", test_archives_libarchive.tar_bytes(list(members), "w:xz")),
            (
                "zstd",
                "generated members.tar.zst",
                test_archives_libarchive.libarchive_tar(tmp, dict(members), "zstd"),
            ),
            ("7z", "generated members.7z", test_archives_libarchive.seven_zip(tmp, dict(members))),
            ("iso", "generated members.iso", test_archives_libarchive.iso_image(tmp, dict(members))),
            ("lzh", "libarchive lh6.lzh", (fixtures / "test_read_format_lha_lh6.lzh").read_bytes()),
            (
                "lzh",
                "libarchive cp932.lzh",
                (fixtures / "test_read_format_lha_filename_cp932.lzh").read_bytes(),
            ),
            ("rar", "libarchive rar4.rar", (fixtures / "test_read_format_rar.rar").read_bytes()),
            ("rar", "libarchive rar5.rar", (fixtures / "test_read_format_rar5_unicode.rar").read_bytes()),
            (
                "cab",
                "libarchive cp932.cab",
                (fixtures / "test_read_format_cab_filename_cp932.cab").read_bytes(),
            ),
        ]
