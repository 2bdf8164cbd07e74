"""PDF化 / 画像化 through LibreOffice: real conversions, re-checked with independent readers."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pypdfium2
import pytest

from sanitizers import convert
from sanitizers.base import Limits, Sanitizer
from sanitizers.convert import OfficeToImage, OfficeToPdf, convert_to_pdf, soffice_path
from sanitizers.errors import SanitizeError
from tests.sanitizers import ooxml_builders as ob
from tests.sanitizers.contract import SanitizerContract
from tests.sanitizers.test_detect import damaged_xls

pytestmark = pytest.mark.slow

if soffice_path() is None:
    pytest.fail("LibreOffice is not installed; `make test` installs it", pytrace=False)

TEXT = "令和8年度 予算説明書 Budget"


def docx(body_xml: str, extra_parts: dict[str, str] | None = None) -> bytes:
    """A minimal Word document around ``body_xml`` (the contents of w:body)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                   '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.wordprocessingml.document.main+xml"/></Types>')  # fmt: skip
        z.writestr("_rels/.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
                   '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')  # fmt: skip
        z.writestr("word/document.xml",
                   '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
                   f'2006/main"><w:body>{body_xml}</w:body></w:document>')  # fmt: skip
        for name, data in (extra_parts or {}).items():
            z.writestr(name, data)
    return buffer.getvalue()


def paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def pdf_text(path: Path) -> str:
    document = pypdfium2.PdfDocument(path)
    try:
        return "".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


class TestOfficeToPdfContract(SanitizerContract):
    garbage = ("random", "zeros", "truncated_header")

    def make_sanitizer(self) -> Sanitizer:
        return OfficeToPdf()

    def make_good_input(self, tmp_path: Path) -> Path:
        path = tmp_path / "input"
        path.write_bytes(docx(paragraph(TEXT)))
        return path


def test_japanese_text_survives_conversion_and_stays_selectable(tmp_path: Path) -> None:
    src = tmp_path / "input"
    src.write_bytes(docx(paragraph(TEXT) + paragraph("東京都千代田区")))
    dst = tmp_path / "out.pdf"
    report = OfficeToPdf().sanitize(src, dst, {}, Limits())
    assert report.output_type == "pdf"
    assert ("office.converted", "converted") in [(f.construct, f.action) for f in report.findings]
    text = "".join(pdf_text(dst).split())  # LibreOffice spaces Latin digits apart from kanji
    assert "".join(TEXT.split()) in text and "東京都千代田区" in text


def test_a_macro_document_becomes_a_pdf_without_active_content(tmp_path: Path) -> None:
    src = tmp_path / "input"
    src.write_bytes(
        docx(paragraph(TEXT), {"word/vbaProject.bin": "\xd0\xcf\x11\xe0 not really a vba project"})
    )
    dst = tmp_path / "out.pdf"
    OfficeToPdf().sanitize(src, dst, {}, Limits())
    with pikepdf.open(dst) as pdf:
        names = {str(key) for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary) for key in obj}
        assert not names & {"/JavaScript", "/JS", "/AA", "/EmbeddedFiles", "/Launch", "/RichMedia"}
        open_action = pdf.Root.get("/OpenAction")  # LibreOffice opens at page 1: a plain GoTo is fine
        assert open_action is None or isinstance(open_action, pikepdf.Array) or open_action.S == "/GoTo"
        assert not pdf.is_encrypted


def test_image_method_renders_pages_to_pixels(tmp_path: Path) -> None:
    src = tmp_path / "input"
    src.write_bytes(docx(paragraph(TEXT)))
    dst = tmp_path / "out.pdf"
    OfficeToImage().sanitize(src, dst, {}, Limits())
    assert pdf_text(dst).strip() == ""  # no text layer: only pixels
    with pikepdf.open(dst) as pdf:
        assert len(pdf.pages) == 1
        assert [str(k) for k in pdf.pages[0].Resources.XObject]


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request made to it, whatever the method
    (LibreOffice's WebDAV client asks with HEAD, OPTIONS and PROPFIND before any GET)."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def parse_request(self) -> bool:
            parsed = super().parse_request()
            requests.append(f"{self.command} {self.path}")
            return parsed

        def do_GET(self) -> None:  # every other method is answered 501 by the base class
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recording_listener() -> Iterator[tuple[str, list[bytes]]]:
    """A plain TCP listener on loopback that records the first bytes of every connection,
    for callers that speak no HTTP (or that connect and give up)."""
    connections: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1.0)
                try:
                    connections.append(connection.recv(200) or b"(connected)")
                except OSError:
                    connections.append(b"(connected)")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", connections
    finally:
        stop.set()
        thread.join()
        listener.close()


