"""HTML: every active construct gone (re-checked by our own parse), Japanese charsets kept."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sanitizers.base import Limits, Sanitizer
from sanitizers.errors import SanitizeError
from sanitizers.html import HtmlRebuild, HtmlText
from tests.sanitizers.contract import RebuildContract, SanitizerContract

ACTIVE_PAGE = """<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">
<title>お知らせ</title><meta http-equiv="refresh" content="0;url=http://evil.example/">
<base href="http://evil.example/"><link rel="stylesheet" href="http://evil.example/x.css">
<style>body { background: url(http://evil.example/track) }</style>
<script>alert(1)</script></head>
<body onload="alert(2)"><p onclick="alert(3)">本文です。</p></body></html>"""


class TestHtmlContract(RebuildContract):
    garbage = ("random", "zeros")

    def make_sanitizer(self) -> Sanitizer:
        return HtmlRebuild()

    def make_good_input(self, tmp_path: Path) -> Path:
        path = tmp_path / "in.html"
        path.write_text(ACTIVE_PAGE, encoding="utf-8")
        return path


class TestHtmlTextContract(SanitizerContract):
    garbage = ("random", "zeros")

    def make_sanitizer(self) -> Sanitizer:
        return HtmlText()

    def make_good_input(self, tmp_path: Path) -> Path:
        return TestHtmlContract().make_good_input(tmp_path)


class ActiveContentFinder(HTMLParser):
    """An independent look at an output: anything that runs, loads or navigates by itself."""

    FORBIDDEN = frozenset(
        {"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
         "button", "base", "link", "svg", "math", "template", "textarea", "select"}
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in self.FORBIDDEN:
            self.found.append(tag)
        if tag == "meta" and "http-equiv" in values:
            self.found.append("meta http-equiv")
        for name, value in values.items():
            compact = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            if name.startswith("on"):
                self.found.append(name)
            if compact.startswith(("javascript:", "vbscript:", "data:text", "data:image/svg")):
                self.found.append(f"{name}={value}")
            if name == "style" and ("expression" in compact or "url(" in compact):
                self.found.append(f"style={value}")
            if name in {"srcdoc", "formaction", "action", "background", "srcset", "poster"}:
                self.found.append(name)

    def handle_comment(self, data: str) -> None:
        self.found.append("comment")


def active_content(html_text: str) -> list[str]:
    finder = ActiveContentFinder()
    finder.feed(html_text)
    finder.close()
    return finder.found


def rebuild(tmp_path: Path, page: str | bytes, **options: str | bool) -> tuple[bytes, dict[str, int]]:
    src = tmp_path / "in.html"
    src.write_bytes(page.encode() if isinstance(page, str) else page)
    dst = tmp_path / "out.html"
    report = HtmlRebuild().sanitize(src, dst, options, Limits())
    return dst.read_bytes(), {f.construct: f.count for f in report.findings if f.action == "removed"}


def test_the_independent_finder_sees_the_active_page() -> None:
    assert len(active_content(ACTIVE_PAGE)) >= 6  # the check below would be empty-handed otherwise


@pytest.mark.parametrize(
    ("fragment", "construct"),
    [
        ("<script>alert(1)</script>", "html.script"),
        ("<SCRIPT SRC=//evil.example/x.js></SCRIPT>", "html.script"),
        ('<img src="x.png" onerror="alert(1)">', "html.event_handler"),
        ("<svg><g onload=alert(1)></g></svg>", "html.other_element"),
        ('<a href="javascript:alert(1)">x</a>', "html.active_url"),
        ('<a href="JaVa&#09;ScRiPt:alert(1)">x</a>', "html.active_url"),
        ('<a href=" vbscript:msgbox(1)">x</a>', "html.active_url"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "html.active_url"),
        ('<iframe src="file:///etc/passwd"></iframe>', "html.embedded_content"),
        ('<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>', "html.embedded_content"),
        ('<object data="x.swf"></object>', "html.embedded_content"),
        ('<embed src="x.swf">', "html.embedded_content"),
        ('<applet code="X.class"></applet>', "html.embedded_content"),
        ('<form action="http://evil.example/"><input name=p><button>送信</button></form>', "html.form"),
        ('<meta http-equiv="refresh" content="0;url=http://evil.example/">', "html.meta_refresh"),
        ('<base href="http://evil.example/">', "html.base"),
        ('<link rel="stylesheet" href="http://evil.example/x.css">', "html.stylesheet"),
        ("<style>@import url(http://evil.example/x.css);</style>", "html.stylesheet"),
        ('<p style="width: expression(alert(1))">x</p>', "html.css"),
        ('<p style="background: url(http://evil.example/t.png)">x</p>', "html.css"),
        ('<p style="behavior: url(x.htc)">x</p>', "html.css"),
        ('<img src="http://evil.example/track.png">', "html.external_resource"),
        ('<img src="\\\\server\\share\\x.png">', "html.external_resource"),
        ('<img src="data:image/png;base64,iVBORw0KGgo=">', "html.active_url"),
        ('<a href="../secret.html">x</a>', "html.link"),
        ("<!--[if IE]><script>alert(1)</script><![endif]-->", "html.comment"),
    ],
)
def test_active_construct_is_removed(tmp_path: Path, fragment: str, construct: str) -> None:
    page = f"<html><body><p>前</p>{fragment}<p>後</p></body></html>"
    # the finder must see what is active, or the clean verdict below would prove nothing
    passive = (
        construct in {"html.external_resource", "html.link", "html.stylesheet"} or "image/png" in fragment
    )
    assert active_content(page) or passive
    out, removed = rebuild(tmp_path, page)
    text = out.decode("utf-8")
    assert active_content(text) == []
    assert "evil.example" not in text
    assert construct in removed
    assert "<p>前</p>" in text and "<p>後</p>" in text


def test_safe_markup_and_web_links_survive(tmp_path: Path) -> None:
    page = (
        '<table border="1"><tr><td colspan="2" style="color: red; font-weight: bold">表</td></tr></table>'
        '<a href="https://www.city.example.lg.jp/">市のサイト</a> <a href="#top">上へ</a>'
        '<font color="#ff0000" face="ＭＳ ゴシック">強調</font><ruby>漢<rt>かん</rt></ruby>'
    )
    out, removed = rebuild(tmp_path, page)
    text = out.decode()
    for kept in ('colspan="2"', 'style="color: red; font-weight: bold"', 'href="https://www.city.example.lg.jp/"',
                 'href="#top"', 'face="ＭＳ ゴシック"', "<rt>かん</rt>", 'rel="noopener noreferrer"'):  # fmt: skip
        assert kept in text
    assert removed == {}


def test_options_widen_or_narrow_what_is_kept(tmp_path: Path) -> None:
    page = (
        '<img src="data:image/png;base64,iVBORw0KGgo="><img src="data:image/svg+xml;base64,PHN2Zz4=">'
        '<img src="https://example.com/a.png"><a href="https://example.com/">x</a>'
    )
    out, _ = rebuild(tmp_path, page, allow_data_images=True, external_resources="keep", links="remove")
    text = out.decode()
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in text
    assert "svg+xml" not in text  # an SVG image can carry script: never kept
    assert 'src="https://example.com/a.png"' in text
    assert 'href="https://example.com/"' not in text
    assert active_content(text) == []


@pytest.mark.parametrize(
    ("encoding", "declaration", "label"),
    [("cp932", "", "Shift_JIS"), ("euc_jp", '<meta charset="EUC-JP">', "EUC-JP"),
     ("euc_jp", '<meta http-equiv="Content-Type" content="text/html; charset=euc-jp">', "EUC-JP"),
     ("iso2022_jp", '<meta charset="iso-2022-jp">', "ISO-2022-JP")],
)  # fmt: skip
def test_japanese_pages_keep_their_charset(
    tmp_path: Path, encoding: str, declaration: str, label: str
) -> None:
    body = "市民の皆様へ。令和六年度の予算案を公開します。"
    page = f"<html><head>{declaration}<title>予算</title></head><body><p>{body}</p><script>x()</script></body></html>"
    out, removed = rebuild(tmp_path, page.encode(encoding))
    text = out.decode(encoding)  # strict: mojibake would not decode
    assert f'<meta charset="{label}">' in text
    assert "<title>予算</title>" in text and f"<p>{body}</p>" in text
    assert removed == {"html.script": 1}


def test_a_character_the_charset_lacks_becomes_a_reference(tmp_path: Path) -> None:
    out, _ = rebuild(tmp_path, "<p>絵文字&#x1F600;です</p>".encode("cp932"))
    assert "<p>絵文字&#128512;です</p>" in out.decode("cp932")


def test_utf16_page_keeps_its_bom(tmp_path: Path) -> None:
    page = "<html><body><p>こんにちは</p><script>x</script></body></html>"
    out, _ = rebuild(tmp_path, codecs.BOM_UTF16_LE + page.encode("utf-16-le"))
    assert out.startswith(codecs.BOM_UTF16_LE)
    text = out[2:].decode("utf-16-le")
    assert "<p>こんにちは</p>" in text and active_content(text) == []


def test_encoding_option_writes_utf8(tmp_path: Path) -> None:
    out, _ = rebuild(tmp_path, "<p>日本語</p>".encode("cp932"), encoding="utf-8")
    assert '<meta charset="UTF-8">' in out.decode("utf-8") and "<p>日本語</p>" in out.decode("utf-8")


def test_unparsable_marked_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SanitizeError) as caught:
        rebuild(tmp_path, "<p>x</p><![bogus[ y ]]>")
    assert caught.value.code == "html.malformed"


def test_text_method_keeps_visible_text_only(tmp_path: Path) -> None:
    src = tmp_path / "in.html"
    page = (
        "<html><head><title>題名</title><style>p{}</style></head><body><h1>見出し</h1>"
        "<script>document.write('秘密')</script></script junk><p>本文 &amp; 続き</p>"
        "<table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )
    src.write_bytes(page.encode("euc_jp"))
    dst = tmp_path / "out.txt"
    report = HtmlText().sanitize(src, dst, {}, Limits())
    text = dst.read_bytes().decode("euc_jp")
    assert text.startswith("題名\n\n見出し\n")
    assert "本文 & 続き" in text and "\ta\tb" in text
    assert "秘密" not in text and "p{}" not in text
    assert report.output_type == "txt"


def test_text_method_falls_back_to_utf8_for_what_the_charset_lacks(tmp_path: Path) -> None:
    src = tmp_path / "in.html"
    src.write_bytes("<p>絵文字&#x1F600;</p>".encode("cp932"))
    dst = tmp_path / "out.txt"
    report = HtmlText().sanitize(src, dst, {}, Limits())
    assert dst.read_bytes().decode("utf-8") == "絵文字\U0001f600\n"
    assert [(f.construct, f.action) for f in report.findings] == [("text.encoding", "converted")]
