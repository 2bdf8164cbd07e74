"""The ``comments`` option: comments are content and stay by default; their authors follow
``metadata``; ``comments = "remove"`` leaves no trace of them.

Every format that knows comments is built here from scratch with a distinctive author and
comment text, and read back without the sanitisers' code: zipfile and ElementTree for
OOXML, pikepdf for PDF, a byte search for RTF, olefile and LibreOffice for Office 97-2003.
"""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pikepdf
import pypdfium2
import pytest
from pikepdf import Array, Dictionary, Name, String

from gateway.config import embedded_config_text, parse_config
from sanitizers.base import Limits, Report
from sanitizers.convert import soffice_path
from sanitizers.errors import PolicyError, VerifyError
from sanitizers.ole import OleRebuild, excel, powerpoint, word
from sanitizers.ooxml import OoxmlRebuild
from sanitizers.ooxml.verify import verify_package
from sanitizers.pdf import PdfRebuild
from sanitizers.pdf.verify import Promise, verify_pdf
from sanitizers.pipeline import Rule, process_file
from sanitizers.registry import default_registry
from sanitizers.rtf import RtfRebuild
from sanitizers.types import TYPES
from sanitizers.verification import Expectation, verify_output
from tests.sanitizers import ooxml_builders as ob
from tests.sanitizers import pdf_builders as pb
from tests.sanitizers.contract import removed_counts

AUTHOR = "Yamada Taro"
AUTHOR_JA = "山田太郎"
ACCOUNT = "yamada.taro@city.example.lg.jp"
COMMENT = "要確認: please check the figures"
#: Every trace of the author a rebuild with metadata removed must not leave.
AUTHOR_TRACES = (AUTHOR, AUTHOR_JA, ACCOUNT)

needs_libreoffice = pytest.mark.skipif(soffice_path() is None, reason="LibreOffice is not installed")


# ── OOXML: builders ──────────────────────────────────────────────────────────────────

W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
W16CEX = "http://schemas.microsoft.com/office/word/2018/wordml/cex"
REACTIONS = "http://schemas.microsoft.com/office/comments/2020/reactions"
MS11 = "http://schemas.microsoft.com/office/2011/relationships/"


def word_comment(package: ob.Package) -> None:
    """A Word comment with its thread data, the people list and a reaction, as Word 365 writes them."""
    package.add(
        "word/comments.xml",
        f'<w:comments xmlns:w="{ob.W}" xmlns:w14="{ob.W14}">'
        f'<w:comment w:id="0" w:author="{AUTHOR} {AUTHOR_JA}" w:date="2024-04-01T09:00:00Z" w:initials="YT">'
        f'<w:p w14:paraId="0A1B2C3D"><w:r><w:t>{COMMENT}</w:t></w:r></w:p></w:comment></w:comments>',
        ob.DOC + "wordprocessingml.comments+xml",
    )
    package.add(
        "word/commentsExtended.xml",
        f'<w15:commentsEx xmlns:w15="{W15}"><w15:commentEx w15:paraId="0A1B2C3D" w15:done="0"/></w15:commentsEx>',
        ob.DOC + "wordprocessingml.commentsExtended+xml",
    )
    package.add(
        "word/commentsExtensible.xml",
        f'<w16cex:commentsExtensible xmlns:w16cex="{W16CEX}" xmlns:cr="{REACTIONS}">'
        '<w16cex:commentExtensible w16cex:durableId="1A2B3C4D" w16cex:dateUtc="2024-04-01T00:00:00Z">'
        f'<w16cex:extLst><cr:reactions><cr:reaction reactionType="1"><cr:reactionInfo dateUtc="2024-04-02T00:00:00Z">'
        f'<cr:user userId="S::{ACCOUNT}::0000" userProvider="AD" userName="{AUTHOR}"/></cr:reactionInfo>'
        "</cr:reaction></cr:reactions></w16cex:extLst></w16cex:commentExtensible></w16cex:commentsExtensible>",
        ob.DOC + "wordprocessingml.commentsExtensible+xml",
    )
    package.add(
        "word/people.xml",
        f'<w15:people xmlns:w15="{W15}"><w15:person w15:author="{AUTHOR} {AUTHOR_JA}">'
        f'<w15:presenceInfo w15:providerId="AD" w15:userId="S::{ACCOUNT}::0000"/></w15:person></w15:people>',
        ob.DOC + "wordprocessingml.people+xml",
    )
    package.relate("word/document.xml", ob.REL + "comments", "comments.xml")
    package.relate("word/document.xml", MS11 + "commentsExtended", "commentsExtended.xml")
    package.relate(
        "word/document.xml",
        "http://schemas.microsoft.com/office/2018/08/relationships/commentsExtensible",
        "commentsExtensible.xml",
    )
    package.relate("word/document.xml", MS11 + "people", "people.xml")
    ob.append_to_body(
        package,
        '<w:p><w:commentRangeStart w:id="0"/><w:r><w:t>対象の段落</w:t></w:r><w:commentRangeEnd w:id="0"/>'
        '<w:r><w:commentReference w:id="0"/></w:r></w:p>',
    )


