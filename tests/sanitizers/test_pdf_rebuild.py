"""PDF rebuild: every hostile construct goes, the document stays the same document."""

from __future__ import annotations

import zlib
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String
from pikepdf.exceptions import PageCopyWarning

from sanitizers.base import Limits, Report, Sanitizer
from sanitizers.errors import (
    EncryptedError,
    LimitError,
    MalformedError,
    PolicyError,
    SanitizeError,
    VerifyError,
)
from sanitizers.pdf import PdfRebuild
from sanitizers.pdf.verify import Promise, verify_pdf
from tests.sanitizers import pdf_builders as b
from tests.sanitizers.contract import RebuildContract, removed_counts

REBUILD = PdfRebuild()
PROMISE = Promise(web_links=True, metadata=False, image_only=False)


def rebuild(src: Path, tmp_path: Path, **options: str) -> tuple[Path, Report]:
    dst = tmp_path / "out.pdf"
    report = REBUILD.sanitize(src, dst, options, Limits())
    return dst, report


def assert_clean(path: Path) -> None:
    """The independent re-parse finds no forbidden construct, by objects and by bytes."""
    assert b.constructs_in(path) & b.FORBIDDEN_CONSTRUCTS == set()
    data = b.decompressed_bytes(path)
    assert [marker for marker in b.FORBIDDEN_BYTES if marker in data] == []


class TestContract(RebuildContract):
    def make_sanitizer(self) -> Sanitizer:
        return PdfRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        return b.build(tmp_path / "in.pdf", b.open_action_js, b.form_with_js_and_xfa, b.metadata)


@pytest.mark.parametrize("name", sorted(b.HOSTILE))
def test_each_hostile_construct_is_removed_and_the_document_kept(name: str, tmp_path: Path) -> None:
    builder, construct = b.HOSTILE[name]
    src = b.build(tmp_path / "in.pdf", builder)
    dst, report = rebuild(src, tmp_path)
    assert construct in removed_counts(report)
    assert_clean(dst)
    assert b.pdfium_texts(dst) == b.pdfium_texts(src)


def test_everything_at_once_in_object_streams(tmp_path: Path) -> None:
    builders = [builder for builder, _ in b.HOSTILE.values() if builder is not b.web_capture]
    src = b.build(tmp_path / "in.pdf", *builders)
    assert b.constructs_in(src) & b.FORBIDDEN_CONSTRUCTS  # the input really is hostile
    dst, report = rebuild(src, tmp_path)
    assert_clean(dst)
    assert b.pdfium_texts(dst) == b.pdfium_texts(src)
    assert {construct for _, construct in b.HOSTILE.values()} - {"pdf.web_capture"} <= set(
        removed_counts(report)
    )


