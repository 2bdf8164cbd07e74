"""PDF化 / 画像化 through LibreOffice: real conversions, re-checked with independent readers."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pypdfium2
import pytest

from sanitizers.base import Limits, Sanitizer
from sanitizers.convert import OfficeToImage, OfficeToPdf, soffice_path
from sanitizers.errors import SanitizeError
from tests.sanitizers.contract import SanitizerContract

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
    """A loopback HTTP server that records every path requested from it."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
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


def test_conversion_fetches_nothing_the_document_links_to(
    tmp_path: Path, recording_server: tuple[str, list[str]]
) -> None:
    base, requests = recording_server
    fields = (f'<w:p><w:fldSimple w:instr=\' INCLUDEPICTURE "{base}/picture.png" \\d \'><w:r><w:t>x</w:t></w:r>'
              f"</w:fldSimple></w:p><w:p><w:fldSimple w:instr=' INCLUDETEXT \"{base}/text.docx\" '>"
              "<w:r><w:t>y</w:t></w:r></w:fldSimple></w:p>")  # fmt: skip
    src = tmp_path / "input"
    src.write_bytes(docx(paragraph(TEXT) + fields))
    OfficeToPdf().sanitize(src, tmp_path / "out.pdf", {}, Limits())
    assert requests == []


def test_a_document_libreoffice_cannot_read_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "input"
    src.write_bytes(docx("<w:p>")[:-40])  # a truncated package
    with pytest.raises(SanitizeError) as caught:
        OfficeToPdf().sanitize(src, tmp_path / "out.pdf", {}, Limits())
    assert caught.value.code in {"convert.failed", "type.malformed"}
    assert not (tmp_path / "out.pdf").exists()
