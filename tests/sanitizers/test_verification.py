"""The gateway's independent check of an output: real releases pass, hostile outputs do not.

For each output family, a clean output made by the real sanitiser (through the pipeline)
is verified and its sha256 returned; outputs written from scratch as a taken-over worker
would write them, each carrying one forbidden construct, are refused with
``verify.failed``.  Where it matters, a control shows that the same file without the
construct passes, so that the refusal is the construct's.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from sanitizers.base import Limits, Options, OptionValue
from sanitizers.convert import soffice_path
from sanitizers.errors import REASONS, VerifyError
from sanitizers.images.rebuild import IMAGE_TYPES
from sanitizers.ole.cfb_writer import compound_file_bytes
from sanitizers.pipeline import Outcome, Rule, process_file
from sanitizers.registry import default_registry
from sanitizers.types import TYPES
from sanitizers.verification import Expectation, has_verifier, verify_output
from tests.sanitizers import odf_builders as db
from tests.sanitizers import ooxml_builders as ob
from tests.sanitizers import pdf_builders as pb
from tests.sanitizers.test_ole import SUMMARY, VBA_PROJECT, WORD_CLSID, word_streams

LIMITS = Limits()
_OTHER_TYPES = ("pdf", "svg", "txt", "csv", "html", "rtf", "zip", "doc", "xls", "ppt")
_OOXML_TYPES = ("docx", "docm", "xlsx", "xlsm", "pptx", "pptm")
_ODF_TYPES = ("odt", "ods", "odp", "fodt", "fods", "fodp")
#: Every type the tests release is rebuilt, with the options' defaults; a test may override.
RULES: dict[str, Rule] = {
    name: Rule(("rebuild",)) for name in (*IMAGE_TYPES, *_OTHER_TYPES, *_OOXML_TYPES, *_ODF_TYPES)
}


class Rules:
    def __init__(self, rules: Mapping[str, Rule]) -> None:
        self.rules = rules

    def rule_for(self, type_name: str) -> Rule | None:
        return self.rules.get(type_name)


def released(tmp_path: Path, name: str, data: bytes, **rules: Rule) -> Outcome:
    """The pipeline's release of ``data`` named ``name`` under RULES (overridden by ``rules``)."""
    source = tmp_path / "in" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    outcome = process_file(source, name, scratch, Rules(RULES | rules), LIMITS, default_registry())
    assert outcome.verdict == "released", outcome.reason
    assert outcome.output_path is not None
    return outcome


def verified(outcome: Outcome) -> None:
    """verify_output of a release as the gateway calls it (the rules here have no options):
    it passes, and the digest is that of the file and of the pipeline's own record."""
    assert outcome.output is not None and outcome.output_path is not None and outcome.method is not None
    expectation = Expectation(outcome.output.type or "", outcome.method)
    digest = verify_output(outcome.output_path, expectation, LIMITS)
    assert digest == hashlib.sha256(outcome.output_path.read_bytes()).hexdigest() == outcome.output.sha256