def _word_that_calls_out(http_base: str, tcp: str) -> ob.Package:
    """Every way a Word document asks its reader to fetch something while it is opened:
    a remote template, DDE fields, INCLUDEPICTURE / INCLUDETEXT / LINK fields, a linked
    (not embedded) picture in VML and in DrawingML, and an external sub-document."""
    package = ob.word()
    package.replace("word/settings.xml", "</w:settings>", '<w:attachedTemplate r:id="rIdT"/></w:settings>')
    package.relate(
        "word/settings.xml", ob.REL + "attachedTemplate", f"{http_base}/t.dotm", external=True, rid="rIdT"
    )
    markup = ob.complex_field([f' DDEAUTO "http://{tcp}/dde" "x" '], "DDE結果")
    markup += ob.complex_field([f' INCLUDEPICTURE "{http_base}/x.png" \\d '], "画像")
    markup += ob.complex_field([f' INCLUDEPICTURE "http://{tcp}/y.png" '], "画像2")
    markup += ob.complex_field([f' INCLUDETEXT "{http_base}/text.docx" '], "本文")
    markup += ob.complex_field([f' LINK Excel.Sheet.12 "{http_base}/book.xlsx" "Sheet1!R1C1" \\a '], "リンク")
    vml = package.relate("word/document.xml", ob.REL + "image", f"{http_base}/vml.png", external=True)
    markup += (
        f'<w:p><w:r><w:pict><v:shape id="s1" style="width:20pt;height:20pt"><v:imagedata r:id="{vml}" o:title=""/>'
        "</v:shape></w:pict></w:r></w:p>"
    )
    blip = package.relate("word/document.xml", ob.REL + "image", f"http://{tcp}/blip.png", external=True)
    markup += (
        '<w:p><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
        '<wp:extent cx="190500" cy="190500"/><wp:docPr id="1" name="linked"/>'
        f'<a:graphic xmlns:a="{ob.A}"><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:nvPicPr>'
        '<pic:cNvPr id="1" name="linked"/><pic:cNvPicPr/></pic:nvPicPr>'
        f'<pic:blipFill><a:blip r:link="{blip}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
        '<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="190500" cy="190500"/></a:xfrm>'
        '<a:prstGeom prst="rect"/></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing>'
        "</w:r></w:p>"
    )
    sub = package.relate("word/document.xml", ob.REL + "subDocument", f"{http_base}/sub.docx", external=True)
    markup += f'<w:subDoc r:id="{sub}"/>'
    ob.append_to_body(package, markup)
    return package


def _workbook_that_calls_out(http_base: str, tcp: str) -> ob.Package:
    """A workbook whose cells read another workbook over HTTP and call a web service."""
    package = ob.excel()
    ob.external_book(
        package, f"{http_base}/book.xlsx", "Sheet1",
        '<row r="10"><c r="A10"><f>[1]Sheet1!A1</f><v>42</v></c>'
        f'<c r="B10" t="str"><f>WEBSERVICE("http://{tcp}/ws")</f><v>cached</v></c>'
        f'<c r="C10" t="str"><f>HYPERLINK("{http_base}/h","h")</f><v>h</v></c></row>',
    )  # fmt: skip
    return package


def _presentation_that_calls_out(http_base: str, tcp: str) -> ob.Package:
    """A slide whose picture is linked, not embedded, and a linked media clip."""
    package = ob.powerpoint()
    slide = "ppt/slides/slide1.xml"
    picture = package.relate(slide, ob.REL + "image", f"http://{tcp}/slide.png", external=True)
    movie = package.relate(slide, ob.REL + "video", f"{http_base}/clip.mp4", external=True)
    ob.append_to_body(
        package,
        '<p:pic><p:nvPicPr><p:cNvPr id="20" name="linked"/><p:cNvPicPr/>'
        f'<p:nvPr><a:videoFile r:link="{movie}"/></p:nvPr></p:nvPicPr>'
        f'<p:blipFill><a:blip r:link="{picture}"/><a:stretch><a:fillRect/></a:stretch></p:blipFill>'
        '<p:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="952500"/></a:xfrm>'
        '<a:prstGeom prst="rect"/></p:spPr></p:pic>',
    )
    return package