_NOTE_SHAPE = (
    '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:x="urn:schemas-microsoft-com:office:excel">'
    '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
    '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
    '<v:shape id="_x0000_s1025" type="#_x0000_t202" style="position:absolute;margin-left:59.25pt;'
    'margin-top:1.5pt;width:108pt;height:59.25pt;z-index:1;visibility:hidden" fillcolor="#ffffe1">'
    '<v:fill color2="#ffffe1"/><v:textbox><div style="text-align:left"></div></v:textbox>'
    '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
    "<x:Anchor>1, 15, 0, 2, 3, 15, 3, 16</x:Anchor><x:AutoFill>False</x:AutoFill>"
    "<x:Row>0</x:Row><x:Column>0</x:Column></x:ClientData></v:shape></xml>"
)


def excel_note(package: ob.Package) -> None:
    """A cell note as Excel writes it: the author listed once, and named in bold at its start."""
    package.add(
        "xl/comments1.xml",
        f'<comments xmlns="{ob.S}"><authors><author>{AUTHOR_JA}</author></authors><commentList>'
        '<comment ref="A1" authorId="0"><text>'
        f'<r><rPr><b/><sz val="9"/></rPr><t>{AUTHOR_JA}:</t></r>'
        f'<r><rPr><sz val="9"/></rPr><t xml:space="preserve">\n{COMMENT}</t></r>'
        "</text></comment></commentList></comments>",
        ob.DOC + "spreadsheetml.comments+xml",
    )
    package.add("xl/drawings/vmlDrawing1.vml", _NOTE_SHAPE, ob.DOC + "vmlDrawing")
    sheet = "xl/worksheets/sheet1.xml"
    package.relate(sheet, ob.REL + "comments", "../comments1.xml")
    drawing = package.relate(sheet, ob.REL + "vmlDrawing", "../drawings/vmlDrawing1.vml")
    package.replace(sheet, "</worksheet>", f'<legacyDrawing r:id="{drawing}"/></worksheet>')


def powerpoint_comment(package: ob.Package) -> None:
    package.add(
        "ppt/commentAuthors.xml",
        f'<p:cmAuthorLst xmlns:p="{ob.P}"><p:cmAuthor id="0" name="{AUTHOR} {AUTHOR_JA}" initials="YT" '
        'lastIdx="1" clrIdx="0"/></p:cmAuthorLst>',
        ob.DOC + "presentationml.commentAuthors+xml",
    )
    package.add(
        "ppt/comments/comment1.xml",
        f'<p:cmLst xmlns:p="{ob.P}"><p:cm authorId="0" dt="2024-04-01T09:00:00.000" idx="1">'
        f'<p:pos x="10" y="10"/><p:text>{COMMENT}</p:text></p:cm></p:cmLst>',
        ob.DOC + "presentationml.comments+xml",
    )
    package.relate("ppt/presentation.xml", ob.REL + "commentAuthors", "commentAuthors.xml")
    package.relate("ppt/slides/slide1.xml", ob.REL + "comments", "../comments/comment1.xml")