def test_findings_count_and_locate_what_was_removed(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", b.catalog_aa, b.page_aa, b.names_javascript, b.form_with_js_and_xfa)
    _, report = rebuild(src, tmp_path)
    located = {(f.construct, f.location): f.count for f in report.findings}
    assert located[("pdf.additional_actions", "document /AA")] == 3
    assert located[("pdf.additional_actions", "page 2")] == 2
    assert located[("pdf.javascript", "document names /JavaScript")] == 2
    assert located[("pdf.additional_actions", "page 1, field 'applicant'")] == 2
    assert located[("pdf.submit_form", "page 1, field 'send'")] == 1
    assert located[("pdf.xfa", "form")] == 1


def test_kept_internal_links_outlines_and_form_appearances(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", b.internal_link, b.outline_js, b.form_with_js_and_xfa)
    dst, _ = rebuild(src, tmp_path)
    with pikepdf.open(dst) as pdf:
        annotations = list(pdf.pages[0].obj.Annots)
        link = next(a for a in annotations if a.Subtype == Name.Link)
        assert link.A.S == "/GoTo"
        assert link.A.D[0].objgen == pdf.pages[1].obj.objgen
        assert str(pdf.Root.Outlines.First.Title) == "Details"
        assert pdf.Root.Outlines.First.A.S == "/GoTo"
        assert "/A" not in pdf.Root.Outlines.Last  # the JavaScript item stays, inert
        field = next(a for a in annotations if a.get("/T") == "applicant")
        assert b"Taro Yamada" in field.AP.N.read_bytes()
        assert len(pdf.Root.AcroForm.Fields) == 2


def test_web_links_kept_and_other_schemes_removed(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", b.web_links, b.bad_links)
    dst, report = rebuild(src, tmp_path)
    assert b.uris_in(dst) == {
        "https://www.city.example.lg.jp/",
        "http://example.org/a b",
        "mailto:soumu@city.example.lg.jp",
    }
    assert removed_counts(report)["pdf.uri"] == len(b.BAD_URIS)


def test_links_remove_drops_every_uri(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", b.web_links, b.internal_link)
    dst, report = rebuild(src, tmp_path, links="remove")
    assert b.uris_in(dst) == set()
    assert removed_counts(report)["pdf.uri"] == 3
    assert "/S/GoTo" in b.constructs_in(dst)


def test_metadata_keep_keeps_xmp_and_standard_info_only(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", b.metadata)
    dst, report = rebuild(src, tmp_path, metadata="keep")
    with pikepdf.open(dst) as pdf:
        assert str(pdf.docinfo["/Author"]) == "Secret Author"
        assert "/Custom" not in pdf.docinfo
        assert b"Secret Author" in pdf.Root.Metadata.read_bytes()
    assert removed_counts(report) == {"pdf.metadata": 1}


def test_metadata_removed_by_default(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", b.metadata)
    dst, _ = rebuild(src, tmp_path)
    assert b"Secret Author" not in b.decompressed_bytes(dst)
    assert {"/Metadata", "/Info"}.isdisjoint(b.constructs_in(dst))


def test_hex_escaped_names_are_caught(tmp_path: Path) -> None:
    pdf = b.new_document()
    b.open_action_js(pdf)
    b.add_link(pdf, b.js_action("escaped"))
    raw = b.plain_bytes(pdf).replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS ", b"/#4aS ")
    src = tmp_path / "escaped.pdf"
    src.write_bytes(raw)
    assert b"/JavaScript" not in raw
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["pdf.javascript"] == 2
    assert_clean(dst)


def test_leading_trailing_data_and_incremental_history_vanish(tmp_path: Path) -> None:
    base = b.plain_bytes(b.new_document(["Original secret text"]))
    page_object = 3  # pikepdf numbers the catalog 1, the page tree 2, the page 3
    updated = b.append_incremental_update(base, page_object, b"BT /F1 20 Tf 72 700 Td (Public text) Tj ET")
    src = tmp_path / "polyglot.pdf"
    src.write_bytes(b"MZ-or-anything " * 10 + updated + b"PK\x03\x04 appended archive")
    assert "Public text" in b.pdfium_texts(src)[0]
    dst, report = rebuild(src, tmp_path)
    data = dst.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert b"Original secret" not in b.decompressed_bytes(dst)
    assert b.pdfium_texts(dst) == ["Public text"]
    assert removed_counts(report)["pdf.leading_data"] == 150
    assert removed_counts(report)["pdf.trailing_data"] == len(b"PK\x03\x04 appended archive")


def test_owner_password_only_is_decrypted(tmp_path: Path) -> None:
    pdf = b.new_document()
    b.open_action_js(pdf)
    src = b.save(pdf, tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="boss", user="", R=6))
    dst, report = rebuild(src, tmp_path)
    assert ("pdf.decrypted", "decrypted") in {(f.construct, f.action) for f in report.findings}
    assert "/Encrypt" not in b.constructs_in(dst)
    with pikepdf.open(dst) as out:
        assert not out.is_encrypted
    assert b.pdfium_texts(dst) == list(b.PAGE_TEXTS)
    assert_clean(dst)


def test_user_password_is_refused_without_guessing(tmp_path: Path) -> None:
    src = b.save(
        b.new_document(), tmp_path / "secret.pdf", encryption=pikepdf.Encryption(owner="a", user="b")
    )
    with pytest.raises(EncryptedError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code == "pdf.encrypted"
    assert not (tmp_path / "out.pdf").exists()


def test_damaged_xref_is_repaired(tmp_path: Path) -> None:
    raw = b.plain_bytes(b.new_document())
    src = tmp_path / "damaged.pdf"
    src.write_bytes(raw.replace(b"xref\n", b"xerf\n"))
    dst, report = rebuild(src, tmp_path)
    assert any(f.construct == "pdf.repaired" and f.action == "repaired" for f in report.findings)
    assert b.pdfium_texts(dst) == list(b.PAGE_TEXTS)
    with pikepdf.open(dst) as pdf:
        assert pdf.get_warnings() == []


@pytest.mark.parametrize(
    "raw",
    [
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        b"%PDF-1.4\n" + b"\x00" * 200,
    ],
    ids=["no-pages", "no-objects"],
)
def test_unrepairable_is_malformed(raw: bytes, tmp_path: Path) -> None:
    src = tmp_path / "broken.pdf"
    src.write_bytes(raw)
    with pytest.raises(MalformedError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code == "pdf.malformed"


def test_limits_pages_and_objects(tmp_path: Path) -> None:
    src = b.save(b.new_document(["a", "b", "c"]), tmp_path / "three.pdf")
    with pytest.raises(LimitError, match="3 pages"):
        REBUILD.sanitize(src, tmp_path / "out.pdf", {}, Limits(max_pages=2))
    with pytest.raises(LimitError, match="objects"):
        REBUILD.sanitize(src, tmp_path / "out.pdf", {}, Limits(max_objects=5))
    assert not (tmp_path / "out.pdf").exists()


def test_limit_on_decoded_stream_size_stops_a_flate_bomb(tmp_path: Path) -> None:
    pdf = b.new_document()
    bomb = zlib.compress(b"0 0 m " + b" " * 20_000_000, 9)
    pdf.pages[0].obj.Contents = pdf.make_stream(bomb, Filter=Name.FlateDecode)
    src = b.save(pdf, tmp_path / "bomb.pdf", stream_decode_level=pikepdf.StreamDecodeLevel.none)
    assert src.stat().st_size < 100_000
    with pytest.raises(LimitError, match="max_stream_size"):
        REBUILD.sanitize(src, tmp_path / "out.pdf", {}, Limits(max_stream_size=1_000_000))
    assert not (tmp_path / "out.pdf").exists()


def test_limit_on_declared_image_pixels(tmp_path: Path) -> None:
    pdf = b.new_document()
    image = pdf.make_stream(
        zlib.compress(b"\0" * 100),
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=100_000,
        Height=100_000,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=8,
        Filter=Name.FlateDecode,
    )
    pdf.pages[0].obj.Resources.XObject = Dictionary(Im0=image)
    src = b.save(pdf, tmp_path / "huge.pdf")
    with pytest.raises(LimitError, match="max_pixels"):
        rebuild(src, tmp_path)


def test_deep_nesting_is_a_limit_not_a_crash(tmp_path: Path) -> None:
    raw = b.plain_bytes(b.new_document(["x"]))
    deep = b"[" * 400 + b"]" * 400
    src = tmp_path / "deep.pdf"
    src.write_bytes(
        raw.replace(b"/Type /Catalog", b"/Type /Catalog /StructTreeRoot << /K " + deep + b" >>", 1)
    )
    with pytest.raises(SanitizeError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code in {"pdf.limit", "pdf.malformed"}


def test_stray_action_objects_are_neutralised(tmp_path: Path) -> None:
    """A JavaScript action reachable only through an unknown key is emptied, not kept."""
    pdf = b.new_document()
    pdf.pages[0].obj.Resources.Private = pdf.make_indirect(b.js_action("stray"))
    pdf.Root.StructTreeRoot = Dictionary(Type=Name.StructTreeRoot, K=Dictionary(S=Name.Launch, P=pdf.Root))
    src = b.save(pdf, tmp_path / "stray.pdf")
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report)["pdf.javascript"] == 1
    # A /P does not make a /Launch anything else: a reader that reaches the dictionary
    # through an action slot launches it, so it goes (no standard role is an action name).
    assert removed_counts(report)["pdf.launch"] == 1
    assert {"/S/JavaScript", "/JS", "/S/Launch"}.isdisjoint(b.constructs_in(dst))


def test_action_names_inside_page_content_are_refused(tmp_path: Path) -> None:
    """Content streams are copied verbatim, so names of actions in them cannot be removed."""
    pdf = b.new_document()
    pdf.pages[1].obj.Contents = pdf.make_stream(b"/J#61vaScript <</JS (app.alert(1))>> BDC EMC")
    with pytest.raises(SanitizeError) as caught:
        rebuild(b.save(pdf, tmp_path / "in.pdf"), tmp_path)
    assert caught.value.code == "pdf.active_content"
    assert "page 2" in caught.value.detail
    assert not (tmp_path / "out.pdf").exists()


def test_malformed_actions_without_a_type_are_removed(tmp_path: Path) -> None:
    """/Next chains hang off dictionaries without /S, actions lose their /S: still removed."""
    pdf = b.new_document()
    chain_end = pdf.make_indirect(b.uri_action("file:///etc/passwd"))
    b.add_annotation(pdf, Dictionary(Subtype=Name.Link, A=Dictionary(Next=chain_end)))
    pdf.Root.OpenAction = Dictionary(Type=Name.Action, JS=String("x"))
    dst, report = rebuild(b.save(pdf, tmp_path / "in.pdf"), tmp_path)
    assert {"pdf.action", "pdf.open_action"} <= set(removed_counts(report))
    assert b.uris_in(dst) == set()
    assert_clean(dst)


def test_widgets_outside_the_form_raise_no_warning(tmp_path: Path) -> None:
    """pytest turns warnings into errors: the rebuild must stay silent on odd forms."""
    pdf = b.new_document()
    b.form_with_js_and_xfa(pdf)
    del pdf.Root.AcroForm
    src = tmp_path / "in.pdf"
    with pytest.warns(PageCopyWarning):  # pikepdf's own save complains about such files
        src.write_bytes(b.plain_bytes(pdf))
    dst, _ = rebuild(src, tmp_path)
    assert_clean(dst)


def test_open_action_goto_is_kept(tmp_path: Path) -> None:
    pdf = b.new_document()
    pdf.Root.OpenAction = b.goto_action(pdf)
    dst, report = rebuild(b.save(pdf, tmp_path / "goto.pdf"), tmp_path)
    assert "pdf.open_action" not in removed_counts(report)
    with pikepdf.open(dst) as out:
        assert out.Root.OpenAction.S == "/GoTo"


def test_japanese_text_survives(tmp_path: Path) -> None:
    src = b.save(b.japanese_document(["無害化されたお知らせ", "令和六年度"]), tmp_path / "ja.pdf")
    dst, _ = rebuild(src, tmp_path)
    assert b.pdfium_texts(dst) == b.pdfium_texts(src)
    assert "無害化されたお知らせ" in b.pdfium_texts(dst)[0]


class TestVerification:
    """The verifier is independent of the cleaner: feed it hostile files directly."""

    @pytest.mark.parametrize("name", sorted(b.HOSTILE))
    def test_each_hostile_construct_fails_verification(self, name: str, tmp_path: Path) -> None:
        builder, _ = b.HOSTILE[name]
        src = b.build(tmp_path / "in.pdf", builder)
        with pytest.raises(VerifyError) as caught:
            verify_pdf(src, PROMISE, Limits())
        assert caught.value.code == "pdf.verify_failed"

    def test_clean_document_passes(self, tmp_path: Path) -> None:
        src = b.build(tmp_path / "in.pdf", b.internal_link, b.web_links)
        verify_pdf(src, PROMISE, Limits())

    def test_forbidden_name_in_a_content_stream_is_caught(self, tmp_path: Path) -> None:
        pdf = b.new_document()
        pdf.pages[0].obj.Contents = pdf.make_stream(b"/J#61vaScript <</JS (x)>> BDC EMC")
        src = b.save(pdf, tmp_path / "content.pdf")
        with pytest.raises(VerifyError, match="in stream data"):
            verify_pdf(src, PROMISE, Limits())

    def test_undecodable_stream_is_scanned_raw(self, tmp_path: Path) -> None:
        pdf = b.new_document()
        pdf.pages[0].obj.Contents = pdf.make_stream(b"/JavaScript", Filter=Name("/UnknownFilter"))
        src = b.save(pdf, tmp_path / "raw.pdf", stream_decode_level=pikepdf.StreamDecodeLevel.none)
        with pytest.raises(VerifyError, match="JavaScript"):
            verify_pdf(src, PROMISE, Limits())

    def test_encryption_fails_verification(self, tmp_path: Path) -> None:
        src = b.save(
            b.new_document(), tmp_path / "enc.pdf", encryption=pikepdf.Encryption(owner="o", user="")
        )
        with pytest.raises(VerifyError, match="encrypted"):
            verify_pdf(src, PROMISE, Limits())

    def test_disallowed_uri_fails_verification_and_web_uri_depends_on_promise(self, tmp_path: Path) -> None:
        src = b.build(tmp_path / "web.pdf", b.web_links)
        verify_pdf(src, PROMISE, Limits())
        with pytest.raises(VerifyError, match="URI"):
            verify_pdf(src, Promise(web_links=False, metadata=False, image_only=False), Limits())

    def test_image_only_promise_rejects_fonts_and_annotations(self, tmp_path: Path) -> None:
        src = b.build(tmp_path / "in.pdf", b.internal_link)
        with pytest.raises(VerifyError, match="resource /Font"):
            verify_pdf(src, Promise(web_links=False, metadata=False, image_only=True), Limits())

    def test_stream_beyond_limit_fails(self, tmp_path: Path) -> None:
        pdf = b.new_document()
        pdf.pages[0].obj.Contents = pdf.make_stream(zlib.compress(b" " * 50_000), Filter=Name.FlateDecode)
        src = b.save(pdf, tmp_path / "big.pdf", stream_decode_level=pikepdf.StreamDecodeLevel.none)
        with pytest.raises(LimitError):
            verify_pdf(src, PROMISE, Limits(max_stream_size=10_000))


def test_bad_option_value_is_a_configuration_error(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf")
    with pytest.raises(PolicyError, match="links") as caught:
        REBUILD.sanitize(src, tmp_path / "out.pdf", {"links": "keep-all"}, Limits())
    assert caught.value.code == "policy.bad_option"


def test_array_and_string_entries_are_typed_defensively(tmp_path: Path) -> None:
    """Wrong types where names or dictionaries belong must not crash the walk."""
    pdf = b.new_document()
    pdf.pages[0].obj.Annots = Array(
        [String("not an annotation"), 42, Dictionary(Subtype=42, Rect=Array([0, 0, 1, 1]))]
    )
    pdf.Root.OpenAction = String("javascript:1")
    pdf.pages[1].obj.AA = Array([1, 2])
    # A field name that is neither UTF-8 nor PDFDocEncoding, on a link posing as a field.
    bad_name = String(b"\xef\xbb\xbf\xff")
    b.add_annotation(pdf, Dictionary(Subtype=Name.Link, T=bad_name, Parent=Dictionary(), A=b.js_action()))
    dst, report = rebuild(b.save(pdf, tmp_path / "odd.pdf"), tmp_path)
    assert {"pdf.annotation", "pdf.open_action", "pdf.additional_actions", "pdf.javascript"} <= set(
        removed_counts(report)
    )
    assert_clean(dst)
