"""OOXML rebuild: active content goes, the text stays, the package stays an Office file.

Every security claim is re-checked two ways: by oletools (olevba, oleid, oleobj, msodde)
and by an independent zipfile walk (``ooxml_builders.assert_package_clean``).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from sanitizers.archives.budget import tree_budget
from sanitizers.base import Limits, MiB, Registry, Report, Sanitizer
from sanitizers.detect import detect
from sanitizers.errors import (
    EncryptedError,
    LimitError,
    MalformedError,
    PolicyError,
    VerifyError,
)
from sanitizers.ooxml import OoxmlRebuild, XlsbRefusal
from sanitizers.ooxml.verify import verify_package
from sanitizers.pipeline import Rule, process_file
from tests.sanitizers import ooxml_builders as b
from tests.sanitizers.contract import RebuildContract, removed_counts

REBUILD = OoxmlRebuild()


def rebuild(src: Path, tmp_path: Path, limits: Limits | None = None, **options: str) -> tuple[Path, Report]:
    dst = tmp_path / "out.bin"
    report = REBUILD.sanitize(src, dst, options, limits or Limits())
    return dst, report


def member(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode("utf-8")


def rewrite_member(src: Path, dst: Path, name: str, data: bytes) -> Path:
    """A copy of package ``src`` with one member's data replaced."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, data if info.filename == name else old.read(info))
    return dst


class TestContract(RebuildContract):
    def make_sanitizer(self) -> Sanitizer:
        return OoxmlRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        return b.build(
            tmp_path / "in.docm", "docx", b.macros, b.dde_fields, b.attached_template, b.hyperlinks
        )


# -- every hostile construct, in every application that has it -----------------------

HOSTILE_CASES = [(name, kind) for name, (kinds, _, _) in sorted(b.HOSTILE.items()) for kind in kinds]


@pytest.mark.parametrize(("name", "kind"), HOSTILE_CASES)
def test_each_hostile_construct_is_removed_and_the_text_kept(name: str, kind: str, tmp_path: Path) -> None:
    _, builder, construct = b.HOSTILE[name]
    src = b.build(tmp_path / f"in.{kind}", kind, builder)
    dst, report = rebuild(src, tmp_path)
    assert construct in removed_counts(report)
    assert report.output_type == kind
    assert detect(dst, f"out.{kind}").type == kind
    b.assert_package_clean(dst)
    b.assert_oletools_clean(dst)
    assert b.texts_in(dst) == b.texts_in(src)


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_macro_enabled_becomes_plain_and_oletools_sees_the_difference(kind: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / f"in.{kind[:-1]}m", kind, b.macros, b.ole_embedding, b.activex)
    before = b.oletools_view(src)
    assert any("AutoOpen" in code for code in before.vba_modules)
    assert str(before.oleid_risks["vba"]).startswith("Yes")
    assert before.embedded_ole >= 3  # the VBA project, the OLE object, the ActiveX binary
    assert detect(src).type == f"{kind[:-1]}m"
    dst, report = rebuild(src, tmp_path)
    assert report.output_type == kind
    assert ("ooxml.macro_enabled", "neutralised") in {(f.construct, f.action) for f in report.findings}
    b.assert_oletools_clean(dst)
    b.assert_package_clean(dst)
    assert b.texts_in(dst) == b.texts_in(src)


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_a_plain_name_hiding_a_vba_project_is_cleaned_too(kind: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / f"in.{kind}", kind, b.hidden_vba)
    assert detect(src).type == f"{kind[:-1]}m"  # detection already sees through the name
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.vba_project"] == 1
    assert not any("vbaProject" in name for name in b.part_names(dst))
    b.assert_oletools_clean(dst)
    b.assert_package_clean(dst)


def test_pipeline_releases_a_docm_as_docx(tmp_path: Path) -> None:
    src = b.build(tmp_path / "議事録.docm", "docx", b.macros)

    class RebuildOffice:
        def rule_for(self, type_name: str) -> Rule | None:
            return Rule(("rebuild",))

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = process_file(src, src.name, scratch, RebuildOffice(), Limits(), Registry([OoxmlRebuild()]))
    assert outcome.verdict == "released", outcome.reason
    assert outcome.output is not None and outcome.output.name == "議事録.docx"
    assert outcome.output.type == "docx"