COMMENTED: dict[str, Callable[[ob.Package], None]] = {
    "docx": word_comment,
    "xlsx": excel_note,
    "pptx": powerpoint_comment,
}
#: Where each application keeps a comment's text, and the element holding it.
COMMENT_PARTS = {
    "docx": ("word/comments.xml", f"{{{ob.W}}}t"),
    "xlsx": ("xl/comments1.xml", f"{{{ob.S}}}t"),
    "pptx": ("ppt/comments/comment1.xml", f"{{{ob.P}}}text"),
}


def commented(kind: str, tmp_path: Path) -> Path:
    return ob.build(tmp_path / f"in.{kind}", kind, COMMENTED[kind])


def rebuild_ooxml(src: Path, tmp_path: Path, **options: str) -> tuple[Path, Report]:
    dst = tmp_path / f"out{src.suffix}"
    return dst, OoxmlRebuild().sanitize(src, dst, options, Limits())


def package_text(path: Path) -> str:
    """Every member decompressed, as text with character references resolved."""
    with zipfile.ZipFile(path) as archive:
        return "\n".join(
            html.unescape(archive.read(n).decode("utf-8", "replace")) for n in archive.namelist()
        )


def comment_texts(path: Path, kind: str) -> list[str]:
    name, tag = COMMENT_PARTS[kind]
    with zipfile.ZipFile(path) as archive:
        root = ET.fromstring(archive.read(name))
    return [element.text or "" for element in root.iter(tag)]


def attributes_named(path: Path, local: str) -> list[str]:
    """The values of every attribute called ``local`` (in any namespace) in the package."""
    found = []
    for _, data in ob.xml_parts(path):
        for element in ET.fromstring(data).iter():
            found += [value for key, value in element.attrib.items() if key.rpartition("}")[2] == local]
    return found


# ── OOXML ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("kind", sorted(COMMENTED))
def test_ooxml_comments_stay_by_default_and_their_authors_go(kind: str, tmp_path: Path) -> None:
    src = commented(kind, tmp_path)
    assert all(trace in package_text(src) for trace in (AUTHOR_JA, COMMENT))  # the input carries both
    dst, report = rebuild_ooxml(src, tmp_path)
    assert COMMENT in "".join(comment_texts(dst, kind))
    text = package_text(dst)
    assert [trace for trace in AUTHOR_TRACES if trace in text] == []
    assert set(attributes_named(dst, "initials")) <= {""}
    assert "ooxml.comment_author" in removed_counts(report)
    assert "ooxml.comments" not in removed_counts(report)
    ob.assert_package_clean(dst)
    assert ob.dangling_references(dst) == []


@pytest.mark.parametrize("kind", sorted(COMMENTED))
def test_ooxml_metadata_keep_keeps_the_comment_authors(kind: str, tmp_path: Path) -> None:
    dst, report = rebuild_ooxml(commented(kind, tmp_path), tmp_path, metadata="keep")
    assert AUTHOR_JA in package_text(dst)
    assert COMMENT in "".join(comment_texts(dst, kind))
    assert "ooxml.comment_author" not in removed_counts(report)


@pytest.mark.parametrize("kind", sorted(COMMENTED))
@pytest.mark.parametrize("metadata", ["remove", "keep"])
def test_ooxml_comments_remove_leaves_no_trace(kind: str, metadata: str, tmp_path: Path) -> None:
    src = commented(kind, tmp_path)
    dst, report = rebuild_ooxml(src, tmp_path, comments="remove", metadata=metadata)
    assert "ooxml.comments" in removed_counts(report)
    text = package_text(dst)
    assert COMMENT not in text
    assert [trace for trace in AUTHOR_TRACES if trace in text] == []  # they were in the comments only
    assert not any(re.search(r"comment|people|person", part, re.I) for part in ob.part_names(dst))
    assert not any(
        re.search(r"comment|people", rel_type, re.I) for _, rel_type, _, _ in ob.relationships_in(dst)
    )
    for anchor in ("commentRangeStart", "commentRangeEnd", "commentReference", 'ObjectType="Note"'):
        assert anchor not in text
    assert ob.dangling_references(dst) == []
    assert ob.texts_in(dst) == ob.texts_in(src)


