"""ISO/IEC 29500 Strict packages: the same attacks, spelled with the Strict URIs.

The packages are built as transitional ones and then re-spelled by hand with the Strict
namespaces and relationship types (a table written here from the standard, not the
sanitiser's).  Outputs are judged by zipfile and ElementTree over every part.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from sanitizers.errors import MalformedError, VerifyError
from sanitizers.ooxml.verify import verify_package
from tests.sanitizers import ooxml_builders as b
from tests.sanitizers.contract import removed_counts
from tests.sanitizers.test_ooxml import rebuild
from tests.sanitizers.test_ooxml_formulas import CALLING_OUT_IN_TESTS, HOSTILE_CELLS, hostile_workbook

_TRANSITIONAL_TO_STRICT = {
    b.W: "http://purl.oclc.org/ooxml/wordprocessingml/main",
    b.S: "http://purl.oclc.org/ooxml/spreadsheetml/main",
    b.P: "http://purl.oclc.org/ooxml/presentationml/main",
    b.A: "http://purl.oclc.org/ooxml/drawingml/main",
    "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties": (
        "http://purl.oclc.org/ooxml/officeDocument/extendedProperties"
    ),
}
_STRICT_REL = "http://purl.oclc.org/ooxml/officeDocument/relationships/"
_STRICT = b"purl.oclc.org/ooxml"


def as_strict(package: b.Package) -> None:
    """Every transitional namespace and relationship type re-spelled as Strict."""
    strict_markup(package)
    strict_relationships(package)


def strict_markup(package: b.Package) -> None:
    """The parts' namespaces alone re-spelled: the mixed package a hand-made attack would be."""
    for name, (content_type, data) in list(package.parts.items()):
        text = data.decode("utf-8", "replace") if name.endswith(".xml") else None
        if text is None:
            continue
        for transitional, strict in _TRANSITIONAL_TO_STRICT.items():
            text = text.replace(f'"{transitional}"', f'"{strict}"')
        text = text.replace(f'"{b.R}"', '"http://purl.oclc.org/ooxml/officeDocument/relationships"')
        package.add(name, text, content_type)


def strict_relationships(package: b.Package) -> None:
    for relationships in package.relationships.values():
        for index, relationship in enumerate(relationships):
            if relationship.type.startswith(b.REL):
                last = relationship.type[len(b.REL) :]
                last = {"extended-properties": "extendedProperties"}.get(last, last)
                relationships[index] = b.Relationship(
                    relationship.id, _STRICT_REL + last, relationship.target, relationship.external
                )


def _every_part(path: Path) -> dict[str, ET.Element]:
    with zipfile.ZipFile(path) as archive:
        return {
            name: ET.fromstring(archive.read(name))
            for name in archive.namelist()
            if name.endswith((".xml", ".rels"))
        }


def _instructions(root: ET.Element) -> str:
    w = f"{{{b.W}}}"
    pieces = [e.text or "" for e in root.iter() if e.tag in (f"{w}instrText", f"{w}delInstrText")]
    pieces += [e.get(f"{w}instr", "") for e in root.iter(f"{w}fldSimple")]
    return " ".join(pieces)