# -- Word field codes ---------------------------------------------------------------------


def test_dde_fields_lose_their_code_and_keep_their_result(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx", b.dde_fields)
    before = b.oletools_view(src)
    assert len(before.dde.splitlines()) == 2  # msodde's DDE filter misses the quoted name
    assert len(before.fields.splitlines()) == 3
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.dde_field"] == 3
    body = member(dst, "word/document.xml")
    assert "instrText" not in body and "fldSimple" not in body and "fldChar" not in body
    for result in ("DDE結果", "簡易", "小文字"):
        assert result in body
    assert b.oletools_view(dst).fields == ""


def test_a_dde_field_inside_a_deleted_revision_goes_too(tmp_path: Path) -> None:
    """Rejecting the revision would bring the field back, so its code counts as code."""

    def deleted_dde(package: b.Package) -> None:
        b.append_to_body(
            package,
            '<w:p><w:del w:id="7" w:author="x"><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            '<w:r><w:delInstrText> DDEAUTO cmd "/c calc"</w:delInstrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:del></w:p>',
        )

    src = b.build(tmp_path / "in.docx", "docx", deleted_dde)
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.dde_field"] == 1
    assert "DDEAUTO" not in member(dst, "word/document.xml")


def test_include_and_link_fields_go_harmless_fields_stay(tmp_path: Path) -> None:
    def page_field(package: b.Package) -> None:
        b.append_to_body(
            package,
            '<w:p><w:fldSimple w:instr=" PAGE \\* MERGEFORMAT "><w:r><w:t>1</w:t></w:r></w:fldSimple></w:p>',
        )

    src = b.build(tmp_path / "in.docx", "docx", b.include_fields, page_field)
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.external_field"] == 3
    assert b.oletools_view(dst).fields.split() == ["PAGE", "\\*", "MERGEFORMAT"]


def test_a_field_whose_name_is_computed_by_a_nested_field_goes(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx", b.computed_field)
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.computed_field"] == 1
    texts = b.texts_in(dst)["word/document.xml"]
    assert "計算" in texts  # the outer field's shown result
    assert "DDEAUTO" not in texts  # the nested field's result was part of the code
    assert "instrText" not in member(dst, "word/document.xml")


#: Field instructions that reach the share \\evil, in the spellings Word accepts; each
#: must lose its code (the shown text stays).
EVIL_FIELDS = {
    "tooltip switch before the target": r' HYPERLINK \o "tip" "\\\\evil\\share\\x.docx" ',
    "frame switch before the target": r' HYPERLINK \t "_blank" "\\\\evil\\share\\x.docx" ',
    "lower case and extra spaces": r'   hyperlink     "\\\\evil\\share\\x.docx"   ',
    "unquoted doubled UNC": r" HYPERLINK \\\\evil\\share\\x.docx ",
    "unquoted single UNC": r" HYPERLINK \\evil\share\x.docx ",
    "file URL": r' HYPERLINK "file:///\\\\evil/share/x.exe" ',
    "target glued to the keyword": r' HYPERLINK"file://evil/share/x.exe" ',
    "include picture with \\d": r' INCLUDEPICTURE \d "\\\\evil\\share\\p.png" \* MERGEFORMATINET ',
    "macro button": r" MACROBUTTON FileOpen evil ",
}


@pytest.mark.parametrize("where", ["complex", "simple"])
@pytest.mark.parametrize("case", sorted(EVIL_FIELDS))
def test_fields_reaching_out_lose_their_code_in_every_spelling(case: str, where: str, tmp_path: Path) -> None:
    instruction = EVIL_FIELDS[case]

    def evil_field(package: b.Package) -> None:
        if where == "complex":  # split mid-word over two runs, as Word does on edits
            markup = b.complex_field([instruction[:7], instruction[7:]], "表示文字")
        else:
            attribute = instruction.replace("&", "&amp;").replace('"', "&quot;")
            markup = (
                f'<w:p><w:fldSimple w:instr="{attribute}"><w:r><w:t>表示文字</w:t></w:r></w:fldSimple></w:p>'
            )
        b.append_to_body(package, markup)

    src = b.build(tmp_path / "in.docx", "docx", evil_field)
    dst, report = rebuild(src, tmp_path)
    assert sum(removed_counts(report).values()) >= 1
    assert_no_field_reaches(dst, "evil")
    assert "表示文字" in b.texts_in(dst)["word/document.xml"]


def test_a_hyperlink_whose_target_a_nested_field_computes_goes(tmp_path: Path) -> None:
    """{ HYPERLINK "{ REF evil }" }: the target is known only when Word updates it."""

    def nested(package: b.Package) -> None:
        b.append_to_body(
            package,
            '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            '<w:r><w:instrText xml:space="preserve"> HYPERLINK "</w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            '<w:r><w:instrText xml:space="preserve"> REF evil </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>\\\\evil\\x</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
            '<w:r><w:instrText xml:space="preserve">" </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>表示文字</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>',
        )

    src = b.build(tmp_path / "in.docx", "docx", nested)
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.computed_field"] == 1
    assert_no_field_reaches(dst, "evil")
    assert b.texts_in(dst)["word/document.xml"][-1:] == ["表示文字"]


def test_a_web_hyperlink_with_switches_around_it_stays(tmp_path: Path) -> None:
    instruction = r' HYPERLINK \o "市のサイト" "https://www.city.example.lg.jp/" \t "_blank" '

    def web_link(package: b.Package) -> None:
        b.append_to_body(package, b.complex_field([instruction], "市のサイト"))

    src = b.build(tmp_path / "in.docx", "docx", web_link)
    dst, report = rebuild(src, tmp_path)
    assert "ooxml.hyperlink" not in removed_counts(report)
    assert field_instructions(dst) == [instruction]
    (tmp_path / "remove").mkdir()
    _, report = rebuild(src, tmp_path / "remove", links="remove")
    assert removed_counts(report)["ooxml.hyperlink"] == 1


def field_instructions(path: Path) -> list[str]:
    """Every field instruction in word/document.xml, read independently with zipfile and
    ElementTree: simple fields' attributes, and the instrText of complex fields joined."""
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(path) as archive:
        root = ET.fromstring(archive.read("word/document.xml"))
    found: list[str] = []
    stack: list[list[str]] = []
    for element in root.iter():
        if element.tag == f"{w}fldSimple":
            found.append(element.get(f"{w}instr", ""))
        elif element.tag == f"{w}fldChar" and element.get(f"{w}fldCharType") == "begin":
            stack.append([])
        elif element.tag == f"{w}fldChar" and element.get(f"{w}fldCharType") == "end" and stack:
            found.append("".join(stack.pop()))
        elif element.tag in (f"{w}instrText", f"{w}delInstrText"):
            (stack[-1] if stack else found).append(element.text or "")
    return found + ["".join(pieces) for pieces in stack]


def assert_no_field_reaches(path: Path, marker: str) -> None:
    assert not [i for i in field_instructions(path) if marker in i]
    assert marker not in member(path, "word/document.xml")


@pytest.mark.parametrize(
    ("links", "kept"),
    [("keep-web", 1), ("remove", 0)],
)
def test_hyperlink_fields_follow_the_links_option(links: str, kept: int, tmp_path: Path) -> None:
    def hyperlink_fields(package: b.Package) -> None:
        b.append_to_body(
            package,
            b.complex_field([' HYPERLINK "https://www.city.example.lg.jp/" '], "市のサイト")
            + b.complex_field([' HYPERLINK "file:///C:/evil.exe" '], "ファイル")
            + b.complex_field([' HYPERLINK \\l "section2" '], "第2節"),
        )

    src = b.build(tmp_path / "in.docx", "docx", hyperlink_fields)
    dst, _ = rebuild(src, tmp_path, links=links)
    instructions = [line.split()[1] for line in b.oletools_view(dst).fields.splitlines()]
    assert instructions == ['"https://www.city.example.lg.jp/"'] * kept + ["\\l"]
    assert b.texts_in(dst) == b.texts_in(src)


# -- hyperlinks, metadata -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_links_remove_drops_every_hyperlink_but_keeps_the_text(kind: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / f"in.{kind}", kind, b.hyperlinks)
    dst, report = rebuild(src, tmp_path, links="remove")
    assert removed_counts(report)["ooxml.hyperlink"] == 5
    assert [r for r in b.relationships_in(dst) if r[3] == "External"] == []
    b.assert_oletools_clean(dst, web_links=False)
    assert b.texts_in(dst) == b.texts_in(src)


def test_keep_web_keeps_exactly_the_web_links(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx", b.hyperlinks)
    dst, _ = rebuild(src, tmp_path)
    external = sorted(target for _, _, target, mode in b.relationships_in(dst) if mode == "External")
    assert external == sorted(b.WEB_LINKS)
    body = ET.fromstring(member(dst, "word/document.xml"))
    hyperlinks = list(body.iter(f"{{{b.W}}}hyperlink"))
    assert len(hyperlinks) == 5  # every link keeps its text; three lost their target
    assert sum(1 for h in hyperlinks if f"{{{b.R}}}id" in h.attrib) == 2


def test_metadata_remove_strips_properties_and_authors_but_keeps_comments(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx", b.comments_and_revisions)
    dst, report = rebuild(src, tmp_path)
    assert {
        "ooxml.comment_author",
        "ooxml.document_properties",
        "ooxml.revision_author",
        "ooxml.revision_ids",
    } <= set(removed_counts(report))
    assert "ooxml.comments" not in removed_counts(report)  # comments follow their own option
    comments = member(dst, "word/comments.xml")
    assert "要確認" in comments and "山田" not in comments
    assert list(ET.fromstring(member(dst, "docProps/core.xml"))) == []
    app = member(dst, "docProps/app.xml")
    assert "○○市役所" not in app and "HyperlinkBase" not in app
    body = member(dst, "word/document.xml")
    for trace in ("山田", "佐藤", "rsid"):
        assert trace not in body
    assert "commentReference" in body and "commentRangeStart" in body
    assert "<w:t>追記</w:t>" in body  # the inserted text itself stays


def test_metadata_keep_leaves_them_but_still_drops_the_hyperlink_base(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx", b.comments_and_revisions)
    dst, report = rebuild(src, tmp_path, metadata="keep")
    assert "word/comments.xml" in b.part_names(dst)
    assert "山田 太郎" in member(dst, "docProps/core.xml")
    assert "佐藤 花子" in member(dst, "word/document.xml")
    assert "○○市役所" in member(dst, "docProps/app.xml")
    assert removed_counts(report) == {"ooxml.hyperlink_base": 1}
    core = ET.fromstring(member(dst, "docProps/core.xml"))
    created = core.find("{http://purl.org/dc/terms/}created")
    assert created is not None
    # xsi:type names a prefix inside its value: it must still resolve
    prefix = created.get("{http://www.w3.org/2001/XMLSchema-instance}type", "").split(":")[0]
    assert f'xmlns:{prefix}="http://purl.org/dc/terms/"' in member(dst, "docProps/core.xml")


# -- Excel specifics -------------------------------------------------------------------------


def test_macro_sheet_removal_renumbers_sheets_and_drops_auto_open(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.xlsm", "xlsx", b.xlm_macro_sheet)
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.xlm_macrosheet"] == 1
    workbook = ET.fromstring(member(dst, "xl/workbook.xml"))
    ns = {"x": b.S}
    assert [s.get("name") for s in workbook.iterfind("x:sheets/x:sheet", ns)] == ["通知"]
    names = {
        d.get("name"): d.get("localSheetId") for d in workbook.iterfind("x:definedNames/x:definedName", ns)
    }
    assert names == {"Print_Area": "0"}
    view = workbook.find("x:bookViews/x:workbookView", ns)
    assert view is not None and view.get("activeTab") == "0"


def test_dde_and_external_formulas_keep_their_cached_values(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.xlsx", "xlsx", b.dde_link)
    assert b.oletools_view(src).dde == "cmd /c calc.exe"
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.external_formula"] == 2
    sheet = ET.fromstring(member(dst, "xl/worksheets/sheet1.xml"))
    cells = {c.get("r"): c for c in sheet.iter(f"{{{b.S}}}c")}
    assert cells["C10"].find(f"{{{b.S}}}f") is None
    assert cells["C10"].findtext(f"{{{b.S}}}v") == "7"
    assert cells["B9"].findtext(f"{{{b.S}}}f") == "SUM(1,2)"  # an ordinary formula stays
    assert "externalReferences" not in member(dst, "xl/workbook.xml")


def test_a_workbook_of_macro_sheets_only_leaves_nothing_to_release(tmp_path: Path) -> None:
    def only_macros(package: b.Package) -> None:
        b.xlm_macro_sheet(package)
        package.replace("xl/workbook.xml", '<sheet name="通知" sheetId="1" r:id="rIdSheet1"/>', "")

    src = b.build(tmp_path / "in.xlsm", "xlsx", only_macros)
    with pytest.raises(PolicyError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code == "ooxml.nothing_left"
    assert not (tmp_path / "out.bin").exists()


# -- XML attacks and malformed packages ------------------------------------------------------


@pytest.mark.parametrize("attack", [b.xxe, b.billion_laughs])
@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_dtds_and_entities_are_refused(kind: str, attack: b.Builder, tmp_path: Path) -> None:
    src = b.build(tmp_path / f"in.{kind}", kind, attack)
    with pytest.raises(MalformedError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code == "ooxml.xml_attack"


@pytest.mark.parametrize(
    "member_name", ["[Content_Types].xml", "_rels/.rels", "word/_rels/document.xml.rels"]
)
def test_a_dtd_in_content_types_or_relationships_is_refused(member_name: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx")
    with zipfile.ZipFile(src) as archive:
        original = archive.read(member_name)
    hostile = original.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e SYSTEM "http://attacker.example/">]>', 1)
    with pytest.raises(MalformedError) as caught:
        rebuild(rewrite_member(src, tmp_path / "hostile.docx", member_name, hostile), tmp_path)
    assert caught.value.code == "ooxml.xml_attack"


def _without_content_types(package: b.Package) -> None:
    package.content_types_xml = lambda: b"<Types/>"


def _two_main_documents(package: b.Package) -> None:
    package.relate("", b.REL + "officeDocument", "word/styles.xml")


def _duplicate_relationship_id(package: b.Package) -> None:
    package.relate("word/document.xml", b.REL + "styles", "styles.xml", rid="rIdDup")
    package.relate("word/document.xml", b.REL + "settings", "settings.xml", rid="rIdDup")


def _not_xml(package: b.Package) -> None:
    package.add("word/styles.xml", b"<w:styles", b.DOC + "wordprocessingml.styles+xml")


def _too_deep(package: b.Package) -> None:
    b.append_to_body(package, "<w:p>" * 500 + "</w:p>" * 500)


@pytest.mark.parametrize(
    "breakage", [_without_content_types, _two_main_documents, _duplicate_relationship_id, _not_xml, _too_deep]
)
def test_unsound_packages_are_malformed(breakage: b.Builder, tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx", breakage)
    with pytest.raises(MalformedError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code == "ooxml.malformed"
    assert not (tmp_path / "out.bin").exists()


def test_duplicate_member_names_are_refused_before_reading(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx")
    dst = tmp_path / "dup.docx"
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))
        with pytest.warns(UserWarning, match="Duplicate name"):
            new.writestr("word/document.xml", b"<w:document/>")
    with pytest.raises(MalformedError) as caught:
        rebuild(dst, tmp_path)
    assert caught.value.code == "ooxml.malformed"


def _zeros_picture(package: b.Package) -> None:
    package.add("word/media/zeros.png", bytes(3 * MiB))


@pytest.mark.parametrize(
    ("limits", "builder"),
    [
        (Limits(archive_members=5), b.macros),
        (Limits(archive_total_size=2000), b.macros),
        (Limits(archive_member_size=MiB, archive_ratio=100), _zeros_picture),
    ],
)
def test_package_limits_are_the_archive_limits(limits: Limits, builder: b.Builder, tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx", builder)
    with pytest.raises(LimitError) as caught:
        rebuild(src, tmp_path, limits)
    assert caught.value.code == "archive.bomb"


def test_the_file_size_limit_applies_before_anything_is_read(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx")
    with pytest.raises(LimitError) as caught:
        rebuild(src, tmp_path, Limits(max_file_size=1000))
    assert caught.value.code == "input.too_large"


@pytest.mark.parametrize(("option", "value"), [("links", "all"), ("metadata", "strip"), ("embedded", "keep")])
def test_an_unknown_option_value_is_a_configuration_error(option: str, value: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.docx", "docx")
    with pytest.raises(PolicyError, match=f"policy.bad_option: OoxmlRebuild option {option}"):
        rebuild(src, tmp_path, **{option: value})


def test_decompressed_bytes_draw_on_the_enclosing_archive_budget(tmp_path: Path) -> None:
    """Inside a ZIP, the parts' real decompressed bytes count against the whole tree."""
    src = b.build(tmp_path / "in.docx", "docx")
    with tree_budget(Limits()) as budget:
        budget.bytes_left = 500  # what the enclosing archive has left
        with pytest.raises(LimitError) as caught:
            rebuild(src, tmp_path)
    assert caught.value.code == "archive.bomb"
    assert "archive_total_size" in caught.value.detail


def test_an_encrypted_office_file_is_refused_even_without_detection(tmp_path: Path) -> None:
    src = tmp_path / "in.docx"
    src.write_bytes(b.encrypted_office())
    with pytest.raises(EncryptedError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code == "office.encrypted"


def test_a_legacy_ole_document_is_not_an_ooxml_package(tmp_path: Path) -> None:
    src = tmp_path / "in.docx"
    src.write_bytes(b.compound_file({"WordDocument": bytes(64)}))
    with pytest.raises(MalformedError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code == "ooxml.malformed"


def test_xlsb_is_refused_by_name(tmp_path: Path) -> None:
    def binary_workbook(package: b.Package) -> None:
        package.parts["xl/workbook.xml"] = (b.EXCEL_BINARY_MAIN, b"\x83\x01\x00")

    src = b.build(tmp_path / "in.xlsb", "xlsx", binary_workbook)
    for sanitizer in (XlsbRefusal(), REBUILD):
        with pytest.raises(PolicyError) as caught:
            sanitizer.sanitize(src, tmp_path / "out.bin", {}, Limits())
        assert caught.value.code == "ooxml.xlsb"


# -- the package structure Office needs --------------------------------------------------------


def test_mc_ignorable_and_requires_prefixes_stay_declared(tmp_path: Path) -> None:
    def alternate_content(package: b.Package) -> None:
        b.append_to_body(
            package,
            '<mc:AlternateContent><mc:Choice Requires="w14"><w:p><w:r><w:t>新</w:t></w:r></w:p></mc:Choice>'
            '<mc:Choice Requires="wps"><w:p><w:r><w:t>未宣言</w:t></w:r></w:p></mc:Choice>'
            "<mc:Fallback><w:p><w:r><w:t>旧</w:t></w:r></w:p></mc:Fallback></mc:AlternateContent>",
        )

    src = b.build(tmp_path / "in.docx", "docx", alternate_content)
    dst, report = rebuild(src, tmp_path)
    body = member(dst, "word/document.xml")
    assert 'mc:Ignorable="w14 wp14"' in body
    assert f'xmlns:wp14="{b.WP14}"' in body  # declared although no name uses it
    assert "未宣言" not in body and "新" in body and "旧" in body
    assert ("ooxml.unresolvable_markup", "dropped") in {(f.construct, f.action) for f in report.findings}
    for name, data in b.xml_parts(dst):
        assert b.undeclared_ignorable_prefixes(data) == set(), name


def test_a_prefix_bound_twice_is_resolved_in_its_own_scope(tmp_path: Path) -> None:
    def rebound_prefix(package: b.Package) -> None:
        b.append_to_body(
            package,
            '<w:p xmlns:w14="urn:other" w14:x="1"><mc:AlternateContent><mc:Choice Requires="w14">'
            "<w:r><w:t>別名前空間</w:t></w:r></mc:Choice></mc:AlternateContent></w:p>",
        )

    src = b.build(tmp_path / "in.docx", "docx", rebound_prefix)
    dst, _ = rebuild(src, tmp_path)
    body = member(dst, "word/document.xml")
    root_tag = body[body.index("<w:document") : body.index(">", body.index("<w:document"))]
    assert 'mc:Ignorable="w14 wp14"' in root_tag and f'xmlns:w14="{b.W14}"' in root_tag
    other = re.search(r'xmlns:(\w+)="urn:other"', root_tag)
    assert other is not None and other.group(1) != "w14"
    assert f'Requires="{other.group(1)}"' in body  # the Choice still names urn:other
    assert b.texts_in(dst) == b.texts_in(src)


def test_a_picture_that_is_not_one_is_dropped_with_its_reference(tmp_path: Path) -> None:
    def fake_picture(package: b.Package) -> None:
        package.add("word/media/image1.png", b.ole_object())
        rid = package.relate("word/document.xml", b.REL + "image", "media/image1.png")
        b.append_to_body(
            package, f'<w:p><w:r><w:pict><v:shape><v:imagedata r:id="{rid}"/></v:shape></w:pict></w:r></w:p>'
        )

    src = b.build(tmp_path / "in.docx", "docx", fake_picture)
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["ooxml.not_an_image"] == 1
    assert "word/media/image1.png" not in b.part_names(dst)
    assert "r:id" not in member(dst, "word/document.xml")
    b.assert_oletools_clean(dst)


def test_unreachable_and_unknown_parts_are_dropped(tmp_path: Path) -> None:
    def extras(package: b.Package) -> None:
        package.add("word/stray.xml", "<x/>", "application/xml")
        package.add("word/gadget.xml", "<x/>", "application/xml")
        package.relate("word/document.xml", "http://example.com/relationships/gadget", "gadget.xml")

    src = b.build(tmp_path / "in.docx", "docx", extras)
    dst, report = rebuild(src, tmp_path)
    dropped = {f.construct for f in report.findings if f.action == "dropped"}
    assert {"ooxml.unreferenced_part", "ooxml.unknown_part"} <= dropped
    assert not {"word/stray.xml", "word/gadget.xml"} & set(b.part_names(dst))


def test_outputs_order_members_as_libmagic_expects(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pptx", "pptx", b.ole_embedding)
    dst, _ = rebuild(src, tmp_path)
    assert b.part_names(dst)[:3] == ["[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml"]


# -- independent verification -----------------------------------------------------------------


def _package(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


_TYPES = (
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Override PartName="/word/document.xml" ContentType="{main}"/></Types>'
)
_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="{type}" Target="{target}"{mode}/></Relationships>'
)
_DOCUMENT = f'<w:document xmlns:w="{b.W}"><w:body>{{body}}</w:body></w:document>'


@pytest.mark.parametrize(
    ("main", "rel_type", "target", "mode", "body"),
    [
        (b.WORD_MACRO_MAIN, b.REL + "officeDocument", "word/document.xml", "", ""),
        (b.WORD_MAIN, b.REL + "officeDocument", "word/missing.xml", "", ""),
        (b.WORD_MAIN, b.REL + "attachedTemplate", "http://x/t.dotm", ' TargetMode="External"', ""),
        (b.WORD_MAIN, b.REL + "hyperlink", "file:///C:/x.exe", ' TargetMode="External"', ""),
        (
            b.WORD_MAIN,
            b.REL + "officeDocument",
            "word/document.xml",
            "",
            "<w:r><w:instrText> DDEAUTO x</w:instrText></w:r>",
        ),
        (
            b.WORD_MAIN,
            b.REL + "officeDocument",
            "word/document.xml",
            "",
            '<w:fldSimple w:instr="\\INCLUDETEXT x"/>',
        ),
        (b.WORD_MAIN, b.REL + "officeDocument", "word/document.xml", "", "<w:altChunk/>"),
    ],
)
def test_verification_catches_what_the_rebuild_must_never_write(
    main: str, rel_type: str, target: str, mode: str, body: str
) -> None:
    data = _package(
        {
            "[Content_Types].xml": _TYPES.format(main=main),
            "_rels/.rels": _RELS.format(type=rel_type, target=target, mode=mode),
            "word/document.xml": _DOCUMENT.format(body=body),
        }
    )
    with pytest.raises(VerifyError) as caught:
        verify_package(data, keep_web_links=True)
    assert caught.value.code == "ooxml.verify_failed"


def test_verification_passes_a_clean_package() -> None:
    data = _package(
        {
            "[Content_Types].xml": _TYPES.format(main=b.WORD_MAIN),
            "_rels/.rels": _RELS.format(type=b.REL + "officeDocument", target="word/document.xml", mode=""),
            "word/document.xml": _DOCUMENT.format(body="<w:p/>"),
        }
    )
    verify_package(data, keep_web_links=True)