def _rtf_that_calls_out(http_base: str, tcp: str) -> bytes:
    return (
        "{\\rtf1\\ansi{\\*\\template " + http_base + "/t.dotm}"
        '{\\field{\\*\\fldinst INCLUDEPICTURE "' + http_base + '/r.png" \\\\d}{\\fldrslt x}}\\par '
        '{\\field{\\*\\fldinst DDEAUTO "http://' + tcp + '/dde" "x"}{\\fldrslt y}}\\par '
        "Budget\\par}"
    ).encode("ascii")


def _write_document_that_calls_out(src: Path, http_base: str, tcp: str) -> None:
    builders = {
        "docx": _word_that_calls_out,
        "xlsx": _workbook_that_calls_out,
        "pptx": _presentation_that_calls_out,
    }
    kind = src.suffix.lstrip(".")
    if kind == "rtf":
        src.write_bytes(_rtf_that_calls_out(http_base, tcp))
    else:
        builders[kind](http_base, tcp).write(src)


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx", "rtf"])
def test_libreoffice_follows_no_link_dde_or_remote_template(
    tmp_path: Path,
    recording_server: tuple[str, list[str]],
    recording_listener: tuple[str, list[bytes]],
    kind: str,
) -> None:
    """PDF化 runs LibreOffice on the hostile document itself: its profile (macros off,
    link and DDE updates never) must keep it from calling anyone while it converts."""
    http_base, requests = recording_server
    tcp, connections = recording_listener
    src = tmp_path / f"input.{kind}"
    _write_document_that_calls_out(src, http_base, tcp)
    work = tmp_path / "work"
    work.mkdir()
    converted = convert_to_pdf(src, work, Limits())  # LibreOffice alone: the PDF rebuild fetches nothing
    assert converted.read_bytes().startswith(b"%PDF-")
    time.sleep(0.5)  # a request started at the end of the conversion has arrived by now
    assert requests == []
    assert connections == []


def test_a_document_libreoffice_cannot_read_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "input"
    src.write_bytes(docx("<w:p>")[:-40])  # a truncated package
    with pytest.raises(SanitizeError) as caught:
        OfficeToPdf().sanitize(src, tmp_path / "out.pdf", {}, Limits())
    assert caught.value.code in {"convert.failed", "type.malformed"}
    assert not (tmp_path / "out.pdf").exists()


def test_the_listeners_hear_libreoffice_when_the_profile_lets_it_fetch(
    tmp_path: Path,
    recording_server: tuple[str, list[str]],
    recording_listener: tuple[str, list[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The test above proves something only if a call-out would be heard: without
    BlockUntrustedRefererLinks, the linked picture is fetched and the listener sees it."""
    http_base, _ = recording_server
    tcp, connections = recording_listener
    guard = next(
        line for line in convert._PROFILE_SETTINGS.splitlines() if "BlockUntrustedRefererLinks" in line
    )
    monkeypatch.setattr(convert, "_PROFILE_SETTINGS", convert._PROFILE_SETTINGS.replace(guard + "\n", ""))
    src = tmp_path / "input.docx"
    _write_document_that_calls_out(src, http_base, tcp)
    work = tmp_path / "work"
    work.mkdir()
    convert_to_pdf(src, work, Limits())
    time.sleep(0.5)
    assert any(b"/blip.png" in first_bytes for first_bytes in connections)


def test_libreoffice_reads_an_office_file_olefile_refuses(tmp_path: Path) -> None:
    """The `pdf` fallback that detection now leaves to such a file is real: LibreOffice's
    compound-file reader converts what olefile (and so the rebuild) will not open."""
    src = damaged_xls(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    converted = convert_to_pdf(src, work, Limits())
    with pikepdf.open(converted) as pdf:
        assert len(pdf.pages) >= 1