@pytest.mark.parametrize("spelling", [as_strict, strict_markup], ids=["all strict", "strict markup only"])
def test_a_strict_docx_loses_its_dde_field_vba_and_bad_hyperlinks(
    spelling: b.Builder, tmp_path: Path
) -> None:
    builders = (b.macros, b.dde_fields, b.hyperlinks, b.attached_template, spelling)
    src = b.build(tmp_path / "in.docx", "docx", *builders)
    dst, report = rebuild(src, tmp_path)
    assert report.output_type == "docx"
    assert any(f.construct == "ooxml.strict" and f.action == "converted" for f in report.findings)
    removed = removed_counts(report)
    assert removed["ooxml.vba_project"] >= 1
    assert removed["ooxml.hyperlink"] == len(b.BAD_LINKS)
    assert removed["ooxml.attached_template"] >= 1
    with zipfile.ZipFile(dst) as archive:
        for name in archive.namelist():
            assert _STRICT not in archive.read(name), name
            assert not re.search(r"vba|macro", name, re.I), name
    parts = _every_part(dst)
    for name, root in parts.items():
        for element in root.iter():
            assert "purl.oclc.org" not in element.tag, (name, element.tag)
            assert not any("purl.oclc.org" in key for key in element.attrib), name
        assert not re.search(r"\bdde", _instructions(root), re.I), name
    for _, rel_type, target, mode in b.relationships_in(dst):
        assert "vbaProject" not in rel_type and "attachedTemplate" not in rel_type
        if mode == "External":
            assert target in b.WEB_LINKS, target
    assert all(t in b.texts_in(dst)["word/document.xml"] for t in b.TEXTS)
    b.assert_package_clean(dst)


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_a_benign_strict_package_keeps_its_text_and_comes_out_transitional(kind: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / f"in.{kind}", kind, as_strict)
    main = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}[kind]
    spelled = dict(b.xml_parts(src))
    assert _STRICT in spelled[main] and _STRICT in spelled["_rels/.rels"]
    dst, report = rebuild(src, tmp_path)
    assert report.output_type == kind
    assert any(f.construct == "ooxml.strict" for f in report.findings)
    texts = [t for found in b.texts_in(dst).values() for t in found]
    assert all(t in texts for t in b.TEXTS)
    assert all(_STRICT not in data for _, data in b.xml_parts(dst))
    if kind == "xlsx":
        sheet = _every_part(dst)["xl/worksheets/sheet1.xml"]
        assert [f.text for f in sheet.iter(f"{{{b.S}}}f")] == ["SUM(1,2)"]


def test_a_transitional_package_reports_no_conversion(tmp_path: Path) -> None:
    _, report = rebuild(b.build(tmp_path / "in.docx", "docx"), tmp_path)
    assert not any(f.construct == "ooxml.strict" for f in report.findings)


def _package(document: str, rels: str = "") -> bytes:
    ct = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{b.WORD_MAIN}"/></Types>'
    )
    package_rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rels or b.REL + "officeDocument"}" Target="word/document.xml"/>'
        "</Relationships>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", ct)
        archive.writestr("_rels/.rels", package_rels)
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "package",
    [
        _package('<w:document xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main"/>'),
        _package(f'<w:document xmlns:w="{b.W}" xmlns:s="http://purl.oclc.org/ooxml/wordprocessingml/main"/>'),
        _package(f'<w:document xmlns:w="{b.W}"/>', rels=_STRICT_REL + "officeDocument"),
        _package(
            f'<w:document xmlns:w="{b.W}"><w:p uri="http://purl.oclc.org/ooxml/drawingml/chart"/></w:document>'
        ),
    ],
    ids=["element", "declaration", "relationship type", "attribute value"],
)
def test_verification_refuses_any_strict_name_left(package: bytes) -> None:
    with pytest.raises(VerifyError, match="Strict"):
        verify_package(package, keep_web_links=True)


def test_a_strict_workbook_loses_its_formulas_that_reach_out(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.xlsx", "xlsx", hostile_workbook, as_strict)
    assert _STRICT in dict(b.xml_parts(src))["xl/worksheets/sheet1.xml"]
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.external_formula"] >= len(HOSTILE_CELLS)
    for name, root in _every_part(dst).items():
        for element in root.iter():
            if element.tag.rpartition("}")[2] in ("f", "formula", "formula1", "definedName") and element.text:
                assert not CALLING_OUT_IN_TESTS.search(element.text), (name, element.text)
            assert "webPublish" not in element.tag, name
    sheet = _every_part(dst)["xl/worksheets/sheet1.xml"]
    values = {c.get("r"): c.findtext(f"{{{b.S}}}v") for c in sheet.iter(f"{{{b.S}}}c")}
    assert all(values[ref] == cached for ref, _, cached in HOSTILE_CELLS)
    b.assert_package_clean(dst)


def test_a_strict_looking_namespace_the_standard_does_not_define_is_refused(tmp_path: Path) -> None:
    def unknown(package: b.Package) -> None:
        b.append_to_body(package, '<w:p xmlns:z="http://purl.oclc.org/ooxml/unknown/thing"><z:x/></w:p>')

    src = b.build(tmp_path / "in.docx", "docx", unknown, as_strict)
    with pytest.raises(MalformedError, match="no ISO/IEC 29500 namespace"):
        rebuild(src, tmp_path)