def test_word_people_and_reactions_go_with_the_metadata(tmp_path: Path) -> None:
    src = commented("docx", tmp_path)
    dst, _ = rebuild_ooxml(src, tmp_path)
    assert "word/people.xml" not in ob.part_names(dst)
    assert {"word/comments.xml", "word/commentsExtended.xml", "word/commentsExtensible.xml"} <= set(
        ob.part_names(dst)
    )
    reactions = [e for _, data in ob.xml_parts(dst) for e in ET.fromstring(data).iter(f"{{{REACTIONS}}}*")]
    assert reactions == [] and ACCOUNT not in package_text(dst)
    (tmp_path / "kept").mkdir()
    kept, _ = rebuild_ooxml(src, tmp_path / "kept", metadata="keep")
    assert "word/people.xml" in ob.part_names(kept)
    assert ACCOUNT in package_text(kept)


def test_excel_note_loses_its_signature_not_its_text(tmp_path: Path) -> None:
    dst, _ = rebuild_ooxml(commented("xlsx", tmp_path), tmp_path)
    assert comment_texts(dst, "xlsx") == [COMMENT]
    with zipfile.ZipFile(dst) as archive:
        authors = ET.fromstring(archive.read("xl/comments1.xml")).find(f"{{{ob.S}}}authors")
    assert authors is not None and [a.text or "" for a in authors] == [""]  # authorId 0 still resolves
    assert 'ObjectType="Note"' in package_text(dst)  # the note's box stays with it


def test_the_package_verifier_holds_the_rebuild_to_comments_remove(tmp_path: Path) -> None:
    dst, _ = rebuild_ooxml(commented("docx", tmp_path), tmp_path)
    verify_package(dst.read_bytes(), keep_web_links=True, keep_comments=True)
    with pytest.raises(VerifyError, match="comments part"):
        verify_package(dst.read_bytes(), keep_web_links=True, keep_comments=False)
    with pytest.raises(VerifyError):
        verify_output(dst, Expectation("docx", "rebuild", {"comments": "remove"}), Limits())
    verify_output(dst, Expectation("docx", "rebuild", {}), Limits())


