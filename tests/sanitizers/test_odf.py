"""OpenDocument rebuild: active content goes, the text stays, the file stays an OpenDocument.

Every security claim is re-checked by an independent zipfile and ElementTree walk
(``odf_builders.assert_clean``); LibreOffice itself opens the outputs of the documents it
wrote (tests marked slow).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from sanitizers.base import Limits, Registry, Report, Sanitizer
from sanitizers.detect import detect
from sanitizers.errors import EncryptedError, LimitError, MalformedError, SanitizeError
from sanitizers.odf import OdfRebuild
from sanitizers.pipeline import Rule, process_file
from sanitizers.verification import Expectation, verify_output
from tests.conftest import CORPUS
from tests.sanitizers import odf_builders as b
from tests.sanitizers.contract import RebuildContract, removed_counts

REBUILD = OdfRebuild()
KINDS = ("text", "spreadsheet", "presentation")


def rebuild(src: Path, tmp_path: Path, **options: str) -> tuple[Path, Report]:
    dst = tmp_path / f"out-{src.name}"
    report = REBUILD.sanitize(src, dst, options, Limits())
    return dst, report


def refusal(src: Path, tmp_path: Path, **options: str) -> SanitizeError:
    dst = tmp_path / "refused"
    with pytest.raises(SanitizeError) as caught:
        REBUILD.sanitize(src, dst, options, Limits())
    assert not dst.exists()
    return caught.value


class TestPackageContract(RebuildContract):
    def make_sanitizer(self) -> Sanitizer:
        return OdfRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        return b.build(tmp_path / "in.odt", "text", b.basic_macros, b.hyperlinks, b.linked_pictures)


class TestFlatContract(RebuildContract):
    def make_sanitizer(self) -> Sanitizer:
        return OdfRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        document = b.base("text")
        for builder in (b.basic_macros, b.hyperlinks, b.template_and_auto_reload, b.risky_settings):
            builder(document)
        return b.write_flat(document, tmp_path / "in.fodt")


# -- every hostile construct, in every kind that has it --------------------------------

HOSTILE_CASES = [(name, kind) for name, (kinds, _, _) in sorted(b.HOSTILE.items()) for kind in kinds]


def hostile(name: str, kind: str, flat: bool, tmp_path: Path) -> Path:
    document = b.base(kind)
    b.HOSTILE[name][1](document)
    if flat:
        return b.write_flat(document, tmp_path / f"in.{b.FLAT_EXTENSION[kind]}")
    return b.write(document, tmp_path / f"in.{b.EXTENSION[kind]}")


def in_markup(name: str, kind: str) -> bool:
    """Whether the construct lives in the markup (a flat document has no members to carry it)."""
    document = b.base(kind)
    b.HOSTILE[name][1](document)
    return not document.members


@pytest.mark.parametrize(
    ("name", "kind", "flat"),
    [(*case, False) for case in HOSTILE_CASES]
    + [(*case, True) for case in HOSTILE_CASES if in_markup(*case)],
)
def test_each_hostile_construct_is_removed_and_the_text_kept(
    name: str, kind: str, flat: bool, tmp_path: Path
) -> None:
    output_type = (b.FLAT_EXTENSION if flat else b.EXTENSION)[kind]
    dst, report = rebuild(hostile(name, kind, flat, tmp_path), tmp_path)
    assert b.HOSTILE[name][2] in removed_counts(report), report.findings
    assert report.output_type == output_type
    assert detect(dst, f"out.{output_type}").type == output_type
    (b.assert_flat_clean if flat else b.assert_clean)(dst)
    for text in b.TEXTS:
        assert text in b.texts(dst)


def test_the_mimetype_comes_first_and_stored_even_when_the_input_put_it_last(tmp_path: Path) -> None:
    document = b.base("text")
    document.mimetype_first = False
    dst, _ = rebuild(b.write(document, tmp_path / "in.odt"), tmp_path)
    b.assert_clean(dst)
    with zipfile.ZipFile(dst) as archive:
        assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.text"


def test_a_template_stays_a_template(tmp_path: Path) -> None:
    document = b.base("text")
    document.mimetype = b.MEDIA + "text-template"
    dst, report = rebuild(b.write(document, tmp_path / "in.ott"), tmp_path)
    assert report.output_type == "odt"
    assert detect(dst, "out.ott").type == "odt"
    with zipfile.ZipFile(dst) as archive:
        assert archive.read("mimetype") == (b.MEDIA + "text-template").encode()


# -- pictures ---------------------------------------------------------------------------


def test_package_pictures_are_rebuilt_and_renamed_and_linked_ones_go(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.odt", "text", b.package_pictures, b.linked_pictures, b.image_map)
    dst, report = rebuild(src, tmp_path)
    b.assert_clean(dst)
    pictures = [name for name in b.members(dst) if name.startswith("Pictures/")]
    assert len(pictures) == 2  # the payload PNG and the image map's, rebuilt; not the executable
    with zipfile.ZipFile(dst) as archive:
        assert all(b"appended archive" not in archive.read(name) for name in pictures)
    hrefs = [e.get(f"{{{b.XLINK}}}href") for e in b.part(dst, "content.xml").iter(f"{{{b.DRAW}}}image")]
    assert sorted(hrefs) == pictures
    assert removed_counts(report)["odf.linked_picture"] == 4  # three frames and a style's fill
    assert not b.part(dst, "styles.xml").findall(f".//{{{b.DRAW}}}fill-image")


def test_an_embedded_object_leaves_its_replacement_picture_in_its_frame(tmp_path: Path) -> None:
    src = b.build(
        tmp_path / "in.odt", "text", b.embedded_object_with_replacement, b.ole_object_without_replacement
    )
    dst, _ = rebuild(src, tmp_path)
    b.assert_clean(dst)
    frames = list(b.part(dst, "content.xml").iter(f"{{{b.DRAW}}}frame"))
    assert [f.get(f"{{{b.DRAW}}}name") for f in frames] == ["Object1"]  # the object without one is gone
    (image,) = frames[0]
    assert image.get(f"{{{b.XLINK}}}href", "").startswith("Pictures/")


def test_inline_pictures_of_a_flat_document_are_rebuilt_in_place(tmp_path: Path) -> None:
    import base64

    document = b.base("text")
    payload = base64.b64encode(b.PNG + b"trailing payload").decode()
    document.body += (
        '<text:p><draw:frame svg:width="1cm" svg:height="1cm" text:anchor-type="as-char"><draw:image>'
        f"<office:binary-data>{payload}</office:binary-data></draw:image></draw:frame>"
        '<draw:frame svg:width="1cm" svg:height="1cm" text:anchor-type="as-char"><draw:image>'
        "<office:binary-data>not base64 at all!</office:binary-data></draw:image></draw:frame></text:p>"
    )
    dst, report = rebuild(b.write_flat(document, tmp_path / "in.fodt"), tmp_path)
    b.assert_flat_clean(dst)
    root = b.document_root(dst)
    (data,) = root.iter(f"{{{b.OFFICE}}}binary-data")
    assert b"trailing payload" not in base64.b64decode(data.text or "")
    assert "odf.unreadable_picture" in {f.construct for f in report.findings}


# -- hyperlinks, formulas, settings -------------------------------------------------------


def test_web_links_stay_and_the_rest_lose_their_target_not_their_text(tmp_path: Path) -> None:
    dst, report = rebuild(b.build(tmp_path / "in.odt", "text", b.hyperlinks), tmp_path)
    targets = [e.get(f"{{{b.XLINK}}}href") for e in b.part(dst, "content.xml").iter(f"{{{b.TEXT}}}a")]
    assert targets == ["https://www.city.example.lg.jp/", "mailto:info@city.example.lg.jp", "#Heading"]
    assert removed_counts(report)["odf.hyperlink"] == 4
    for label in ("電卓", "共有", "スクリプト", "マクロ"):
        assert label in b.texts(dst)


def test_image_map_areas_and_url_buttons_follow_the_link_rule(tmp_path: Path) -> None:
    dst, _ = rebuild(b.build(tmp_path / "in.odt", "text", b.image_map, b.form_controls), tmp_path)
    content = b.part(dst, "content.xml")
    areas = [e.get(f"{{{b.XLINK}}}href") for e in content.iter(f"{{{b.DRAW}}}area-rectangle")]
    assert areas == ["https://www.city.example.lg.jp/"]
    buttons = {
        e.get(f"{{{b.FORM}}}name"): e.get(f"{{{b.XLINK}}}href") for e in content.iter(f"{{{b.FORM}}}button")
    }
    assert buttons == {"Push": None, "Web": "https://www.city.example.lg.jp/", "Local": None}
    assert [b.local(e.tag) for e in content.iter() if "xforms" in e.tag] == ["model", "instance"]


def test_links_remove_drops_every_hyperlink_but_keeps_in_document_jumps_text(tmp_path: Path) -> None:
    dst, _ = rebuild(b.build(tmp_path / "in.odt", "text", b.hyperlinks), tmp_path, links="remove")
    assert list(b.part(dst, "content.xml").iter(f"{{{b.TEXT}}}a")) == []
    assert "市のサイト" in b.texts(dst)


def test_formulas_reaching_outside_lose_the_formula_and_keep_their_value(tmp_path: Path) -> None:
    dst, report = rebuild(b.build(tmp_path / "in.ods", "spreadsheet", b.external_formulas), tmp_path)
    cells = [
        c
        for c in b.part(dst, "content.xml").iter(f"{{{b.TABLE}}}table-cell")
        if c.get(f"{{{b.OFFICE}}}value")
    ]
    assert [c.get(f"{{{b.TABLE}}}formula") for c in cells] == [None, None, None, None, "of:=SUM([.A1:.B1])"]
    assert all(c.get(f"{{{b.OFFICE}}}value") == "42" for c in cells)
    assert removed_counts(report)["odf.external_formula"] == 6  # four cells, a name, a range
    assert list(b.part(dst, "content.xml").iter(f"{{{b.TABLE}}}named-expression")) == []


def test_settings_keep_layout_flags_only(tmp_path: Path) -> None:
    dst, report = rebuild(b.build(tmp_path / "in.odt", "text", b.risky_settings), tmp_path)
    items = {
        e.get(f"{{{b.CONFIG}}}name"): e.text
        for e in b.part(dst, "settings.xml").iter(f"{{{b.CONFIG}}}config-item")
    }
    assert items == {"AddParaTableSpacing": "true", "PrinterIndependentLayout": "high-resolution"}
    assert removed_counts(report)["odf.printer_settings"] == 2


# -- metadata and comments ----------------------------------------------------------------

AUTHOR = "山田太郎"
COMMENTED = (
    '<text:p>本文<office:annotation office:name="c1"><dc:creator>{author}</dc:creator>'
    "<dc:date>2026-04-01T09:00:00</dc:date><meta:creator-initials>YT</meta:creator-initials>"
    '<text:p>確認してください</text:p></office:annotation>範囲<office:annotation-end office:name="c1"/></text:p>'
    '<text:tracked-changes><text:changed-region text:id="ct1"><text:insertion><office:change-info>'
    "<dc:creator>{author}</dc:creator><dc:date>2026-04-01T09:00:00</dc:date></office:change-info>"
    "</text:insertion></text:changed-region></text:tracked-changes>"
)


def personal(document: b.Document) -> None:
    document.body += COMMENTED.format(author=AUTHOR)
    document.meta += (
        f"<meta:initial-creator>{AUTHOR}</meta:initial-creator><dc:creator>{AUTHOR}</dc:creator>"
        '<dc:title>住民税</dc:title><meta:user-defined meta:name="部署">総務課</meta:user-defined>'
    )
    document.members["Thumbnails/thumbnail.png"] = b.PNG


def test_metadata_remove_drops_properties_thumbnail_and_authors_but_keeps_comments(tmp_path: Path) -> None:
    dst, report = rebuild(b.build(tmp_path / "in.odt", "text", personal), tmp_path)
    b.assert_clean(dst)
    assert "Thumbnails/thumbnail.png" not in b.members(dst)
    with zipfile.ZipFile(dst) as archive:
        for name in archive.namelist():
            assert AUTHOR.encode() not in archive.read(name), name
    meta = b.part(dst, "meta.xml").find(f"{{{b.OFFICE}}}meta")
    assert meta is not None and [b.local(e.tag) for e in meta] == ["generator"]
    assert "確認してください" in b.texts(dst)
    assert {"odf.comment_author", "odf.revision_author", "odf.document_properties", "odf.thumbnail"} <= set(
        removed_counts(report)
    )


def test_metadata_keep_keeps_them(tmp_path: Path) -> None:
    dst, _ = rebuild(b.build(tmp_path / "in.odt", "text", personal), tmp_path, metadata="keep")
    b.assert_clean(dst)
    assert "Thumbnails/thumbnail.png" in b.members(dst)
    assert AUTHOR in "".join(b.part(dst, "meta.xml").itertext())
    assert AUTHOR in "".join(b.part(dst, "content.xml").itertext())


def test_comments_remove_drops_comments_and_their_range_ends(tmp_path: Path) -> None:
    dst, report = rebuild(b.build(tmp_path / "in.odt", "text", personal), tmp_path, comments="remove")
    content = b.part(dst, "content.xml")
    assert not [e for e in content.iter() if b.local(e.tag) in ("annotation", "annotation-end")]
    assert "確認してください" not in b.texts(dst)
    assert "本文範囲" in b.texts(dst)
    assert removed_counts(report)["odf.comments"] == 1


# -- refusals -------------------------------------------------------------------------------


def test_a_doctype_or_entity_anywhere_is_an_xml_attack(tmp_path: Path) -> None:
    document = b.base("text")
    document.content_prefix = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    assert refusal(b.write(document, tmp_path / "in.odt"), tmp_path).code == "odf.xml_attack"
    assert refusal(b.write_flat(document, tmp_path / "in.fodt"), tmp_path).code == "odf.xml_attack"
    bomb = b.base("text")
    bomb.styles = "<!-- <!ENTITY lol 'lol'> -->"
    assert refusal(b.write(bomb, tmp_path / "bomb.odt"), tmp_path).code == "odf.xml_attack"


def test_an_encrypted_document_is_refused_as_encrypted(tmp_path: Path) -> None:
    document = b.base("text")
    document.manifest_inside = (
        '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA">'
        '<manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/>'
        "</manifest:encryption-data>"
    )
    error = refusal(b.write(document, tmp_path / "secret.odt"), tmp_path)
    assert isinstance(error, EncryptedError) and error.code == "office.encrypted"


@pytest.mark.parametrize(
    "damage",
    ["no content", "no manifest", "no mimetype", "drawing", "not xml", "wrong root"],
)
def test_a_package_that_is_not_a_sound_document_is_malformed(damage: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.odt", "text")
    broken = tmp_path / "broken.odt"
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(broken, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if (damage, info.filename) in {("no content", "content.xml"), ("no manifest", "META-INF/manifest.xml"),
                                           ("no mimetype", "mimetype")}:  # fmt: skip
                continue
            if damage == "drawing" and info.filename == "mimetype":
                data = b"application/vnd.oasis.opendocument.graphics"
            if damage == "not xml" and info.filename == "content.xml":
                data = b"<office:document-content"
            if damage == "wrong root" and info.filename == "content.xml":
                data = b.base("text").meta_xml().encode()
            new.writestr(info, data)
    error = refusal(broken, tmp_path)
    assert isinstance(error, MalformedError) and error.code == "odf.malformed"


def test_a_zip_bomb_is_stopped_by_the_archive_budget(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.odt", "text")
    with zipfile.ZipFile(src, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("content2.xml", b"<a/>" + b" " * (8 << 20))
    error = refusal(src, tmp_path)
    assert isinstance(error, LimitError) and error.code == "archive.bomb"


def test_a_flat_document_whose_head_would_read_as_a_pdf_is_refused(tmp_path: Path) -> None:
    """Found by the fuzz harness: a namespace spelling ``%PDF-`` lands in the first KiB of
    the output, where PDF readers look for their header."""
    document = b.base("text")
    document.body += '<text:p xmlns:a="urn:%PDF-1.7">moved to the root by the rebuild</text:p>'
    assert refusal(b.write_flat(document, tmp_path / "in.fodt"), tmp_path).code == "odf.malformed"


def test_a_flat_document_of_another_kind_is_malformed(tmp_path: Path) -> None:
    document = b.base("text")
    document.mimetype = b.MEDIA + "graphics"
    assert refusal(b.write_flat(document, tmp_path / "in.fodt"), tmp_path).code == "odf.malformed"


# -- the pipeline and the independent check -----------------------------------------------


class RebuildElsePdf:
    def rule_for(self, type_name: str) -> Rule | None:
        return Rule(("rebuild", "pdf"))


@pytest.mark.parametrize("kind", KINDS)
def test_the_pipeline_releases_a_rebuild_the_verifier_accepts(kind: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / f"議事録.{b.EXTENSION[kind]}", kind, *b.EVERYTHING[kind])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = process_file(src, src.name, scratch, RebuildElsePdf(), Limits(), Registry([OdfRebuild()]))
    assert outcome.verdict == "released", outcome.reason
    assert outcome.method == "rebuild" and outcome.output is not None and outcome.output_path is not None
    assert outcome.output.name == src.name
    digest = verify_output(outcome.output_path, Expectation(b.EXTENSION[kind], "rebuild"), Limits())
    assert digest == outcome.output.sha256


# -- LibreOffice's own documents ----------------------------------------------------------

LETTER_HTML = (
    '<html><head><meta charset="utf-8"><title>お知らせ</title><meta name="author" content="山田太郎"></head>'
    "<body><h1>住民税の通知について</h1><p>Residents' tax notice</p>"
    '<p><a href="https://www.city.example.lg.jp/">市のサイト</a></p></body></html>'
)
LETTER_RTF = (
    r"{\rtf1\ansi\ansicpg932\deff0{\fonttbl{\f0\fnil\fcharset128 MS Mincho;}}"
    r"{\info{\author \u23665?\u30000?\u22826?\u37070?}{\title notice}}"
    r"\f0 \u20303?\u27665?\u31246?\u12398?\u36890?\u30693?\u12395?\u12388?\u12356?\u12390?\par Residents' tax notice\par}"
)


def with_basic_macros(odt: Path, dst: Path) -> Path:
    """A LibreOffice document given a Basic library, its manifest entries and an on-load binding."""
    with zipfile.ZipFile(odt) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "content.xml":
                data = data.replace(
                    b"<office:scripts/>", f"<office:scripts>{b.ON_LOAD}</office:scripts>".encode()
                )
                assert b"dom:load" in data
            elif info.filename == "META-INF/manifest.xml":
                entries = "".join(
                    f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="text/xml"/>'
                    for name in b.BASIC_MEMBERS
                )
                data = data.replace(b"</manifest:manifest>", entries.encode() + b"</manifest:manifest>")
            new.writestr(info, data)
        for name, member in b.BASIC_MEMBERS.items():
            new.writestr(name, member)
    return dst


@pytest.mark.slow
@pytest.mark.parametrize("source", ["letter.html", "letter.rtf"])
def test_a_libreoffice_document_with_macros_opens_in_libreoffice_after_the_rebuild(
    source: str, tmp_path: Path
) -> None:
    written = tmp_path / source
    written.write_bytes(LETTER_HTML.encode() if written.suffix == ".html" else LETTER_RTF.encode("ascii"))
    odt = b.convert(written, "odt", tmp_path / "made")
    assert "山田太郎" in "".join(b.part(odt, "meta.xml").itertext())
    src = with_basic_macros(odt, tmp_path / "macros.odt")
    dst, report = rebuild(src, tmp_path)
    counts = removed_counts(report)
    assert counts["odf.basic_macro"] == 3 and counts["odf.event_listener"] == 1
    b.assert_clean(dst)
    assert "山田太郎" not in "".join(b.part(dst, "meta.xml").itertext())
    assert "住民税の通知について" in b.texts(dst)
    printed = b.converted_text(dst, tmp_path / "printed")
    assert "住民税の通知について" in printed and "Residents'taxnotice" in printed
    kept, _ = rebuild(src, tmp_path, metadata="keep")
    assert "山田太郎" in "".join(b.part(kept, "meta.xml").itertext())


@pytest.mark.slow
def test_libreoffice_spreadsheets_presentations_and_flat_files_open_after_the_rebuild(tmp_path: Path) -> None:
    from tests.sanitizers import ooxml_builders as ob

    sources = {
        "ods": b.convert(ob.build(tmp_path / "book.xlsx", "xlsx"), "ods", tmp_path / "ods"),
        "odp": b.convert(ob.build(tmp_path / "slides.pptx", "pptx"), "odp", tmp_path / "odp"),
    }
    letter = tmp_path / "letter.html"
    letter.write_text(LETTER_HTML, encoding="utf-8")
    sources["fodt"] = b.convert(b.convert(letter, "odt", tmp_path / "odt"), "fodt", tmp_path / "fodt")
    for kind, src in sources.items():
        assert detect(src).type == kind
        dst, report = rebuild(src, tmp_path)
        assert report.output_type == kind
        if kind != "fodt":
            b.assert_clean(dst)
        else:
            b.assert_flat_clean(dst)
            assert "odf.script" not in removed_counts(report)  # LibreOffice's empty list of libraries
        printed = b.converted_text(dst, tmp_path / f"printed-{kind}")
        assert "住民税の通知について" in printed, kind


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_every_hostile_construct_at_once_still_opens_in_libreoffice(kind: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / f"all.{b.EXTENSION[kind]}", kind, *b.EVERYTHING[kind])
    dst, _ = rebuild(src, tmp_path)
    b.assert_clean(dst)
    printed = b.converted_text(dst, tmp_path / "printed")
    assert "住民税" in printed and "Residents'taxnotice" in printed  # a sheet's column cuts long text


@pytest.mark.slow
def test_the_pdf_fallback_converts_an_opendocument_through_libreoffice(tmp_path: Path) -> None:
    from sanitizers.registry import default_registry

    class PdfOnly:
        def rule_for(self, type_name: str) -> Rule | None:
            return Rule(("pdf",))

    letter = tmp_path / "letter.html"
    letter.write_text(LETTER_HTML, encoding="utf-8")
    src = with_basic_macros(b.convert(letter, "odt", tmp_path / "made"), tmp_path / "通知.odt")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = process_file(src, src.name, scratch, PdfOnly(), Limits(), default_registry())
    assert outcome.verdict == "released", outcome.reason
    assert outcome.output is not None and outcome.output.type == "pdf" and outcome.output_path is not None
    verify_output(outcome.output_path, Expectation("pdf", "pdf"), Limits())


def test_the_corpus_document_with_basic_loses_its_macros_and_keeps_its_text(tmp_path: Path) -> None:
    src = CORPUS / "other" / "tika__testODTMacro.odt"
    if not src.is_file():
        pytest.skip("../shared/corpus is absent")
    before = b.texts(src)
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["odf.basic_macro"] == 4
    b.assert_clean(dst)
    assert b.texts(dst) == before
