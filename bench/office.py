"""Office sanitising cost: OOXML rebuild as a ratio to a bare unzip + re-zip, and the `pdf`
method (LibreOffice, then the PDF rebuild) in seconds per page, measured in one run.

Run from the repository root: ``.venv/bin/python bench/office.py [--paragraphs 20000]``.
Inputs are the benign Word, Excel and PowerPoint files of ../shared/corpus (when present)
plus a generated Word document of ``--paragraphs`` paragraphs.  For each input:

* bare: read every member with zipfile and write them all to a new deflated ZIP;
* rebuild: ``OoxmlRebuild().sanitize`` with the default options (parse, clean,
  re-serialise every XML part, verify the output independently);

both the best of several runs.  The last line sums times and sizes over all inputs.
The second table converts the benign Word, Excel, PowerPoint and RTF files of the corpus
(OOXML, legacy OLE and RTF) with ``OfficeToPdf`` once each, as the gateway would.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from timing import best_of

from sanitizers.base import Limits
from sanitizers.convert import OfficeToPdf, soffice_path
from sanitizers.ooxml import OoxmlRebuild

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
REPEATS = 5
OFFICE_EXTENSIONS = (".docx", ".docm", ".xlsx", ".xlsm", ".pptx", ".pptm")
WORDS = ("住民", "税", "通知", "市役所", "申請", "手続き", "notice", "tax", "office", "form", "city", "the")


@dataclass
class Row:
    name: str
    size: int
    members: int
    bare: float
    rebuild: float


def large_document(path: Path, paragraphs: int) -> Path:
    """A Word document of plain paragraphs, each a few runs, some bold, with revision ids
    as Word writes them (so the rebuild has attributes to remove on every paragraph)."""
    rng = random.Random(2024)
    body = []
    for index in range(paragraphs):
        runs = "".join(
            f'<w:r w:rsidR="00A{index % 997:05d}"><w:rPr>{"<w:b/>" if rng.random() < 0.2 else ""}</w:rPr>'
            f'<w:t xml:space="preserve">{" ".join(rng.choices(WORDS, k=8))} </w:t></w:r>'
            for _ in range(3)
        )
        body.append(f'<w:p w:rsidR="00B{index % 991:05d}" w:rsidRDefault="00C00001">{runs}</w:p>')
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}" Target="word/document.xml"/></Relationships>',
        )
        archive.writestr(
            "word/document.xml",
            f'<w:document xmlns:w="{w}"><w:body>{"".join(body)}<w:sectPr/></w:body></w:document>',
        )
    return path


def benign_corpus(
    folders: tuple[str, ...] = ("ooxml/",), extensions: tuple[str, ...] = OFFICE_EXTENSIONS
) -> list[Path]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        print(f"note: {CORPUS} is absent; only the generated document is measured")
        return []
    rows = [line.split("\t") for line in manifest.read_text(encoding="utf-8").splitlines()[1:]]
    return sorted(
        CORPUS / row[0]
        for row in rows
        if row[0].startswith(folders) and row[6] == "benign" and row[0].endswith(extensions)
    )


def print_pdf_method_table(sources: list[Path], work: Path) -> None:
    """LibreOffice conversion plus PDF rebuild, once per file, in seconds per output page."""
    if soffice_path() is None:
        print("\nnote: LibreOffice is not installed; the `pdf` method is not measured")
        return
    print(f"\n{'file (pdf method)':44} {'pages':>5} | {'seconds':>8} {'s/page':>7}")
    total_seconds, total_pages = 0.0, 0
    for src in sources:
        out = work / f"{src.name}.pdf"
        started = time.perf_counter()
        try:
            OfficeToPdf().sanitize(src, out, {}, Limits())
        except Exception as exc:  # a refusal is a result too; show it and go on
            print(f"{src.name[:44]:44} {'-':>5} | refused: {exc}")
            continue
        seconds = time.perf_counter() - started
        with pikepdf.open(out) as pdf:
            pages = len(pdf.pages)
        total_seconds, total_pages = total_seconds + seconds, total_pages + pages
        print(f"{src.name[:44]:44} {pages:5} | {seconds:8.2f} {seconds / pages:7.2f}")
    if total_pages:
        print(
            f"{'all converted':44} {total_pages:5} | {total_seconds:8.2f} {total_seconds / total_pages:7.2f}"
        )


def bare_copy(src: Path, dst: Path) -> None:
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))


def measure(src: Path, work: Path) -> Row:
    limits = Limits()
    with zipfile.ZipFile(src) as archive:
        members = len(archive.infolist())
    bare = best_of(lambda: bare_copy(src, work / "bare.zip"), REPEATS)
    rebuild = best_of(lambda: OoxmlRebuild().sanitize(src, work / "rebuild.out", {}, limits), REPEATS)
    return Row(src.name, src.stat().st_size, members, bare, rebuild)


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "n/a"


def print_table(rows: list[Row]) -> None:
    header = f"{'file':44} {'KiB':>8} {'members':>7} | {'bare ms':>8} {'rebuild ms':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name[:44]:44} {row.size / 1024:8.1f} {row.members:7} | {row.bare * 1000:8.2f} "
            f"{row.rebuild * 1000:10.2f} {ratio(row.rebuild, row.bare):>6}"
        )
    print("-" * len(header))
    bare, rebuild = sum(r.bare for r in rows), sum(r.rebuild for r in rows)
    print(
        f"{'all inputs':44} {sum(r.size for r in rows) / 1024:8.1f} {sum(r.members for r in rows):7} | "
        f"{bare * 1000:8.2f} {rebuild * 1000:10.2f} {ratio(rebuild, bare):>6}"
    )


def measure_all(paragraphs: int) -> list[Row]:
    """One row per benign corpus OOXML file and one for a generated document of ``paragraphs``."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        generated = large_document(work / f"generated-{paragraphs}p.docx", paragraphs)
        rows = []
        for src in [*benign_corpus(), generated]:
            run_dir = work / src.stem
            run_dir.mkdir()
            rows.append(measure(src, run_dir))
    return rows


def print_pdf_method_corpus() -> None:
    """The `pdf` method table over the benign OOXML, legacy OLE and RTF files of the corpus."""
    office = benign_corpus(("ooxml/", "ole/", "rtf/"), (*OFFICE_EXTENSIONS, ".doc", ".xls", ".ppt", ".rtf"))
    with tempfile.TemporaryDirectory() as scratch:
        print_pdf_method_table(office, Path(scratch))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=20000, help="paragraphs of the generated document")
    args = parser.parse_args()
    print_table(measure_all(args.paragraphs))
    print_pdf_method_corpus()
    return 0


if __name__ == "__main__":
    sys.exit(main())