def libreoffice(src: Path, target: str, work: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice is not None
    out = work / "out"
    subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation={(work / 'profile').as_uri()}", "--convert-to", target,
         "--outdir", str(out), str(src)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    return out / f"{src.stem}.{target}"


@pytest.mark.slow
@needs_libreoffice
@pytest.mark.parametrize(("kind", "odf"), [("docx", "odt"), ("xlsx", "ods"), ("pptx", "odp")])
def test_ooxml_comment_without_its_author_still_opens(kind: str, odf: str, tmp_path: Path) -> None:
    """LibreOffice reads the rebuilt comment, unsigned, and writes it out as an annotation."""
    dst, _ = rebuild_ooxml(commented(kind, tmp_path), tmp_path)
    with zipfile.ZipFile(libreoffice(dst, odf, tmp_path)) as archive:
        content = archive.read("content.xml").decode("utf-8")
    assert re.search(r"<(office|officeooo):annotation\b", content)
    assert "please check the figures" in content
    assert AUTHOR_JA not in content and AUTHOR not in content


# ── PDF ──────────────────────────────────────────────────────────────────────────────

COMMENT_SUBTYPES = ("/Text", "/Popup", "/FreeText", "/Highlight", "/Caret")


def pdf_comments(pdf: pikepdf.Pdf) -> None:
    """A note with its pop-up, a text box, a highlight, an insertion mark, a drawn square
    with a comment, a link and a form field named like a person (a field's /T is its name)."""
    written = {"T": String(f"{AUTHOR} {AUTHOR_JA}"), "M": String("D:20240401090000+09'00'")}
    note = pb.add_annotation(
        pdf, Dictionary(Subtype=Name.Text, Contents=String(COMMENT), CreationDate=String("D:2024"), **written)
    )
    note.Popup = pb.add_annotation(pdf, Dictionary(Subtype=Name.Popup, Parent=note, **written))
    pb.add_annotation(
        pdf, Dictionary(Subtype=Name.FreeText, Contents=String(COMMENT), DA=String("/Helv 12 Tf"))
    )
    quad = Array([72, 720, 300, 720, 72, 700, 300, 700])
    pb.add_annotation(
        pdf, Dictionary(Subtype=Name.Highlight, QuadPoints=quad, Contents=String(COMMENT), **written)
    )
    pb.add_annotation(pdf, Dictionary(Subtype=Name.Caret, Contents=String(COMMENT), **written))
    square = pb.add_annotation(pdf, Dictionary(Subtype=Name.Square, Contents=String(COMMENT), **written))
    square.Popup = pb.add_annotation(pdf, Dictionary(Subtype=Name.Popup, Parent=square))
    pb.add_link(pdf, pb.uri_action("https://www.city.example.lg.jp/"))
    field = pb.add_annotation(
        pdf, Dictionary(Subtype=Name.Widget, FT=Name.Tx, T=String("applicant"), V=String("x"))
    )
    pdf.Root.AcroForm = Dictionary(Fields=Array([field]))


def annotations_of(path: Path) -> list[dict[str, str]]:
    """Each annotation of each page: its keys, with the text of its string values."""
    with pikepdf.open(path) as pdf:
        return [
            {key: str(value) for key, value in annotation.items()}
            for page in pdf.pages
            for annotation in page.obj.get("/Annots", [])
        ]


def pdf_text(path: Path) -> str:
    """Every string of every object, decoded, and every stream's bytes."""
    found: list[str] = []
    with pikepdf.open(path) as pdf:
        for obj in pdf.objects:
            pending: list[object] = [obj]
            while pending:
                item = pending.pop()
                if isinstance(item, pikepdf.String):
                    found.append(str(item))
                elif isinstance(item, pikepdf.Array):
                    pending += [v for v in item if not (isinstance(v, pikepdf.Object) and v.is_indirect)]
                elif isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
                    pending += [
                        v for v in item.values() if not (isinstance(v, pikepdf.Object) and v.is_indirect)
                    ]
                    if isinstance(item, pikepdf.Stream):
                        found.append(item.read_bytes().decode("latin-1"))
    return "\n".join(found)


def rebuild_pdf(tmp_path: Path, **options: str) -> tuple[Path, Report]:
    src = pb.build(tmp_path / "in.pdf", pdf_comments)
    dst = tmp_path / "out.pdf"
    return dst, PdfRebuild().sanitize(src, dst, options, Limits())


def test_pdf_comments_stay_by_default_and_their_authors_go(tmp_path: Path) -> None:
    dst, report = rebuild_pdf(tmp_path)
    kept = annotations_of(dst)
    assert {*COMMENT_SUBTYPES, "/Square", "/Link", "/Widget"} <= {a["/Subtype"] for a in kept}
    assert [a["/Contents"] for a in kept if a["/Subtype"] == "/Text"] == [COMMENT]
    for annotation in kept:
        if annotation["/Subtype"] != "/Widget":
            assert {"/T", "/M", "/CreationDate"}.isdisjoint(annotation)
    assert [a["/T"] for a in kept if a["/Subtype"] == "/Widget"] == ["applicant"]
    text = pdf_text(dst)
    assert [trace for trace in AUTHOR_TRACES if trace in text] == []
    assert b"Yamada" not in pb.decompressed_bytes(dst)
    assert "pdf.metadata" in removed_counts(report) and "pdf.comment" not in removed_counts(report)


def test_pdf_metadata_keep_keeps_the_annotation_authors(tmp_path: Path) -> None:
    dst, _ = rebuild_pdf(tmp_path, metadata="keep")
    assert AUTHOR in pdf_text(dst) and AUTHOR_JA in pdf_text(dst)


def test_pdf_comments_remove_leaves_the_marks_and_links_but_no_comment(tmp_path: Path) -> None:
    dst, report = rebuild_pdf(tmp_path, comments="remove")
    kept = annotations_of(dst)
    assert sorted(a["/Subtype"] for a in kept) == ["/Link", "/Square", "/Widget"]
    square = next(a for a in kept if a["/Subtype"] == "/Square")
    assert {"/Contents", "/Popup", "/RC", "/T"}.isdisjoint(square)
    text = pdf_text(dst)
    assert COMMENT not in text
    assert [trace for trace in AUTHOR_TRACES if trace in text] == []
    # the note, its pop-up, the text box, the highlight, the caret, the square's pop-up and text
    assert removed_counts(report)["pdf.comment"] == 7
    assert pb.pdfium_texts(dst) == pb.pdfium_texts(tmp_path / "in.pdf")


def test_the_pdf_verifier_holds_the_output_to_both_options(tmp_path: Path) -> None:
    kept, _ = rebuild_pdf(tmp_path)
    verify_pdf(kept, Promise(web_links=True, metadata=False, image_only=False), Limits())
    with pytest.raises(VerifyError, match="comment"):
        verify_pdf(kept, Promise(web_links=True, metadata=False, image_only=False, comments=False), Limits())
    with pytest.raises(VerifyError, match="author or dates"):
        verify_pdf(tmp_path / "in.pdf", Promise(web_links=True, metadata=False, image_only=False), Limits())
    verify_pdf(tmp_path / "in.pdf", Promise(web_links=True, metadata=True, image_only=False), Limits())
    with pytest.raises(VerifyError):
        verify_output(kept, Expectation("pdf", "rebuild", {"comments": "remove"}), Limits())


# ── RTF ──────────────────────────────────────────────────────────────────────────────

RTF_COMMENT = b"please check the figures"
RTF_AUTHOR = AUTHOR.encode()
RTF = (
    b"{\\rtf1\\ansi\\ansicpg932\\deff0{\\fonttbl{\\f0\\fmodern MS Mincho;}}\\pard\\plain "
    b"Body text {\\*\\atrfstart 1}annotated words{\\*\\atrfend 1}"
    b"{\\b\\chatn{\\*\\atnid YT}{\\*\\atnauthor " + RTF_AUTHOR + b"}"
    b"{\\*\\annotation{\\*\\atnref 1}{\\*\\atndate 1234567}\\pard\\plain {\\field{\\*\\fldinst {\\chatn }}{\\fldrslt }}"
    b" " + RTF_COMMENT + b"}} after\\par "
    b"{\\v\\chatn hidden}end of text\\par}"
)


def rebuild_rtf(src: Path, tmp_path: Path, **options: str) -> tuple[bytes, Report]:
    dst = tmp_path / "out.rtf"
    report = RtfRebuild().sanitize(src, dst, options, Limits())
    return dst.read_bytes(), report


def test_rtf_comments_stay_by_default(tmp_path: Path) -> None:
    src = tmp_path / "in.rtf"
    src.write_bytes(RTF)
    out, report = rebuild_rtf(src, tmp_path)
    assert out == RTF and report.findings == []  # RTF has no metadata option: nothing is cut


def test_rtf_comments_remove_cuts_the_comment_and_its_marks(tmp_path: Path) -> None:
    src = tmp_path / "in.rtf"
    src.write_bytes(RTF)
    out, report = rebuild_rtf(src, tmp_path, comments="remove")
    assert RTF_COMMENT not in out and RTF_AUTHOR not in out
    for word_ in (b"\\chatn", b"\\atn", b"\\annotation", b"\\atrf"):
        assert word_ not in out
    # the text stays, and a word before a cut mark keeps its delimiter (\v hidden, not \vhidden)
    assert b"Body text annotated words{\\b } after\\par {\\v hidden}end of text\\par}" in out
    assert removed_counts(report)["rtf.comment"] >= 5
    with pytest.raises(VerifyError):
        verify_output(src, Expectation("rtf", "rebuild", {"comments": "remove"}), Limits())


@pytest.mark.slow
@needs_libreoffice
def test_rtf_written_by_libreoffice_loses_its_comment(tmp_path: Path) -> None:
    docx = ob.build(tmp_path / "commented.docx", "docx", word_comment)
    src = libreoffice(docx, "rtf", tmp_path)
    assert b"\\atnauthor" in src.read_bytes()  # LibreOffice wrote the comment: the input is what we mean
    out, _ = rebuild_rtf(src, tmp_path, comments="remove")
    assert b"please check the figures" not in out and b"\\atn" not in out and b"\\chatn" not in out
    converted = libreoffice(tmp_path / "out.rtf", "txt", tmp_path / "again")
    assert "対象の段落" in converted.read_text(encoding="utf-8-sig")


# ── Office 97-2003 ───────────────────────────────────────────────────────────────────


def biff(record_type: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", record_type, len(data)) + data


def test_excel_counts_note_records() -> None:
    note = biff(excel.NOTE, struct.pack("<HHHH", 0, 0, 0, 1) + b"\x04\x00\x00Taro\x00")
    workbook = biff(excel.BOF, bytes(16)) + note + note + biff(excel.EOF)
    assert excel.comment_count({excel.MAIN_STREAM: workbook}) == 2
    assert excel.comment_count({excel.MAIN_STREAM: biff(excel.BOF, bytes(16)) + biff(excel.EOF)}) == 0


def ppt_record(record_type: int, data: bytes, *, container: bool = False, instance: int = 0) -> bytes:
    return struct.pack("<HHI", (instance << 4) | (0xF if container else 0), record_type, len(data)) + data


def ppt_with_tag(name: str, blob: bytes) -> bytes:
    tag = ppt_record(powerpoint.CSTRING, name.encode("utf-16-le")) + ppt_record(
        powerpoint.BINARY_TAG_DATA, blob
    )
    return ppt_record(0x03EE, ppt_record(powerpoint.PROG_BINARY_TAG, tag, container=True), container=True)


def test_powerpoint_finds_comments_in_the_ppt10_extension() -> None:
    comment = ppt_record(
        powerpoint.COMMENT10, ppt_record(powerpoint.CSTRING, AUTHOR.encode("utf-16-le")), container=True
    )
    assert powerpoint.comment_count({powerpoint.MAIN_STREAM: ppt_with_tag("___PPT10", comment * 2)}) == 2
    assert powerpoint.comment_count({powerpoint.MAIN_STREAM: ppt_with_tag("___PPT9", b"\x00" * 3)}) == 0


def fib(lcb_plcfand_ref: int) -> bytes:
    """A Word 97 FIB with no text, whose comment anchors take ``lcb_plcfand_ref`` bytes."""
    pairs = [0] * (93 * 2)
    pairs[4 * 2 + 1] = lcb_plcfand_ref
    return (
        struct.pack("<HHHHHH", word.WORD97_IDENT, 0xC1, 0, 0x0411, 0, 0x0200).ljust(32, b"\0")
        + struct.pack("<H", 0x0E) + bytes(28) + struct.pack("<H", 0x16) + bytes(88)
        + struct.pack("<H", 93) + struct.pack(f"<{len(pairs)}I", *pairs)
    )  # fmt: skip


def test_word_counts_comments_from_the_fib() -> None:
    assert word.comment_count({word.MAIN_STREAM: fib(0)}) == 0
    assert word.comment_count({word.MAIN_STREAM: fib(4 + 2 * 34)}) == 2


@pytest.fixture(scope="module")
def legacy_office(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A .doc, .xls and .ppt with one comment each, and a .doc without, written by LibreOffice
    from our packages."""
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed")
    work = tmp_path_factory.mktemp("legacy")
    written = {"plain doc": libreoffice(ob.build(work / "plain.docx", "docx"), "doc", work / "plain")}
    for kind, legacy in (("docx", "doc"), ("xlsx", "xls"), ("pptx", "ppt")):
        package = ob.build(work / f"commented.{kind}", kind, COMMENTED[kind])
        written[legacy] = libreoffice(package, legacy, work / legacy)
    return written


LEGACY = ("doc", "xls", "ppt")


@pytest.mark.slow
@pytest.mark.parametrize("kind", LEGACY)
def test_legacy_office_with_comments_is_rebuilt_by_default(
    kind: str, legacy_office: dict[str, Path], tmp_path: Path
) -> None:
    src = legacy_office[kind]
    dst = tmp_path / f"out.{kind}"
    assert OleRebuild().sanitize(src, dst, {}, Limits()).output_type == kind
    verify_output(dst, Expectation(kind, "rebuild", {}), Limits())
    with pytest.raises(VerifyError):  # the gateway's verifier finds them where the rule removes them
        verify_output(dst, Expectation(kind, "rebuild", {"comments": "remove"}), Limits())


@pytest.mark.slow
@pytest.mark.parametrize("kind", LEGACY)
def test_legacy_office_with_comments_is_refused_by_comments_remove(
    kind: str, legacy_office: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(PolicyError) as refused:
        OleRebuild().sanitize(legacy_office[kind], tmp_path / "out", {"comments": "remove"}, Limits())
    assert refused.value.code == "ole.comments"
    assert not (tmp_path / "out").exists()


class RebuildElsePdf:
    def rule_for(self, type_name: str) -> Rule | None:
        return Rule(("rebuild", "pdf"), {"comments": "remove"})


@pytest.mark.slow
@pytest.mark.parametrize("kind", LEGACY)
def test_comments_remove_sends_legacy_office_to_pdf_without_the_comment(
    kind: str, legacy_office: dict[str, Path], tmp_path: Path
) -> None:
    src = legacy_office[kind]
    outcome = process_file(src, src.name, tmp_path, RebuildElsePdf(), Limits(), default_registry())
    assert outcome.verdict == "released", outcome.reason
    assert outcome.method == "pdf"
    assert any(f.construct == "method.ole.comments" and f.action == "fell_back" for f in outcome.findings)
    assert outcome.output_path is not None
    document = pypdfium2.PdfDocument(outcome.output_path)
    try:
        text = "".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
    assert "住民税" in text and "please check" not in text
    assert annotations_of(outcome.output_path) == []
    assert [trace for trace in AUTHOR_TRACES if trace in pdf_text(outcome.output_path)] == []


@pytest.mark.slow
def test_a_legacy_file_without_comments_is_rebuilt_under_comments_remove(
    legacy_office: dict[str, Path], tmp_path: Path
) -> None:
    src = legacy_office["plain doc"]
    removed, kept = tmp_path / "removed.doc", tmp_path / "kept.doc"
    OleRebuild().sanitize(src, removed, {"comments": "remove"}, Limits())
    OleRebuild().sanitize(src, kept, {}, Limits())
    assert removed.read_bytes() == kept.read_bytes()  # the rebuild as before


# ── configuration ────────────────────────────────────────────────────────────────────


def test_every_type_with_metadata_has_comments() -> None:
    registry = default_registry()
    for type_name in TYPES:
        specs = registry.option_specs(type_name)
        if "metadata" in specs:
            assert "comments" in specs, type_name
    assert registry.option_specs("rtf")["comments"].default == "keep"


def rules_with(option: str) -> Iterator[str]:
    registry = default_registry()
    yield from (name for name in TYPES if option in registry.option_specs(name))


def test_the_embedded_config_accepts_comments_on_its_rules() -> None:
    registry = default_registry()
    text = embedded_config_text()
    for type_name in rules_with("comments"):
        text = text.replace(f"[rules.{type_name}]\n", f'[rules.{type_name}]\ncomments = "remove"\n', 1)
    config = parse_config(text, "test.toml", registry)
    assert {name for name, rule in config.rules.items() if rule.options.get("comments") == "remove"} == set(
        name for name in rules_with("comments") if name in config.rules
    )