def written(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def passes(path: Path, output_type: str, method: str = "rebuild", **options: OptionValue) -> None:
    digest = verify_output(path, Expectation(output_type, method, options), LIMITS)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def refusal(
    path: Path,
    output_type: str,
    method: str = "rebuild",
    options: Options | None = None,
    limits: Limits = LIMITS,
) -> str:
    """The detail of the verify.failed that ``path`` gets."""
    with pytest.raises(VerifyError) as caught:
        verify_output(path, Expectation(output_type, method, options or {}), limits)
    assert caught.value.code == "verify.failed"
    return caught.value.detail


# ── the catalogue and the coverage of the registry ─────────────────────────────────

#: What each registered sanitiser can write. A new sanitiser fails the test below until it
#: is listed here, and then until the verifier has a check for each of its output types.
OUTPUT_TYPES: dict[str, frozenset[str]] = {
    "PdfRebuild": frozenset({"pdf"}),
    "PdfImage": frozenset({"pdf"}),
    "PdfText": frozenset({"txt"}),
    "ImageRebuild": frozenset(IMAGE_TYPES),  # output_format may name any of them
    "TextRebuild": frozenset({"txt"}),
    "CsvRebuild": frozenset({"csv"}),
    "HtmlRebuild": frozenset({"html"}),
    "HtmlText": frozenset({"txt"}),
    "SvgRebuild": frozenset({"svg"}),
    "RtfRebuild": frozenset({"rtf"}),
    "OoxmlRebuild": frozenset({"docx", "xlsx", "pptx"}),  # macro-enabled inputs lose the m
    "OdfRebuild": frozenset(_ODF_TYPES),
    "OleRebuild": frozenset({"doc", "xls", "ppt"}),
    "XlsbRefusal": frozenset(),
    "ZipRebuild": frozenset({"zip"}),
    # and, for a compressed single file, whatever its content comes out as (checked as such)
    "ArchiveRebuild": frozenset({"zip", "tar", "gzip"}),
    "MailRebuild": frozenset({"eml"}),  # a .msg comes out as a .eml
    "OfficeToPdf": frozenset({"pdf"}),
    "OfficeToImage": frozenset({"pdf"}),
}


def test_every_output_a_registered_sanitiser_can_write_has_a_verifier() -> None:
    registry = default_registry()
    assert {type(s).__name__ for s in registry} == set(OUTPUT_TYPES)
    missing = []
    for type_name in TYPES:
        for method in registry.methods_for(type_name):
            sanitizer = registry.get(type_name, method)
            assert sanitizer is not None
            for output_type in OUTPUT_TYPES[type(sanitizer).__name__]:
                if not has_verifier(output_type, method):
                    missing.append((type_name, method, output_type))
    assert missing == []


def test_the_reason_is_in_the_catalogue_in_both_languages() -> None:
    text = REASONS["verify.failed"]
    assert "確認" in text.ja and "independent check" in text.en


def test_an_output_type_or_method_nobody_writes_is_refused(tmp_path: Path) -> None:
    pdf = pb.save(pb.new_document(), tmp_path / "plain.pdf")
    assert "no sanitiser writes pdf by the method 'text'" in refusal(pdf, "pdf", "text")
    assert "not a known type" in refusal(pdf, "nonsense")
    exe = written(tmp_path, "a.exe", b"MZ" + bytes(200))
    assert "no sanitiser writes exe" in refusal(exe, "exe")


# ── reading the file ───────────────────────────────────────────────────────────────


def test_links_pipes_folders_and_empty_files_are_refused(tmp_path: Path) -> None:
    outcome = released(tmp_path, "note.txt", "お知らせ\r\n".encode("cp932"))
    assert outcome.output_path is not None
    link = tmp_path / "link.txt"
    link.symlink_to(outcome.output_path)
    assert "cannot be opened" in refusal(link, "txt")
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    assert "not a regular file" in refusal(fifo, "txt")
    assert "not a regular file" in refusal(tmp_path, "txt")
    assert "type.empty" in refusal(written(tmp_path, "empty.txt", b""), "txt")
    assert "cannot be opened" in refusal(tmp_path / "missing.txt", "txt")


def test_a_file_beyond_the_bound_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    outcome = released(tmp_path, "note.txt", b"x" * 2000)
    assert outcome.output_path is not None
    tight = Limits(max_file_size=100, archive_total_size=1000)
    assert "larger than 1000 bytes" in refusal(outcome.output_path, "txt", limits=tight)


def test_a_bad_option_value_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    outcome = released(tmp_path, "plain.pdf", pb.plain_bytes(pb.new_document()))
    assert outcome.output_path is not None
    assert "policy.bad_option" in refusal(outcome.output_path, "pdf", options={"links": 42})


# ── type ─────────────────────────────────────────────────────────────────────────


def test_a_file_of_another_type_than_promised_is_refused(tmp_path: Path) -> None:
    pdf = released(tmp_path, "plain.pdf", pb.plain_bytes(pb.new_document())).output_path
    assert pdf is not None
    assert "type.mismatch" in refusal(pdf, "txt")
    assert "type.mismatch" in refusal(pdf, "docx")
    mz = written(tmp_path, "mz.pdf", b"MZ\x90\x00" + bytes(60) + b"This program cannot be run in DOS mode")
    assert "content is Windows executable" in refusal(mz, "pdf")
    polyglot = written(tmp_path, "poly.pdf", b"MZ\x90\x00" + bytes(60) + pdf.read_bytes())
    assert "type.polyglot" in refusal(polyglot, "pdf")


# ── PDF ──────────────────────────────────────────────────────────────────────────


def raw_pdf(*objects: bytes) -> bytes:
    """A PDF written byte by byte (so names keep the spelling given), with a correct xref."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def one_page_pdf(catalog_extra: bytes = b"", *extra_objects: bytes) -> bytes:
    return raw_pdf(
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << >> >>",
        *extra_objects,
    )


def test_a_rebuilt_pdf_passes_and_its_digest_is_returned(tmp_path: Path) -> None:
    source = pb.build(
        tmp_path / "hostile.pdf", pb.open_action_js, pb.names_javascript, pb.web_links, pb.metadata
    )
    verified(released(tmp_path, "hostile.pdf", source.read_bytes()))


def test_an_open_action_javascript_with_an_escaped_name_is_refused(tmp_path: Path) -> None:
    passes(written(tmp_path, "plain.pdf", one_page_pdf()), "pdf")  # the builder writes sound PDFs
    hostile = one_page_pdf(b"/OpenAction 4 0 R ", b"<< /S /J#61vaScript /JS (app.alert(1)) >>")
    detail = refusal(written(tmp_path, "js.pdf", hostile), "pdf")
    assert "pdf.verify_failed" in detail and "JavaScript" in detail


def test_bytes_after_the_end_of_a_pdf_are_refused(tmp_path: Path) -> None:
    outcome = released(tmp_path, "plain.pdf", pb.plain_bytes(pb.new_document()))
    assert outcome.output_path is not None
    appended = outcome.output_path.read_bytes() + b"PK\x03\x04" + bytes(40)
    assert "does not end with %%EOF" in refusal(written(tmp_path, "tail.pdf", appended), "pdf")


def test_the_links_option_of_the_rule_is_the_promise(tmp_path: Path) -> None:
    source = pb.build(tmp_path / "links.pdf", pb.web_links)
    outcome = released(tmp_path, "links.pdf", source.read_bytes())
    verified(outcome)  # keep-web by default
    assert outcome.output_path is not None
    assert "URI" in refusal(outcome.output_path, "pdf", options={"links": "remove"})


def test_image_only_output_passes_and_a_text_pdf_is_not_image_only(tmp_path: Path) -> None:
    data = pb.plain_bytes(pb.new_document())
    image = released(tmp_path / "image", "doc.pdf", data, pdf=Rule(("image",)))
    verified(image)
    text = released(tmp_path / "text", "doc.pdf", data)
    assert text.output_path is not None
    passes(text.output_path, "pdf", "pdf")  # PDF化 keeps the rebuild's promise
    assert "pdf.verify_failed" in refusal(text.output_path, "pdf", "image")


# ── text, CSV, HTML ──────────────────────────────────────────────────────────────


def test_a_rebuilt_shift_jis_text_passes(tmp_path: Path) -> None:
    data = "住民票\x00の写し\x1b[2J\r\n令和６年度\r\n".encode("cp932")
    verified(released(tmp_path, "note.txt", data))


def test_text_with_control_characters_is_refused(tmp_path: Path) -> None:
    passes(written(tmp_path, "clean.txt", "お知らせ\r\n".encode("cp932")), "txt")
    for method in ("rebuild", "text"):
        escape = written(tmp_path, "escape.txt", "お知らせ\x1b]0;pwned\x07\r\n".encode())
        assert "control characters" in refusal(escape, "txt", method)
        nul = written(tmp_path, "nul.txt", "お知らせ".encode("cp932") + b"\x00\x00 end\r\n")
        assert "control characters" in refusal(nul, "txt", method)


def test_extracted_text_of_a_pdf_and_of_a_shift_jis_page_passes(tmp_path: Path) -> None:
    pdf_text = released(tmp_path / "text", "doc.pdf", pb.plain_bytes(pb.new_document()), pdf=Rule(("text",)))
    verified(pdf_text)
    page = (
        '<html><head><meta charset="Shift_JIS"><title>お知らせ</title></head>'
        "<body><p>市役所からのお知らせ</p><script>alert(1)</script><pre>a\r\nb</pre></body></html>"
    ).encode("cp932")
    page_text = released(tmp_path / "image", "page.html", page, html=Rule(("text",)))
    assert page_text.output_path is not None
    assert page_text.output_path.read_bytes().decode("cp932").startswith("お知らせ")
    verified(page_text)


CSV = "氏名,備考\r\n伊藤,=cmd|' /C calc'!A0\r\n合計,=SUM(B1:B2)\r\n佐藤,-5\r\n"


def test_a_rebuilt_csv_passes(tmp_path: Path) -> None:
    verified(released(tmp_path, "list.csv", CSV.encode("cp932")))


def test_a_csv_with_a_live_formula_is_refused(tmp_path: Path) -> None:
    passes(written(tmp_path, "plain.csv", "氏名,年齢\r\n伊藤,-5\r\n".encode("cp932")), "csv")
    dde = written(tmp_path, "dde.csv", "氏名,備考\r\n伊藤,=cmd|' /C calc'!A0\r\n".encode("cp932"))
    assert "formula" in refusal(dde, "csv")
    assert "formula" in refusal(dde, "csv", options={"neutralise_formulas": False})  # DDE always
    sum_cell = written(tmp_path, "sum.csv", "合計,=SUM(B1:B2)\r\n".encode("cp932"))
    assert "formula" in refusal(sum_cell, "csv")
    passes(sum_cell, "csv", neutralise_formulas=False)


PAGE = (
    "<!DOCTYPE html><html><head><title>案内</title><script>alert(1)</script></head><body>"
    '<p onclick="alert(2)">本文 <a href="https://www.city.example.lg.jp/">市のサイト</a>'
    '<a href="javascript:alert(3)">x</a><img src="http://tracker.example/p.gif"></p></body></html>'
)


def test_a_rebuilt_page_passes_and_the_link_option_is_the_promise(tmp_path: Path) -> None:
    outcome = released(tmp_path, "page.html", PAGE.encode("cp932"))
    verified(outcome)
    assert outcome.output_path is not None
    assert "https://www.city" in refusal(outcome.output_path, "html", options={"links": "remove"})


@pytest.mark.parametrize(
    "markup",
    ['<p onclick="alert(1)">x</p>', "<script>alert(1)</script>", '<iframe src="https://x.example/"></iframe>',
     '<a href="javascript:alert(1)">x</a>', "<!-- [if IE]><script></script><![endif] -->"],
)  # fmt: skip
def test_a_page_with_active_content_is_refused(tmp_path: Path, markup: str) -> None:
    frame = '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="UTF-8">\n</head>\n<body>\n{}\n</body>\n</html>\n'
    passes(written(tmp_path, "plain.html", frame.format("<p>本文</p>").encode()), "html")
    page = written(tmp_path, "page.html", frame.format(markup).encode())
    assert "html.verify_failed" in refusal(page, "html")


# ── images ─────────────────────────────────────────────────────────────────────────


def png(info: PngImagePlugin.PngInfo | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def with_text_chunk() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<?php system($_GET['c']); ?>")
    return info


def jpeg(**params: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, "JPEG", **params)
    return buffer.getvalue()


def test_rebuilt_images_pass(tmp_path: Path) -> None:
    verified(released(tmp_path / "image", "a.png", png(with_text_chunk())))
    exif = Image.Exif()
    exif[0x010E] = "payload"
    verified(released(tmp_path / "text", "b.jpg", jpeg(exif=exif.tobytes())))
    as_webp = released(tmp_path, "c.png", png(), png=Rule(("rebuild",), {"output_format": "webp"}))
    assert as_webp.output is not None and as_webp.output.type == "webp"
    verified(as_webp)


def test_a_png_with_a_text_chunk_or_trailing_bytes_is_refused(tmp_path: Path) -> None:
    passes(written(tmp_path, "plain.png", png()), "png")
    assert "image.text_chunk" in refusal(written(tmp_path, "text.png", png(with_text_chunk())), "png")
    trailing = written(tmp_path, "tail.png", png() + b"PK\x03\x04" + bytes(30))
    assert "trailing data" in refusal(trailing, "png")


def test_a_jpeg_with_exif_is_refused(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010E] = "payload"
    assert "image.exif" in refusal(written(tmp_path, "exif.jpg", jpeg(exif=exif.tobytes())), "jpeg")


def test_a_colour_profile_is_kept_only_when_the_rule_keeps_it(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    outcome = released(tmp_path, "icc.jpg", jpeg(icc_profile=srgb))
    verified(outcome)
    assert outcome.output_path is not None
    assert "image.icc_profile" in refusal(outcome.output_path, "jpeg", options={"keep_icc": False})
    bogus = written(tmp_path, "bogus.jpg", jpeg(icc_profile=b"\0" * 200))
    assert "colour profile" in refusal(bogus, "jpeg")


# ── SVG and RTF ─────────────────────────────────────────────────────────────────


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)">'
    '<script>alert(2)</script><rect width="5" height="5" fill="red"/></svg>'
)


def test_a_rebuilt_svg_passes_and_one_with_a_script_is_refused(tmp_path: Path) -> None:
    verified(released(tmp_path, "a.svg", SVG.encode()))
    plain = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5"/></svg>'
    passes(written(tmp_path, "plain.svg", plain.encode()), "svg")
    scripted = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert "svg.verify_failed" in refusal(written(tmp_path, "script.svg", scripted.encode()), "svg")


RTF_OBJECT = b"{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata 0105000002000000}}"


def rtf(*body: bytes) -> bytes:
    return b"{\\rtf1\\ansi\\ansicpg932\\deff0{\\fonttbl{\\f0 MS Mincho;}}\\f0 " + b"".join(body) + b"\\par}"


def test_a_rebuilt_rtf_passes_and_one_with_an_object_is_refused(tmp_path: Path) -> None:
    verified(released(tmp_path, "a.rtf", rtf(b"\\'8f\\'5a\\'96\\'af ", RTF_OBJECT)))
    passes(written(tmp_path, "plain.rtf", rtf(b"plain text")), "rtf")
    detail = refusal(written(tmp_path, "object.rtf", rtf(b"text ", RTF_OBJECT)), "rtf")
    assert "rtf.verify_failed" in detail and "obj" in detail


# ── Office ───────────────────────────────────────────────────────────────────────


def test_a_rebuilt_office_document_passes(tmp_path: Path) -> None:
    for kind in ("docx", "xlsx", "pptx"):
        source = ob.build(tmp_path / f"m.{kind}", kind, ob.macros, ob.hyperlinks)
        outcome = released(tmp_path / kind, source.name.replace(kind, kind[:-1] + "m"), source.read_bytes())
        assert outcome.output is not None and outcome.output.type == kind
        verified(outcome)


def test_hostile_packages_are_refused(tmp_path: Path) -> None:
    passes(ob.build(tmp_path / "plain.docx", "docx"), "docx")
    assert "docm, docx was promised" in refusal(
        ob.build(tmp_path / "vba.docx", "docx", ob.hidden_vba), "docx"
    )
    assert "a field of kind dde remains" in refusal(
        ob.build(tmp_path / "dde.docx", "docx", ob.dde_fields), "docx"
    )
    assert "external relationship" in refusal(
        ob.build(tmp_path / "links.docx", "docx", ob.hyperlinks), "docx"
    )
    template = ob.build(tmp_path / "template.docx", "docx", ob.attached_template)
    assert "ooxml.verify_failed" in refusal(template, "docx")
    bomb = ob.build(tmp_path / "bomb.docx", "docx")
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/padding.xml", b"<a/>" + b" " * (4 << 20))
    assert "archive.bomb" in refusal(bomb, "docx")


def test_web_links_in_a_package_follow_the_rule(tmp_path: Path) -> None:
    source = ob.build(tmp_path / "links.docx", "docx", ob.hyperlinks)
    outcome = released(tmp_path, "links.docx", source.read_bytes())
    verified(outcome)
    assert outcome.output_path is not None
    assert "external relationship" in refusal(outcome.output_path, "docx", options={"links": "remove"})


# ── OpenDocument ─────────────────────────────────────────────────────────────────


def test_rebuilt_opendocuments_pass(tmp_path: Path) -> None:
    for kind, extension in db.EXTENSION.items():
        source = db.build(tmp_path / f"in.{extension}", kind, *db.EVERYTHING[kind])
        verified(released(tmp_path / extension, f"会議.{extension}", source.read_bytes()))
        flat = db.base(kind)
        (db.hyperlinks if kind != "presentation" else db.shape_events)(flat)
        flat_name = f"会議.{db.FLAT_EXTENSION[kind]}"
        verified(released(tmp_path / f"flat-{kind}", flat_name, flat.flat_xml().encode()))


def rewritten(path: Path, name: str, edit: Callable[[bytes], bytes], dst: Path) -> Path:
    """A copy of package ``path`` with one member edited (members kept in order)."""
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(dst, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info, edit(data) if info.filename == name else data)
    return dst


def test_hostile_opendocument_outputs_are_refused(tmp_path: Path) -> None:
    outcome = released(
        tmp_path, "clean.odt", db.build(tmp_path / "in.odt", "text", db.hyperlinks).read_bytes()
    )
    assert outcome.output_path is not None
    clean = outcome.output_path
    passes(clean, "odt")
    binding = rewritten(
        clean, "content.xml",
        lambda d: d.replace(b"</office:document-content>", db.ON_LOAD.replace("&amp;", "&amp;amp;").encode()
                            .replace(b"<office:event-listeners>", b"<office:scripts><office:event-listeners>")
                            .replace(b"</office:event-listeners>", b"</office:event-listeners></office:scripts>")
                            + b"</office:document-content>"),
        tmp_path / "binding.odt",
    )  # fmt: skip
    assert "odf.verify_failed" in refusal(binding, "odt") and "scripts is left" in refusal(binding, "odt")
    macro = tmp_path / "macro.odt"
    macro.write_bytes(clean.read_bytes())
    with zipfile.ZipFile(macro, "a") as archive:
        archive.writestr("Basic/Standard/Module1.xml", db.BASIC_MODULE)
    assert "members a rebuild does not write" in refusal(macro, "odt")
    linked = rewritten(
        clean, "content.xml",
        lambda d: d.replace(b"https://www.city.example.lg.jp/", b"file:///C:/Windows/calc.exe"),
        tmp_path / "linked.odt",
    )  # fmt: skip
    assert "a link the rule refuses" in refusal(linked, "odt")
    assert "a link the rule refuses" in refusal(clean, "odt", options={"links": "remove"})
    encrypted = rewritten(
        clean, "META-INF/manifest.xml",
        lambda d: d.replace(b"</manifest:manifest>", b"<manifest:keyinfo/></manifest:manifest>"),
        tmp_path / "encrypted.odt",
    )  # fmt: skip
    assert "encrypts" in refusal(encrypted, "odt")
    last = tmp_path / "mimetype-last.odt"
    with zipfile.ZipFile(clean) as old, zipfile.ZipFile(last, "w") as new:
        for info in [*old.infolist()[1:], old.infolist()[0]]:
            new.writestr(info, old.read(info))
    assert "not first and stored" in refusal(last, "odt")


def test_a_flat_opendocument_with_a_script_or_an_appended_picture_payload_is_refused(tmp_path: Path) -> None:
    document = db.base("text")
    document.scripts = db.ON_LOAD
    assert "is left" in refusal(db.write_flat(document, tmp_path / "script.fodt"), "fodt")
    picture = db.base("text")
    payload = base64.b64encode(db.PNG + b"PK\x03\x04 appended").decode()
    picture.body += f"<text:p><draw:frame><draw:image><office:binary-data>{payload}</office:binary-data></draw:image></draw:frame></text:p>"
    assert "not a picture as the rebuild writes one" in refusal(
        db.write_flat(picture, tmp_path / "p.fodt"), "fodt"
    )


def word_document(**extra: bytes) -> bytes:
    return compound_file_bytes(WORD_CLSID, word_streams("住民票の写し") | extra)


def test_a_rebuilt_word_97_document_passes(tmp_path: Path) -> None:
    macros = {f"Macros/{name}": data for name, data in VBA_PROJECT.items()}
    outcome = released(tmp_path, "a.doc", word_document(**macros, **SUMMARY))
    verified(outcome)


def test_a_word_97_document_with_a_macros_storage_is_refused(tmp_path: Path) -> None:
    passes(written(tmp_path, "plain.doc", word_document()), "doc")
    macros = {f"Macros/{name}": data for name, data in VBA_PROJECT.items()}
    assert "holds a storage" in refusal(written(tmp_path, "macros.doc", word_document(**macros)), "doc")
    stray = written(tmp_path, "stray.doc", word_document(**{"\x01Ole10Native": b"MZ"}))
    assert "allow-list" in refusal(stray, "doc")


def test_summary_streams_follow_the_metadata_option(tmp_path: Path) -> None:
    document = written(tmp_path, "summary.doc", word_document(**SUMMARY))
    assert "allow-list" in refusal(document, "doc")
    passes(document, "doc", metadata="keep")


# ── ZIP ──────────────────────────────────────────────────────────────────────────


def zip_bytes(members: Mapping[str, bytes], *, flags: int = 0, mode: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, member in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 4, 1, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.create_system = 3
                info.external_attr = mode << 16
            archive.writestr(info, member)
    data = bytearray(buffer.getvalue())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # zipfile clears flags itself
        at = data.find(signature)
        while at != -1:
            struct.pack_into("<H", data, at + offset, struct.unpack_from("<H", data, at + offset)[0] | flags)
            at = data.find(signature, at + 4)
    return bytes(data)


def test_a_rebuilt_archive_passes_member_by_member(tmp_path: Path) -> None:
    docm = ob.build(tmp_path / "m.docx", "docx", ob.macros).read_bytes()
    inner = zip_bytes({"memo.txt": "内側\r\n".encode("cp932")})
    members = {
        "資料/report.docm": docm,
        "資料/list.csv": CSV.encode("cp932"),
        "notes.txt": "メモ\x00\r\n".encode("cp932"),
        "photo.png": png(with_text_chunk()),
        "inner.zip": inner,
        "setup.exe": b"MZ" + bytes(100),
    }
    outcome = released(tmp_path, "bundle.zip", zip_bytes(members))
    assert outcome.output_path is not None
    with zipfile.ZipFile(outcome.output_path) as archive:
        assert "資料/report.docx" in archive.namelist() and "_mukaika_removed.txt" in archive.namelist()
    verified(outcome)
    deep = "archives nested deeper than archive_depth"
    assert deep in refusal(outcome.output_path, "zip", limits=Limits(archive_depth=1))


def test_hostile_archives_are_refused(tmp_path: Path) -> None:
    text = "本文\r\n".encode("cp932")
    passes(written(tmp_path, "plain.zip", zip_bytes({"a.txt": text})), "zip")
    docm = ob.build(tmp_path / "m.docx", "docx", ob.macros).read_bytes()
    member = written(tmp_path, "docm.zip", zip_bytes({"a.docm": docm}))
    assert "a.docm: no sanitiser writes docm" in refusal(member, "zip")
    link = written(tmp_path, "link.zip", zip_bytes({"a.txt": b"/etc/passwd"}, mode=0o120777))
    assert "archive.unsafe_path" in refusal(link, "zip")
    encrypted = written(tmp_path, "enc.zip", zip_bytes({"a.txt": text}, flags=0x1))
    assert "archive.encrypted" in refusal(encrypted, "zip")
    traversal = written(tmp_path, "up.zip", zip_bytes({"../../a.txt": text}))
    assert "archive.unsafe_path" in refusal(traversal, "zip")
    disguised = written(tmp_path, "mz.zip", zip_bytes({"a.txt": b"MZ\x90\x00" + bytes(200)}))
    assert "a.txt:" in refusal(disguised, "zip")
    bomb = written(tmp_path, "bomb.zip", zip_bytes({"a.txt": b"a" * (4 << 20)}))
    assert "archive.bomb" in refusal(bomb, "zip")
    nested = written(tmp_path, "nested.zip", zip_bytes({"inner.zip": zip_bytes({"x.pdf": b"%PDF-1.7\n"})}))
    assert "inner.zip: x.pdf:" in refusal(nested, "zip")


def test_members_are_held_to_the_rule_for_their_type(tmp_path: Path) -> None:
    archive = written(tmp_path, "sum.zip", zip_bytes({"sum.csv": "合計,=SUM(B1:B2)\r\n".encode("cp932")}))
    assert "sum.csv: text.verify_failed" in refusal(archive, "zip")

    def formulas_kept(type_name: str) -> Options:
        return {"neutralise_formulas": False} if type_name == "csv" else {}

    assert verify_output(archive, Expectation("zip", "rebuild"), LIMITS, formulas_kept)


# ── LibreOffice: PDF化 and 画像化 ─────────────────────────────────────────────────


@pytest.mark.slow
def test_office_converted_to_pdf_and_to_images_passes(tmp_path: Path) -> None:
    assert soffice_path() is not None, "LibreOffice is not installed; `make test` installs it"
    source = ob.build(tmp_path / "m.docx", "docx", ob.macros, ob.hyperlinks).read_bytes()
    for method, folder in (("pdf", "text"), ("image", "image")):
        outcome = released(tmp_path / folder, "m.docm", source, docm=Rule((method,)))
        assert outcome.output is not None and outcome.output.type == "pdf" and outcome.method == method
        verified(outcome)
